#!/usr/bin/env bash
# The miss-latency section of `make bench` (issue 12, item 4), host half: how long a 4 KiB
# read of a block that is not cached takes through the FUSE variant, and where the time
# goes. mount-fuse of the bench image with an empty cache and no readahead; bench/miss.py
# reads 4 KiB in BENCH_MISSES (500) distinct blocks, one at a time, each compared with the
# plaintext; then the daemon's own account of those misses (`status`: miss_*_us, sums over
# them). The VM half (the kernel driver) is in bench/vm-guest.sh. Raw figures to
# BENCH_WORK/raw/miss-host.json (bench/miss_report.py).
# Environment: BENCH_WORK (with www/ from bench/run), BENCH_MISSES, HTTPCLOOP_SRC.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"

MISSES=${BENCH_MISSES:-500}
RAW=$BENCH_WORK/raw
W=$(mktemp -d /dev/shm/httpcloop-bench-miss.XXXXXX)
cleanup rm -rf "$W"
mkdir -p "$RAW" "$W/fuse"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_nginx "$BENCH_WORK/www" "$PORT" >/dev/null
BLOCK_SIZE=$("$HTTPCLOOP" info --json "$BENCH_WORK/www/img" | jq -r .block_size)

"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$PORT/img/" "$W/fuse" --cache "$W/cache" --no-readahead
cleanup umount -l "$W/fuse"
python3 "$(dirname "$0")/miss.py" "$W/fuse/image" "$BENCH_WORK/www/image.img" "$BLOCK_SIZE" "$MISSES" 7 "$W/reads.json"
"$HTTPCLOOP" status --json "$W/fuse" | jq '[.. | objects | select(has("miss_count"))][0]' >"$W/daemon.json"
jq -s '{where: "host", path: "mount-fuse (FUSE)", reads: .[0], daemon: .[1]}' "$W/reads.json" "$W/daemon.json" \
	>"$RAW/miss-host.json"
jq -r '"host: \(.reads.latencies_ms | length) misses, daemon counted \(.daemon.miss_count)"' "$RAW/miss-host.json"
