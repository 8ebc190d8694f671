#!/usr/bin/env bash
# The Debian packages as a user installs them (build/deb, from `make deb`): dpkg -i of
# httpcloop-dkms and httpcloop. DKMS builds the module for the running kernel from the
# package's /usr/src/httpcloop-VERSION; modinfo describes that build; the installed
# program attaches an image, the kernel loading the module through its netlink alias,
# every byte is compared and every parameter is at its documented default; the installed man pages,
# completion, units, preboot and httpcloop-mkpreboot are there and work, the initramfs
# trigger fires; then dpkg --purge leaves nothing
# behind: no file of either package, no DKMS registration, no module.
# The DKMS build under TCG takes 3-4 minutes (gcc is CPU-bound there), so
# scripts/run-tests runs this test on Debian 12's kernel only; the other kernels build the
# same dkms.conf with their own DKMS in a build root (scripts/build-module --dkms).
# vm-timeout: 600
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

kver=$(uname -r)
debs=${HTTPCLOOP_DEB_DIR:-$HTTPCLOOP_SRC/build/deb}
shopt -s nullglob
programs=("$debs"/httpcloop_*_*.deb)
dkms_debs=("$debs"/httpcloop-dkms_*_all.deb)
shopt -u nullglob
if [ ${#programs[@]} -ne 1 ] || [ ${#dkms_debs[@]} -ne 1 ]; then
	fail "expected one httpcloop and one httpcloop-dkms package in $debs: run make deb first"
fi
program=${programs[0]}
dkms_deb=${dkms_debs[0]}
version=$(dpkg-deb -f "$dkms_deb" Version)
module_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$HTTPCLOOP_SRC/dkms.conf")
command -v dkms >/dev/null || fail "no dkms (scripts/install-deps installs it)"
check test -e "/lib/modules/$kver/build/Makefile"

log "clean state"
for p in httpcloop httpcloop-dkms; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && fail "$p is already installed"
done
check_eq "" "$(dkms status httpcloop)" "dkms status before"
check test ! -e /sys/module/httpcloop
modinfo -n httpcloop 2>/dev/null && fail "a httpcloop module is already installed"
# The trigger runs update-initramfs, which is told not to rebuild: under TCG one rebuild
# takes about five minutes. The hook itself builds the root-boot tests' initramfs images
# (tests/boot, scripts/mkroot).
sed -i 's/^update_initramfs=.*/update_initramfs=no/' /etc/initramfs-tools/update-initramfs.conf
# Nor does man-db's trigger re-index every manual page (minutes under TCG): the pages
# themselves are checked below.
rm -f /var/lib/man-db/auto-update

small_module_tree
log "dpkg -i $(basename "$dkms_deb") $(basename "$program")"
start=$SECONDS
# The guest's tree is a writable in-memory overlay: nothing reaches the host.
DEBIAN_FRONTEND=noninteractive dpkg -i "$dkms_deb" "$program" 2>&1 | tee /tmp/dpkg-install.log
purge() { DEBIAN_FRONTEND=noninteractive dpkg --purge httpcloop httpcloop-dkms >/dev/null 2>&1; }
cleanup purge
log "installed in $((SECONDS - start))s"
for p in httpcloop httpcloop-dkms; do
	check_eq "install ok installed $version" "$(dpkg-query -W -f='${Status} ${Version}' "$p")" "$p's state"
done
files=$(dpkg -L httpcloop httpcloop-dkms | sort -u)

log "DKMS built the module for $kver"
dkms status httpcloop
dkms status httpcloop | grep -q "^httpcloop/$module_version, $kver, [^:]*: installed" ||
	fail "dkms does not list httpcloop/$module_version as installed for $kver"
case $(modinfo -n httpcloop) in
"/lib/modules/$kver/updates/dkms/httpcloop.ko"*) ;;
*) fail "modprobe would load $(modinfo -n httpcloop), not the DKMS build" ;;
esac
check_eq "$module_version" "$(modinfo -F version httpcloop)" "version of the DKMS build"

check_modinfo httpcloop

log "the installed program attaches (the kernel loads the module through its netlink alias)"
modprobe ext4 || true
check test ! -e /sys/module/httpcloop
cleanup modprobe -r -q httpcloop
check_eq /usr/bin/httpcloop "$(command -v httpcloop)" "httpcloop on PATH"
HTTPCLOOP=/usr/bin/httpcloop attach_smoke
check test -d /sys/module/httpcloop
log "every parameter is in sysfs, at its documented default"
check_parameter_defaults
rmmod httpcloop

log "man pages, completion, units, preboot"
for page in httpcloop httpcloop-boot httpcloop-mkpreboot; do
	check test -s "/usr/share/man/man8/$page.8.gz"
	zcat "/usr/share/man/man8/$page.8.gz" | grep -q "^\.TH ${page^^} 8" || fail "$page.8 has no .TH line"
done
check test -s /usr/share/bash-completion/completions/httpcloop
bash -c 'source /usr/share/bash-completion/completions/httpcloop && declare -F _httpcloop' >/dev/null ||
	fail "the installed completion defines no _httpcloop"
for unit in httpcloop@.service httpcloop-fuse@.service; do
	grep -q '^ExecStart=/usr/bin/httpcloop ' "/lib/systemd/system/$unit" ||
		fail "$unit does not run /usr/bin/httpcloop"
done
check /usr/libexec/httpcloop/httpcloop-boot --help >/dev/null
httpcloop-mkpreboot --no-modules --cacert none /tmp/preboot.img >/tmp/mkpreboot.log
mkdir /tmp/preboot && (cd /tmp/preboot && zcat /tmp/preboot.img | cpio -id --quiet)
boot_in_initrd=$(find /tmp/preboot -name httpcloop-boot -type f | head -n1)
[ -n "$boot_in_initrd" ] || fail "httpcloop-mkpreboot's initramfs has no httpcloop-boot"
cmp "$boot_in_initrd" /usr/libexec/httpcloop/httpcloop-boot ||
	fail "httpcloop-mkpreboot did not take the installed httpcloop-boot"

log "the package activates initramfs-tools' trigger"
grep -q '^Processing triggers for initramfs-tools' /tmp/dpkg-install.log ||
	fail "installing httpcloop did not trigger update-initramfs"

log "dpkg --purge leaves nothing behind"
start=$SECONDS
DEBIAN_FRONTEND=noninteractive dpkg --purge httpcloop httpcloop-dkms
log "purged in $((SECONDS - start))s"
for p in httpcloop httpcloop-dkms; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed' && fail "$p is still installed"
done
left=""
while read -r f; do
	[ -d "$f" ] && continue # directories other packages share (/usr/bin, /lib/systemd/system)
	[ -e "$f" ] && left="$left $f"
done <<<"$files"
[ -z "$left" ] || fail "files left after purge:$left"
for d in /usr/libexec/httpcloop /usr/share/doc/httpcloop /usr/share/doc/httpcloop-dkms; do
	[ ! -e "$d" ] || fail "$d is left after purge"
done
check_eq "" "$(dkms status httpcloop)" "dkms status after purge"
check test ! -e "/usr/src/httpcloop-$module_version"
check test ! -e /var/lib/dkms/httpcloop
modinfo -n httpcloop 2>/dev/null && fail "the module is still installed after purge"
log "deb OK"
