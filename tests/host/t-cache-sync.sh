#!/usr/bin/env bash
# A cache disk that loses written data (issue 11, finding 7): when fdatasync fails, the
# blocks of that commit are never recorded, not even by a later sync that succeeds (Linux
# reports a lost write only once); the daemon says so clearly, `status` shows it, and the
# blocks the cache does not hold fail to read instead of being cached again. After the disk
# is back, a new daemon on the same cache reads every byte right.
#
# The disk: ext4 on a loop device whose backing file is sparse on a small tmpfs. Filling the
# tmpfs makes the loop device's writes fail (ENOSPC), so ext4 loses the data it writes back
# and fdatasync reports it; removing the filler brings the disk back. Pages must line up:
# ext4 blocks of 4 KiB, no huge pages, a filler written 4 KiB at a time. Otherwise a write
# that starts in a page the backing file already has ends short, and loop completes a short
# write as a success: the data is lost with no error to report.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"
HTTPCLOOP=$HTTPCLOOP_SRC/build/userspace/httpcloop

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE, tmpfs and loop mounts)"
work=$(mktemp -d /tmp/httpcloop-cache-sync.XXXXXX)
[ -n "${KEEP:-}" ] || cleanup rm -rf "$work"

# 4 MiB of incompressible data in 64 KiB blocks.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/image"
"$HTTPCLOOP" mkimage --block-size 64K "$work/image" "$work/www/img" >/dev/null
start_nginx "$work/www" free >/dev/null
port=$NGINX_PORT
mkdir -p "$work/backing" "$work/cache" "$work/fuse"
mount -t tmpfs -o size=24M,huge=never hcbacking "$work/backing"
cleanup umount -l "$work/backing"
truncate -s 64M "$work/backing/disk"
mkfs.ext4 -q -b 4096 -O ^has_journal -e continue -E lazy_itable_init=0 "$work/backing/disk"
mount -o loop "$work/backing/disk" "$work/cache"
cleanup umount -q -l "$work/cache"

block() { dd if="$1" bs=64K skip="$2" count=1 status=none; }
read_block_right() {
	block "$work/fuse/image" "$1" >"$work/block" || return 1
	cmp -s "$work/block" <(block "$work/image" "$1") || fail "block $1: wrong bytes"
}
daemon_pid() { "$HTTPCLOOP" status --json "$work/fuse" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"]["pid"])'; }
# In the foreground, so that its log (syslog when it daemonizes) goes to a file.
start_fuse() {
	"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$port/img/" "$work/fuse" --cache "$work/cache" --no-readahead \
		--foreground 2>"$1" &
	wait_until 20 mountpoint -q "$work/fuse"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
stop_fuse() {
	local pid
	pid=$(daemon_pid)
	umount "$work/fuse"
	wait_until 20 gone "$pid"
}

start_fuse "$work/fuse1.log"
cleanup umount -q -l "$work/fuse"

log "blocks 0-15 are cached and recorded while the disk works"
for ((b = 0; b < 16; b++)); do read_block_right $b || fail "block $b failed on a working disk"; done

daemon_value() { "$HTTPCLOOP" status --json "$work/fuse" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"][sys.argv[1]])' "$1"; }
idle() { [ "$(daemon_value in_flight)" = 0 ]; }
wait_until 20 idle
sleep 1.5 # the commit after the last fetch (at most 1 s)
recorded=$(daemon_value blocks_cached)
log "$recorded blocks cached and recorded (the kernel's readahead asks for some)"

log "the disk loses writes: block 48 reads right from memory, then its sync fails"
# What is cached so far reaches the disk first: under load, the daemon's commit could come
# after the filler, and lose those writes instead of block 48's.
sync -f "$work/cache/"
dd if=/dev/zero of="$work/backing/filler" bs=4k status=none 2>/dev/null || true
read_block_right 48 || fail "block 48 failed before its sync"
wait_for_failure() { grep -q "has failed" "$work/fuse1.log"; }
wait_until 20 wait_for_failure
grep "has failed" "$work/fuse1.log"
if read_block_right 33 2>/dev/null; then
	fail "block 33 was cached after a lost write"
fi
rm "$work/backing/filler"

log "the disk is back, but the cache has failed: a new block fails, a cached one still reads"
if read_block_right 40 2>/dev/null; then
	fail "a block was cached again after a lost write"
fi
read_block_right 3 || fail "block 3, recorded before the failure, no longer reads"
status=$("$HTTPCLOOP" status --json "$work/fuse")
python3 -c '
import json, sys
d = json.loads(sys.argv[1])[0]["daemon"]
assert "cannot sync" in d["cache_failed"], d
assert d["integrity_errors"] == 0, d
' "$status" || fail "status does not show the failed cache: $status"
"$HTTPCLOOP" status "$work/fuse" | grep -q "cache FAILED: " || fail "human status does not show the failed cache"
stop_fuse

log "the disk remounted (page cache gone): a new daemon on the same cache reads every byte right"
umount "$work/cache"
mount -o loop "$work/backing/disk" "$work/cache"
start_fuse "$work/fuse2.log"
cached=$(daemon_value blocks_cached)
log "the new daemon finds $cached blocks recorded"
check_eq "$recorded" "$cached" "blocks recorded (more: the lost ones were recorded too)"
cmp "$work/fuse/image" "$work/image" || fail "wrong bytes after the failed sync"
grep -q "has failed" "$work/fuse2.log" && fail "the new daemon reports a failed cache"
stop_fuse
log "ok"
