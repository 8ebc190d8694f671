#!/usr/bin/env bash
# `make install-files` into a staging DESTDIR, as a package build uses it, and `make
# uninstall` from there: the module under /lib/modules/KVER/updates, the programs, the
# preboot, man pages, completion, units and initramfs-tools hook where cmake/install.cmake
# says, the units and httpcloop-mkpreboot naming the installed paths under PREFIX; then
# nothing left. (Installing for real, with depmod and the module loaded on demand, is the
# VM tests' t-autoload and t-deb.)
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

src=$HTTPCLOOP_SRC
ko=$src/kernel/httpcloop.ko
[ -f "$ko" ] || fail "no $ko: build the module first (make all)"
kver=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
stage=$(mktemp -d /tmp/httpcloop-install-test.XXXXXX)
cleanup rm -rf "$stage"
prefix=/opt/httpcloop-test

log "make install-files DESTDIR=$stage PREFIX=$prefix"
# install-files installs what the build configured: configure this prefix for the test,
# and the build's own back afterwards.
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$src/build/userspace/CMakeCache.txt")
[ -n "$configured" ] || fail "no CMAKE_INSTALL_PREFIX in $src/build/userspace/CMakeCache.txt: build first"
cmake "$src/build/userspace" -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cleanup cmake "$src/build/userspace" -DCMAKE_INSTALL_PREFIX="$configured"
make -C "$src" -s install-files KVER="$kver" KO="$ko" PREFIX="$prefix" DESTDIR="$stage" >/dev/null
for f in "lib/modules/$kver/updates/httpcloop.ko" \
	"${prefix#/}/bin/httpcloop" "${prefix#/}/bin/httpcloop-mkpreboot" "${prefix#/}/libexec/httpcloop/httpcloop-boot" \
	"${prefix#/}/share/man/man8/httpcloop.8" "${prefix#/}/share/man/man8/httpcloop-boot.8" \
	"${prefix#/}/share/man/man8/httpcloop-mkpreboot.8" "${prefix#/}/share/bash-completion/completions/httpcloop" \
	usr/share/initramfs-tools/hooks/httpcloop usr/share/initramfs-tools/scripts/httpcloop \
	usr/share/initramfs-tools/scripts/init-top/httpcloop; do
	check test -s "$stage/$f"
done
for f in bin/httpcloop bin/httpcloop-mkpreboot libexec/httpcloop/httpcloop-boot; do
	check test -x "$stage$prefix/$f"
done
cmp "$stage$prefix/bin/httpcloop" "$src/build/userspace/httpcloop" || fail "the installed httpcloop is not the one built"
for unit in httpcloop@.service httpcloop-fuse@.service; do
	path=$(find "$stage" -name "$unit")
	check test -n "$path"
	grep -q "^ExecStart=$prefix/bin/httpcloop " "$path" || fail "the installed $unit does not run $prefix/bin/httpcloop"
done
grep -q "hcboot=\"$prefix/libexec/httpcloop/httpcloop-boot\"" "$stage$prefix/bin/httpcloop-mkpreboot" ||
	fail "the installed httpcloop-mkpreboot does not default to the installed httpcloop-boot"
"$stage$prefix/bin/httpcloop-mkpreboot" --help | grep -q "default $prefix/libexec/httpcloop/httpcloop-boot" ||
	fail "httpcloop-mkpreboot --help does not name the installed httpcloop-boot"

log "make uninstall DESTDIR=$stage"
make -C "$src" -s uninstall KVER="$kver" DESTDIR="$stage"
check_eq "" "$(find "$stage" -type f)" "files left in DESTDIR by make uninstall"
log "install OK"
