#!/usr/bin/env bash
# The fuse-floor section of `make bench` (issue 12, item 3): how near the FUSE variant's
# warm reads come to what FUSE itself allows on this kernel. In each round, on the host,
# the warm workloads (sequential 1 MiB, random 4 KiB at queue depth 1 and 16, the boot
# trace; fio, O_DIRECT, every 4 KiB verified) through:
#   local  the plaintext image file in tmpfs (the limit the FUSE targets are set against)
#   fuse   httpcloop mount-fuse --no-passthrough with its cache full: every read served
#   passthrough  httpcloop mount-fuse with its cache full, as users run it: FUSE
#          passthrough (Linux >= 6.9, the libfuse scripts/libfuse builds), the kernel
#          reading the cache file itself; its state is recorded (it may be off, and why)
#   floor  bench/micro/fuse_floor.cpp: a FUSE server that only hands the kernel the same
#          file's descriptor, with mount-fuse's options (max_read read from its mount)
# Results to BENCH_WORK/raw/fusefloor-passes.tsv (bench/fusefloor_report.py).
# Environment: BENCH_WORK (www/ and trace.iolog from bench/run), BENCH_ROUNDS (at most),
# BENCH_FUSE_FLOOR_BUDGET (seconds, 120), BENCH_RAND_IOS, BENCH_PASS_SECONDS, HTTPCLOOP_SRC,
# FUSE_FLOOR (the program).
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_ENV=fusefloor
RAW=$BENCH_WORK/raw
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_FUSE_FLOOR_BUDGET:-120}
RAND_IOS=${BENCH_RAND_IOS:-500}
TRACE=$BENCH_WORK/trace.iolog
FLOOR=${FUSE_FLOOR:?FUSE_FLOOR: the httpcloop_fuse_floor program}
WARM=(seq_warm rand_warm rand16_warm trace_warm)
W=$(mktemp -d /dev/shm/httpcloop-bench-floor.XXXXXX)
cleanup rm -rf "$W"
mkdir -p "$RAW" "$W/fuse" "$W/passthrough" "$W/floor"
rm -f "$RAW/fusefloor-"*
IMAGE=$W/image.img
cp "$BENCH_WORK/www/image.img" "$IMAGE"
IMAGE_BYTES=$(stat -c %s "$IMAGE")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NGINX_LOG_FORMAT=$BENCH_LOG_FORMAT start_nginx "$BENCH_WORK/www" "$PORT" >/dev/null
drop_page_cache() { :; } # tmpfs and O_DIRECT

# mount-fuse with a full cache, for every round: served, and as users run it (passthrough).
# Each has its own cache (a cache serves one process).
"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$PORT/img/" "$W/fuse" --cache "$W/cache" --no-passthrough
cleanup umount -l "$W/fuse"
fill_cache "$W/fuse/image"
FUSE_PID=$("$HTTPCLOOP" status --json "$W/fuse" | jq -r '[.. | .pid? | numbers][0]')
"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$PORT/img/" "$W/passthrough" --cache "$W/cache-passthrough"
cleanup umount -l "$W/passthrough"
fill_cache "$W/passthrough/image"
PASSTHROUGH_PID=$("$HTTPCLOOP" status --json "$W/passthrough" | jq -r '[.. | .pid? | numbers][0]')
passthrough_state() { "$HTTPCLOOP" status --json "$W/passthrough" | jq -r '.[0].daemon.passthrough'; }
cmp "$W/passthrough/image" "$IMAGE" || fail "mount-fuse's image differs from the source"
log "mount-fuse's passthrough: $(passthrough_state)"
MAX_READ=$(awk -v m="$W/fuse" '$2 == m { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] ~ /^max_read=/) { sub(/^max_read=/, "", o[i]); print o[i] } }' /proc/mounts)
[ -n "$MAX_READ" ] || fail "no max_read in mount-fuse's mount options"

# The floor serves the same plaintext file that is the limit.
"$FLOOR" "$IMAGE" "$W/floor" "$MAX_READ" &
FLOOR_PID=$!
cleanup umount -l "$W/floor"
wait_until 10 test -f "$W/floor/image"
log "mount-fuse and the floor, both with max_read=$MAX_READ"

for ((ROUND = 1; ; ROUND++)); do
	rounds_left "$ROUND" "$ROUNDS" "$BUDGET" || break
	for w in "${WARM[@]}"; do
		bench_pass local "$w" "$IMAGE"
		bench_pass fuse "$w" "$W/fuse/image" "$FUSE_PID"
		bench_pass passthrough "$w" "$W/passthrough/image" "$PASSTHROUGH_PID"
		bench_pass floor "$w" "$W/floor/image" "$FLOOR_PID"
	done
done
requests=$(awk '/GET \/img\/blocks\// { n++ } END { print n + 0 }' "$NGINX_ACCESS_LOG")
pt_status=$("$HTTPCLOOP" status --json "$W/passthrough")
{
	echo "fuse_floor_max_read=$MAX_READ"
	echo "fuse_floor_block_requests=$requests"
	echo "fuse_floor_passthrough=$(jq -r '.[0].daemon.passthrough' <<<"$pt_status")"
	echo "fuse_floor_passthrough_opens=$(jq -r '.[0].daemon.passthrough_opens' <<<"$pt_status")"
	echo "fuse_floor_passthrough_served_reads=$(jq -r '.[0].daemon.reads' <<<"$pt_status")"
	echo "fuse_floor_kernel=$(uname -r)"
} >"$RAW/fusefloor-env.txt"
log "fuse floor done"
