#!/usr/bin/env bash
# The VM half of `make bench` (bench/run starts it with scripts/vm-run): every way of
# reading the same image from the same nginx on 127.0.0.1, in Debian's kernel, in rounds:
#   loop     losetup -r of the plaintext image (the limit: no network, no format)
#   kernel   /dev/httpcloop0 (httpcloop attach)
#   fuse     httpcloop mount-fuse + losetup -r of MOUNTPOINT/image
#   nbdkit   nbdkit's curl plugin serving the plaintext over HTTP + nbd-client → /dev/nbd0
#   httpfs2  httpfs2 (FUSE) of the plaintext over HTTP + losetup -r
# Everything (plaintext, blocks, httpcloop's cache) lives in the guest's tmpfs /tmp, so
# the limit and the cache read the same storage.
#
# Cold and warm: httpcloop starts each cold pass with an empty cache directory; its warm
# passes run after a full read filled the cache. nbdkit and httpfs2 keep no cache: their
# "warm" pass is just the second one. The loop device's backing file is in memory: cold
# and warm are the same for it. Every pass starts with the page cache dropped.
#
# Environment (from bench/run): BENCH_WORK (host dir with www/ and trace.iolog),
# BENCH_ROUNDS (at most), BENCH_VM_BUDGET, BENCH_RAND_IOS, BENCH_PASS_SECONDS,
# HTTPCLOOP_SRC (the build to test). Results to /out/raw.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_ENV=vm
RAW=/out/raw
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_VM_BUDGET:-660} # seconds, from the guest's start: see rounds_left
RAND_IOS=${BENCH_RAND_IOS:-500}
W=/tmp/bench
URL=http://127.0.0.1:8080/img/
PLAIN_URL=http://127.0.0.1:8080/image.img
mkdir -p "$RAW" "$W"

# (Nothing to sync: all that is written lives in tmpfs.)
drop_page_cache() { echo 3 >/proc/sys/vm/drop_caches; }

log "setup: modules, image into tmpfs, nginx"
modprobe loop
modprobe fuse
modprobe nbd nbds_max=2
load_module
cp -r "$BENCH_WORK/www" "$W/www"
cp "$BENCH_WORK/trace.iolog" "$W/trace.iolog"
TRACE=$W/trace.iolog
IMAGE_BYTES=$(stat -c %s "$W/www/image.img")
NGINX_LOG_FORMAT=$BENCH_LOG_FORMAT start_nginx "$W/www" 8080 >/dev/null
{
	echo "kernel=$(uname -r)"
	echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
	echo "cpus=$(nproc)"
	echo "memory_mib=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))"
	echo "fio=$(fio --version)"
} >"$RAW/vm-env.txt"

method_loop() {
	local dev w
	dev=$(losetup -r -f --show "$W/www/image.img")
	cleanup losetup -d "$dev"
	for w in "${WORKLOADS[@]}"; do bench_pass loop "$w" "$dev"; done
}

# session_passes METHOD STATUS_TARGET TARGET PID WORKLOAD...: an httpcloop session's passes;
# before the first warm one, the cache is filled if the passes before did not fill it.
session_passes() {
	local method=$1 status_target=$2 target=$3 pid=$4 w warmed=""
	shift 4
	for w in "$@"; do
		if [[ $w == *_warm && -z $warmed ]]; then
			ensure_warm "$status_target" "$target"
			warmed=1
		fi
		bench_pass "$method" "$w" "$target" "$pid"
	done
	PASS_NOTE=
}

# cache_blocks TARGET: "PRESENT TOTAL" from httpcloop status.
cache_blocks() {
	"$HTTPCLOOP" status --json "$1" | jq -r '[[.. | .blocks_cached? | numbers][0], [.. | .blocks_total? | numbers][0]] | "\(.[0]) \(.[1])"'
}

# ensure_warm STATUS_TARGET TARGET: fill the cache if need be; PASS_NOTE says if it is not full.
ensure_warm() {
	local blocks
	blocks=$(cache_blocks "$1")
	if [ "${blocks% *}" -lt "${blocks#* }" ]; then
		log "cache ${blocks% *}/${blocks#* } blocks after seq_cold: filling it (untimed)"
		fill_cache "$2"
		blocks=$(cache_blocks "$1")
	fi
	PASS_NOTE=
	[ "${blocks% *}" -ge "${blocks#* }" ] || PASS_NOTE="cache $((100 * ${blocks% *} / ${blocks#* }))% full"
}

# An httpcloop session with a fresh cache: kernel_session WORKLOAD...
kernel_session() {
	local dev pid w
	rm -rf "$W/cache"
	dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/cache")
	cleanup "$HTTPCLOOP" detach "$dev"
	pid=$("$HTTPCLOOP" status --json "$dev" | jq -r '.[0].daemon.pid')
	session_passes kernel "$dev" "$dev" "$pid" "$@"
	"$HTTPCLOOP" detach "$dev"
	_CLEANUPS=()
}

method_kernel() {
	kernel_session seq_cold seq_warm rand_warm trace_warm
	kernel_session rand_cold
	kernel_session trace_cold
}

fuse_session() {
	local dev pid w
	rm -rf "$W/cache"
	mkdir -p "$W/fuse"
	"$HTTPCLOOP" mount-fuse "$URL" "$W/fuse" --cache "$W/cache"
	cleanup umount -l "$W/fuse"
	dev=$(losetup -r -f --show "$W/fuse/image")
	cleanup losetup -d "$dev"
	pid=$("$HTTPCLOOP" status --json "$W/fuse" | jq -r '[.. | .pid? | numbers][0]')
	session_passes fuse "$W/fuse" "$dev" "$pid" "$@"
	losetup -d "$dev"
	umount "$W/fuse"
	_CLEANUPS=()
}

method_fuse() {
	fuse_session seq_cold seq_warm rand_warm trace_warm
	fuse_session rand_cold
	fuse_session trace_cold
}

method_nbdkit() {
	local pid w
	rm -f "$W/nbdkit.pid"
	nbdkit -r -i 127.0.0.1 -p 10809 --pidfile "$W/nbdkit.pid" curl url="$PLAIN_URL"
	wait_until 10 test -s "$W/nbdkit.pid"
	pid=$(cat "$W/nbdkit.pid")
	cleanup stop_process "$pid"
	nbd-client 127.0.0.1 10809 /dev/nbd0 -b 4096 >/dev/null
	cleanup nbd-client -d /dev/nbd0
	for w in "${WORKLOADS[@]}"; do bench_pass nbdkit "$w" /dev/nbd0 "$pid"; done
}

method_httpfs2() {
	local pid dev w
	mkdir -p "$W/httpfs2"
	httpfs2 -f "$PLAIN_URL" "$W/httpfs2" >"$W/httpfs2.log" 2>&1 &
	pid=$!
	cleanup stop_process "$pid"
	cleanup umount -l "$W/httpfs2"
	wait_until 10 test -f "$W/httpfs2/image.img"
	dev=$(losetup -r -f --show "$W/httpfs2/image.img")
	cleanup losetup -d "$dev"
	for w in "${WORKLOADS[@]}"; do bench_pass httpfs2 "$w" "$dev" "$pid"; done
}

# run_method NAME: one method's passes in a subshell with its own cleanups, so that a
# method that breaks is recorded and the others still run.
run_method() {
	local rc=0
	log "round $ROUND/$ROUNDS: $1"
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
	for method in loop kernel fuse nbdkit httpfs2; do
		run_method "$method"
	done
done
log "VM benchmark done"
