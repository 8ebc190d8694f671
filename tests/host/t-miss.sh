#!/usr/bin/env bash
# The daemon's account of its misses (`status`: miss_count and miss_*_us, the figures
# bench/miss.sh reports): a read's own miss is counted once with each of its stages; a
# read of a cached block, and a read that joins a readahead already under way, are not
# misses of its own. The stages lie inside the reads they delayed: their sum is at most
# the time the reads took. Every byte read is compared with the source (bench/miss.py).
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-miss-test.XXXXXX)
cleanup rm -rf "$work"
BS=65536
BLOCKS=64
READS=40
MISS_PY=$(dirname "$0")/../../bench/miss.py

# Each block half random, half zeros: stored compressed, so every stage has work to do.
for ((b = 0; b < BLOCKS; b++)); do
	head -c $((BS / 2)) /dev/urandom
	head -c $((BS / 2)) /dev/zero
done >"$work/image.img"
"$HTTPCLOOP" mkimage --block-size 64K "$work/image.img" "$work/www/img" >/dev/null
start_nginx "$work/www" free >/dev/null
url=http://127.0.0.1:$NGINX_PORT/img/
mkdir -p "$work/fuse"
cleanup umount -q -l "$work/fuse"

# daemon_json: the daemon's status fields, as one JSON object.
daemon_json() { "$HTTPCLOOP" status --json "$work/fuse" | jq '.[0].daemon'; }
# field NAME: one of them.
field() { jq -r ".$1" "$work/daemon.json"; }
# unmount: unmount and wait for the daemon to end.
unmount() {
	local pid
	pid=$(daemon_json | jq -r .pid)
	umount "$work/fuse"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}

log "$READS reads of distinct blocks, empty cache, no readahead: $READS misses"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache" --no-readahead
python3 "$MISS_PY" "$work/fuse/image" "$work/image.img" "$BS" "$READS" 3 "$work/reads.json" ||
	fail "a read through FUSE differs from the source"
daemon_json >"$work/daemon.json"
check_eq "$READS" "$(field miss_count)" "misses counted"
check_eq "$READS" "$(field blocks_fetched)" "blocks fetched"
for stage in http hash decompress cache_write completion; do
	us=$(field "miss_${stage}_us")
	check test "$us" -gt 0 # a stage that was not timed reads 0
done
# Every stage of a miss lies inside the read that waited for it.
stages_us=$(jq '[to_entries[] | select(.key | test("^miss_.*_us$")) | .value] | add' "$work/daemon.json")
reads_us=$(jq '.latencies_ms | add * 1000 | floor' "$work/reads.json")
log "stages ${stages_us} us in reads of ${reads_us} us"
check test "$stages_us" -le "$reads_us"
human=$("$HTTPCLOOP" status "$work/fuse")
grep -q "misses:   $READS read on demand" <<<"$human" || fail "httpcloop status shows no misses line: $human"

log "the same reads again, from the cache: no new misses"
python3 "$MISS_PY" "$work/fuse/image" "$work/image.img" "$BS" "$READS" 3 "$work/reads.json" ||
	fail "a cached read through FUSE differs from the source"
daemon_json >"$work/daemon.json"
check_eq "$READS" "$(field miss_count)" "misses counted after cached reads"
unmount

log "a sequential read with readahead: the reads that join a readahead are not misses"
rm -rf "$work/cache"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache"
cmp "$work/fuse/image" "$work/image.img" || fail "the image read through FUSE differs from the source"
daemon_json >"$work/daemon.json"
check_eq "$BLOCKS" "$(field blocks_cached)" "blocks cached"
misses=$(field miss_count)
readahead=$(field readahead_blocks)
log "$misses misses, $readahead blocks by readahead"
check test "$readahead" -gt 0
check test "$((misses + readahead))" -le "$BLOCKS"
unmount
log "PASS"
