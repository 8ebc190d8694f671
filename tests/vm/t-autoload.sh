#!/usr/bin/env bash
# The module as installed on a real system: `make install` (its install-files half, with the
# module under test) puts it in /lib/modules/$(uname -r)/updates and runs depmod; it is
# never insmod'ed by hand. `httpcloop attach` makes the kernel load it through its generic
# netlink family alias (MODULE_ALIAS_GENL_FAMILY). modinfo shows a description, license, version, author and
# every parameter with its default, and the defaults are what the loaded module uses.
# (What make install-files puts in a DESTDIR, and make uninstall removes: host_install.)
# vm-timeout: 480
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

kver=$(uname -r)
check test -f "$HTTPCLOOP_KO"
check_eq "$kver" "$(modinfo -F vermagic "$HTTPCLOOP_KO" | cut -d' ' -f1)" "the module's vermagic"
check_eq /sbin/modprobe "$(cat /proc/sys/kernel/modprobe)" "kernel.modprobe"
check test ! -e /sys/module/httpcloop

log "modinfo"
check_modinfo "$HTTPCLOOP_KO"

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
check_parameter_defaults
log "autoload OK"
