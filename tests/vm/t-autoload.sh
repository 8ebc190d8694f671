#!/usr/bin/env bash
# The module as installed on a real system: `make install` (its install-files half, with the
# module under test) puts it in /lib/modules/$(uname -r)/updates and runs depmod; it is
# never insmod'ed by hand. `httpcloop attach` makes the kernel load it through its generic
# netlink family alias (MODULE_ALIAS_GENL_FAMILY). modinfo shows a description, license, version, author and
# every parameter with its default, and the defaults are what the loaded module uses.
# vm-timeout: 480
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

kver=$(uname -r)
check test -f "$HTTPCLOOP_KO"
check_eq "$kver" "$(modinfo -F vermagic "$HTTPCLOOP_KO" | cut -d' ' -f1)" "the module's vermagic"
check_eq /sbin/modprobe "$(cat /proc/sys/kernel/modprobe)" "kernel.modprobe"
check test ! -e /sys/module/httpcloop

log "modinfo"
modinfo "$HTTPCLOOP_KO"
for field in description author version; do
	[ -n "$(modinfo -F "$field" "$HTTPCLOOP_KO")" ] || fail "modinfo shows no $field"
done
check_eq GPL "$(modinfo -F license "$HTTPCLOOP_KO")" "license"
modinfo -F alias "$HTTPCLOOP_KO" | grep -qx 'net-pf-16-proto-16-family-httpcloop' ||
	fail "no generic netlink family alias: $(modinfo -F alias "$HTTPCLOOP_KO")"
# "name:description (type)", each description ending in "Default: VALUE".
declare -A defaults=()
while IFS= read -r parm; do
	name=${parm%%:*}
	[[ $parm =~ Default:\ ([^ ]+)\ \([a-z]+\)$ ]] || fail "parameter $name has no default in its description: $parm"
	defaults[$name]=${BASH_REMATCH[1]}
done < <(modinfo -F parm "$HTTPCLOOP_KO")
[ ${#defaults[@]} -gt 0 ] || fail "modinfo shows no parameters"

small_module_tree
log "make install-files (make install without the build): /lib/modules/$kver/updates, depmod"
start=$SECONDS
make -C "$HTTPCLOOP_SRC" --no-print-directory install-files KVER="$kver" KO="$HTTPCLOOP_KO"
log "make install-files took $((SECONDS - start))s"
check_eq "/lib/modules/$kver/updates/httpcloop.ko" "$(modinfo -n httpcloop)" "modinfo -n httpcloop"
check test -x /usr/local/bin/httpcloop
cleanup modprobe -r -q httpcloop
modprobe ext4 || true

log "attach (the installed program) loads the module on demand"
HTTPCLOOP=/usr/local/bin/httpcloop attach_smoke
check test -d /sys/module/httpcloop
grep -q '^httpcloop ' /proc/modules || fail "httpcloop is not in /proc/modules"

log "every parameter is in sysfs, at its documented default"
for name in /sys/module/httpcloop/parameters/*; do
	name=${name##*/}
	[ -n "${defaults[$name]:-}" ] || fail "parameter $name is not described by modinfo"
	check_eq "${defaults[$name]}" "$(cat "/sys/module/httpcloop/parameters/$name")" "parameter $name"
	unset "defaults[$name]"
done
[ ${#defaults[@]} -eq 0 ] || fail "modinfo describes parameters the module lacks: ${!defaults[*]}"

log "make uninstall removes what make install-files put in a DESTDIR"
modprobe -r httpcloop
# A staging tree, as a package build uses it.
make -C "$HTTPCLOOP_SRC" -s install-files KVER="$kver" KO="$HTTPCLOOP_KO" DESTDIR=/tmp/stage
check test -f "/tmp/stage/lib/modules/$kver/updates/httpcloop.ko"
check test -x /tmp/stage/usr/local/bin/httpcloop
check test -s /tmp/stage/usr/local/share/man/man8/httpcloop.8
check test -s /tmp/stage/usr/local/share/man/man8/httpcloop-boot.8
unit=$(find /tmp/stage -name 'httpcloop@.service')
check test -n "$unit"
grep -q '^ExecStart=/usr/local/bin/httpcloop attach ' "$unit" || fail "the installed unit does not run /usr/local/bin/httpcloop"
make -C "$HTTPCLOOP_SRC" -s uninstall KVER="$kver" DESTDIR=/tmp/stage
check_eq "" "$(find /tmp/stage -type f)" "files left in DESTDIR by make uninstall"
log "autoload OK"
