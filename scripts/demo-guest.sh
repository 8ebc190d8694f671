#!/usr/bin/env bash
# The demo's guest half (see scripts/demo): runs as root inside the test VM.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$HTTPCLOOP_SRC/tests/vm/lib.sh"

say() { printf '\n$ %s\n' "$*"; }
run() { say "$*"; "$@"; }

load_module

# A small "live system": a directory tree with some text and a larger binary.
src=/tmp/demo-root
mkdir -p "$src/etc" "$src/usr/share/doc/httpcloop" "$src/boot"
cp /etc/os-release "$src/etc/os-release"
cp "$HTTPCLOOP_SRC/docs/format.md" "$src/usr/share/doc/httpcloop/"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$src/boot/initrd.img"
truncate -s 64M /tmp/demo.ext4
mkfs.ext4 -q -F -d "$src" /tmp/demo.ext4

run "$HTTPCLOOP" mkimage /tmp/demo.ext4 /srv/www/demo
start_nginx /srv/www 8080 >/dev/null
run "$HTTPCLOOP" info http://127.0.0.1:8080/demo/
say 'dev=$(httpcloop attach http://127.0.0.1:8080/demo/ --cache /var/cache/httpcloop)'
dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/demo/ --cache /var/cache/httpcloop)
echo "$dev"
mkdir -p /mnt/demo
run mount -o ro "$dev" /mnt/demo
run ls -lR /mnt/demo
run head -n 3 /mnt/demo/etc/os-release
run cmp /mnt/demo/boot/initrd.img "$src/boot/initrd.img"
echo "identical"
run "$HTTPCLOOP" status "$dev"
echo "(nginx served $(http_requests_count) HTTP requests)"
run umount /mnt/demo
run "$HTTPCLOOP" detach "$dev"
