#!/usr/bin/env bash
# The host half of `make bench` (bench/run runs it as root): the same image and workloads
# on the host's own kernel, where the kernel driver cannot be loaded:
#   local    the plaintext image file, read with O_DIRECT (the limit)
#   fuse     httpcloop mount-fuse, MOUNTPOINT/image read with O_DIRECT
#   httpfs2  httpfs2 (FUSE) of the plaintext over HTTP, read with O_DIRECT
#   curl     one GET of the plaintext image (sequential only) into tmpfs, then hashed
# nginx serves BENCH_WORK/www on a free 127.0.0.1 port. As in the VM, the local image and
# httpcloop's cache directory share one storage, a tmpfs (/dev/shm), so that the limit is
# memory and not this host's disk (nginx serves from the page cache too); O_DIRECT keeps
# the page cache of the FUSE files out of the way, so no pass needs the host's page cache
# dropped (it is shared with other work).
#
# Environment: BENCH_WORK, BENCH_ROUNDS (at most), BENCH_HOST_BUDGET, BENCH_RAND_IOS,
# BENCH_PASS_SECONDS, HTTPCLOOP_SRC; results to BENCH_WORK/raw.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_ENV=host
RAW=$BENCH_WORK/raw
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_HOST_BUDGET:-120} # seconds: see rounds_left
RAND_IOS=${BENCH_RAND_IOS:-500}
TRACE=$BENCH_WORK/trace.iolog
W=$(mktemp -d /dev/shm/httpcloop-bench.XXXXXX)
cleanup rm -rf "$W"
mkdir -p "$RAW"
IMAGE=$W/image.img
cp "$BENCH_WORK/www/image.img" "$IMAGE"
IMAGE_BYTES=$(stat -c %s "$IMAGE")
WANT_SHA=$(sha256 "$IMAGE")

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/img/
PLAIN_URL=http://127.0.0.1:$PORT/image.img
NGINX_LOG_FORMAT=$BENCH_LOG_FORMAT start_nginx "$BENCH_WORK/www" "$PORT" >/dev/null

# Everything read is in tmpfs or behind O_DIRECT.
drop_page_cache() { :; }

method_local() {
	local w
	for w in "${WORKLOADS[@]}"; do bench_pass local "$w" "$IMAGE"; done
}

fuse_session() {
	local pid w
	rm -rf "$W/cache"
	mkdir -p "$W/fuse"
	"$HTTPCLOOP" mount-fuse "$URL" "$W/fuse" --cache "$W/cache"
	cleanup umount -l "$W/fuse"
	pid=$("$HTTPCLOOP" status --json "$W/fuse" | jq -r '[.. | .pid? | numbers][0]')
	for w in "$@"; do
		[[ $w != seq_warm ]] || fill_cache "$W/fuse/image" # in case seq_cold was cut short
		bench_pass fuse "$w" "$W/fuse/image" "$pid"
	done
	umount "$W/fuse"
	_CLEANUPS=()
}

method_fuse() {
	fuse_session seq_cold seq_warm rand_warm rand16_warm trace_warm
	fuse_session rand_cold
	fuse_session rand16_cold
	fuse_session trace_cold
}

method_httpfs2() {
	local pid w
	mkdir -p "$W/httpfs2"
	httpfs2 -f "$PLAIN_URL" "$W/httpfs2" >"$W/httpfs2.log" 2>&1 &
	pid=$!
	cleanup stop_process "$pid"
	cleanup umount -l "$W/httpfs2"
	wait_until 10 test -f "$W/httpfs2/image.img"
	for w in "${WORKLOADS[@]}"; do bench_pass httpfs2 "$w" "$W/httpfs2/image.img" "$pid"; done
}

# One download of the plaintext into tmpfs, timed by curl itself; checked afterwards.
method_curl() {
	local before status=ok got timing
	before=$(http_lines)
	timing=$(curl -sS --fail -o "$W/curl.out" -w '%{time_total} %{size_download}' "$PLAIN_URL")
	got=$(sha256 "$W/curl.out")
	rm -f "$W/curl.out"
	if [ "$got" != "$WANT_SHA" ]; then
		status=failed
		echo "FAILED: curl downloaded other bytes (sha256 $got)" >&2
	fi
	wait_http_quiet
	local http
	http=$(http_since "$before")
	record curl seq_cold "$status" - "${http%%$'\t'*}" "${http##*$'\t'}" 0 "${timing% *}" "${timing#* }"
	echo "   curl seq_cold: ${timing% *} s for ${timing#* } bytes"
}

run_method() {
	local rc=0
	log "host round $ROUND/$ROUNDS: $1"
	set +e
	(
		set -e
		_CLEANUPS=()
		"method_$1"
	)
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		echo "FAILED: method $1 (status $rc) in round $ROUND" >&2
		record "$1" setup failed - 0 0 0
	fi
}

for ((ROUND = 1; ; ROUND++)); do
	rounds_left "$ROUND" "$ROUNDS" "$BUDGET" || break
	for method in local fuse httpfs2 curl; do
		run_method "$method"
	done
done
log "host benchmark done"
