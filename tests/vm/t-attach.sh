#!/usr/bin/env bash
# End to end through the kernel driver: an ext4 image published by nginx, attached as
# /dev/httpcloop0, mounted, every file and every byte compared with the source; then
# detached and attached again with the same cache, which must cost zero HTTP requests.
# vm-timeout: 300
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

load_module dead_timeout=5

# A file tree with a file spanning many blocks, a sparse file, compressible text and
# small files; an image whose size is not a multiple of the block size.
src=/tmp/src
mkdir -p "$src/dir/sub"
head -c $((5 * 1024 * 1024 + 12345)) /dev/urandom >"$src/big.bin"
seq 1 400000 >"$src/numbers.txt"
truncate -s 16M "$src/sparse.img"
printf 'in the middle of a hole' | dd of="$src/sparse.img" bs=1 seek=$((8 * 1024 * 1024)) conv=notrunc status=none
for i in $(seq 1 50); do echo "file $i" >"$src/dir/sub/f$i"; done
cp "$src/big.bin" "$src/dir/big-copy.bin" # the same blocks again: dedup

image=/tmp/disk.ext4
truncate -s $((40 * 1024 * 1024 + 68 * 1024)) "$image"
mkfs.ext4 -q -F -b 4096 -d "$src" "$image"
image_size=$(stat -c %s "$image")

www=/tmp/www
mkdir -p "$www"
"$HTTPCLOOP" mkimage "$image" "$www/img"
"$HTTPCLOOP" info "$www/img"
start_nginx "$www" 8080
url=http://127.0.0.1:8080/img/

log "attach"
dev=$("$HTTPCLOOP" attach "$url" --cache /tmp/cache)
check_eq /dev/httpcloop0 "$dev" "device"
cleanup "$HTTPCLOOP" detach "$dev"
check test -b "$dev"
check_eq "$image_size" "$(blockdev --getsize64 "$dev")" "device size"
check_eq 1 "$(cat /sys/block/httpcloop0/ro)" "read-only flag"
# Every sysfs file is documented (docs/sysfs-abi.md), and every documented one exists.
documented=$(sed -n 's|^What:[[:space:]]*/sys/block/httpcloopN/httpcloop/||p' "$HTTPCLOOP_SRC/docs/sysfs-abi.md" | sort)
check_eq "$documented" "$(ls /sys/block/httpcloop0/httpcloop | sort)" "sysfs files against docs/sysfs-abi.md"

log "mount and compare every file"
mkdir -p /mnt/img
mount -o ro "$dev" /mnt/img
cleanup umount -q /mnt/img
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >/tmp/want.sha
(cd /mnt/img && sha256sum -c --quiet /tmp/want.sha) || fail "a file read through $dev differs from the source"
check_eq "$(cd "$src" && find . | sort)" "$(cd /mnt/img && find . ! -path './lost+found*' | sort)" "file list"

log "detach of a mounted device is refused"
if err=$("$HTTPCLOOP" detach "$dev" 2>&1); then
	fail "detach of a mounted device succeeded"
fi
grep -q "in use" <<<"$err" || fail "unclear error for a busy device: $err"
if dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	fail "a write to the read-only device succeeded"
fi
umount /mnt/img

log "raw device equals the image, byte for byte"
cmp "$dev" "$image" || fail "raw device differs from the image"
"$HTTPCLOOP" status "$dev"
status=$("$HTTPCLOOP" status --json "$dev")
python3 -c '
import json, sys
s = json.loads(sys.argv[1])[0]
k, d = s["kernel"], s["daemon"]
assert k["blocks_present"] == k["blocks_total"], s
assert d["blocks_cached"] == d["blocks_total"], s
assert d["http_requests"] >= 1 and d["http_errors"] == 0 and d["blocks_failed"] == 0, s
assert k["io_errors"] == 0, s
' "$status" || fail "unexpected status: $status"
requests=$(http_requests_count)
block_requests=$(grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG")
log "cold pass: $requests HTTP requests, $block_requests for blocks"
grep -qv ' 200 ' "$NGINX_ACCESS_LOG" && fail "non-200 requests: $(grep -v ' 200 ' "$NGINX_ACCESS_LOG")"

log "detach; the daemon exits"
pid=$(cat /sys/block/httpcloop0/httpcloop/daemon_pid)
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0
wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"

log "attach again with the same cache: zero HTTP requests"
dev=$("$HTTPCLOOP" attach "$url" --cache /tmp/cache)
check_eq /dev/httpcloop0 "$dev" "device"
echo 3 >/proc/sys/vm/drop_caches
cmp "$dev" "$image" || fail "raw device differs from the image (warm cache)"
mount -o ro "$dev" /mnt/img
(cd /mnt/img && sha256sum -c --quiet /tmp/want.sha) || fail "a file differs (warm cache)"
umount /mnt/img
# The manifest is fetched again (it may have changed); no block is.
wait_requests $((requests + 1))
sleep 0.5
check_eq "$((requests + 1))" "$(http_requests_count)" "HTTP requests after a warm re-attach"
check_eq "$block_requests" "$(grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG")" "block requests after a warm re-attach"
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0
log "attach OK"
