#!/usr/bin/env bash
# A full cache disk (issue 11, finding 7): blocks that cannot be kept fail their reads with
# EIO and are reported as cache errors, naming the disk; they are not counted as integrity
# errors, the mirror is not blamed (not benched), and what fits reads right.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"
HTTPCLOOP=$HTTPCLOOP_SRC/build/userspace/httpcloop

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE and tmpfs mounts)"
work=$(mktemp -d /tmp/httpcloop-cache-full.XXXXXX)
cleanup rm -rf "$work"

# 4 MiB of incompressible data in 64 KiB blocks; a cache file system of 1 MiB.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/image"
"$HTTPCLOOP" mkimage --block-size 64K "$work/image" "$work/www/img" >/dev/null
start_nginx "$work/www" free >/dev/null
port=$NGINX_PORT
mkdir -p "$work/cache" "$work/fuse"
mount -t tmpfs -o size=1M hccache "$work/cache"
cleanup umount -l "$work/cache"
"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$port/img/" "$work/fuse" --cache "$work/cache" --no-readahead
cleanup umount -q -l "$work/fuse"

log "read every block: what fits in the cache reads right, the rest fails with EIO"
good=0
bad=0
for ((b = 0; b < 64; b++)); do
	if dd if="$work/fuse/image" of="$work/block" bs=64K skip=$b count=1 status=none 2>/dev/null; then
		cmp -s "$work/block" <(dd if="$work/image" bs=64K skip=$b count=1 status=none) || fail "block $b: wrong bytes"
		good=$((good + 1))
	else
		bad=$((bad + 1))
	fi
done
log "$good blocks read, $bad failed"
[ "$good" -gt 0 ] || fail "no block fitted in the cache"
[ "$bad" -gt 0 ] || fail "a 1 MiB cache held a 4 MiB image"
status=$("$HTTPCLOOP" status --json "$work/fuse")
python3 -c '
import json, sys
d = json.loads(sys.argv[1])[0]["daemon"]
assert d["cache_errors"] > 0, d
assert d["integrity_errors"] == 0, d
for i in range(d.get("mirrors", 1)):
    assert d.get("mirror.%d.down" % i, 0) == 0, d
' "$status" || fail "unexpected status: $status"
"$HTTPCLOOP" status "$work/fuse" | grep -q "cache errors: " || fail "human status does not show the cache errors"
