#!/usr/bin/env bash
# DKMS from a clean state, as a distribution user would install the module:
# `make dkms-install` (dkms add, build and install against the running kernel's
# headers), then `modprobe httpcloop`, an end-to-end attach, and `make dkms-uninstall`
# leaving nothing behind. The build under TCG takes 3-4 minutes (gcc is CPU-bound there),
# so scripts/run-tests runs this test on Debian 12's kernel only.
# vm-timeout: 600
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

kver=$(uname -r)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$HTTPCLOOP_SRC/dkms.conf")
command -v dkms >/dev/null || fail "no dkms (scripts/install-deps installs it)"
check test -e "/lib/modules/$kver/build/Makefile"

log "clean state"
check_eq "" "$(dkms status httpcloop)" "dkms status before"
check test ! -e "/usr/src/httpcloop-$version"
check test ! -e /sys/module/httpcloop
modinfo -n httpcloop 2>/dev/null && fail "a httpcloop module is already installed"

small_module_tree
log "make dkms-install"
start=$SECONDS
# The guest's tree is a writable in-memory overlay: the build leaves nothing on the host.
make -C "$HTTPCLOOP_SRC" --no-print-directory dkms-install
dkms_cleanup() { [ -z "$(dkms status httpcloop)" ] || make -C "$HTTPCLOOP_SRC" -s dkms-uninstall; }
cleanup dkms_cleanup
log "dkms add/build/install took $((SECONDS - start))s"
dkms status httpcloop
dkms status httpcloop | grep -q "^httpcloop/$version, $kver, [^:]*: installed" ||
	fail "dkms does not list httpcloop/$version as installed for $kver"
installed=$(modinfo -n httpcloop)
case $installed in
"/lib/modules/$kver/updates/dkms/httpcloop.ko"*) ;;
*) fail "modprobe would load $installed, not the DKMS build" ;;
esac
check_eq "$version" "$(modinfo -F version httpcloop)" "version of the DKMS build"

log "modprobe httpcloop"
modprobe ext4 || true
modprobe httpcloop
cleanup modprobe -r -q httpcloop
check test -d /sys/module/httpcloop
attach_smoke
rmmod httpcloop

log "make dkms-uninstall"
make -C "$HTTPCLOOP_SRC" --no-print-directory dkms-uninstall
check_eq "" "$(dkms status httpcloop)" "dkms status after uninstall"
check test ! -e "/usr/src/httpcloop-$version"
modinfo -n httpcloop 2>/dev/null && fail "the module is still installed after dkms-uninstall"
log "dkms OK"
