#!/usr/bin/env bash
# The VM half of `make bench` (bench/run starts it with scripts/vm-run): every way of
# reading the same image from the same nginx on 127.0.0.1, in Debian's kernel, in rounds:
#   loop     losetup -r of the plaintext image (the limit: no network, no format)
#   kernel   /dev/httpcloop0 (httpcloop attach)
#   fuse     httpcloop mount-fuse + losetup -r of MOUNTPOINT/image
#   nbdkit   nbdkit's curl plugin serving the plaintext over HTTP + nbd-client → /dev/nbd0
#   httpfs2  httpfs2 (FUSE) of the plaintext over HTTP + losetup -r
#   fetch    the fetch engine's figures: its two limits (curl downloading every stored block,
#            8 at a time; httpcloop verify --stored-hash-only decoding them on all cores),
#            /dev/httpcloop0 and nbdkit cold right after them, /dev/httpcloop0 cold with a
#            20 ms round trip on lo (tc netem), and the boot
#            trace with that round trip and an empty cache, without and with a boot profile
# Everything (plaintext, blocks, httpcloop's cache) lives in the guest's tmpfs /tmp, so
# the limit and the cache read the same storage.
#
# Cold and warm: httpcloop starts each cold pass with an empty cache directory; its warm
# passes run after a full read filled the cache. nbdkit and httpfs2 keep no cache: their
# "warm" pass is just the second one. The loop device's backing file is in memory: cold
# and warm are the same for it. Every pass starts with the page cache of what it reads
# dropped (drop_page_cache).
#
# Environment (from bench/run): BENCH_WORK (host dir with www/ and trace.iolog),
# BENCH_ROUNDS (at most), BENCH_VM_BUDGET, BENCH_VM_METHODS (default all, in this order), BENCH_RAND_IOS, BENCH_PASS_SECONDS,
# HTTPCLOOP_SRC (the build to test). Results to /out/raw.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_ENV=vm
RAW=/out/raw
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_VM_BUDGET:-800} # seconds, from the guest's start: see rounds_left
RAND_IOS=${BENCH_RAND_IOS:-500}
W=/tmp/bench
URL=http://127.0.0.1:8080/img/
PLAIN_URL=http://127.0.0.1:8080/image.img
mkdir -p "$RAW" "$W"

# drop_page_cache TARGET: before a pass, forget the cached pages it could hit: the
# device's own and, for a loop device, its backing file's (the FUSE file of mount-fuse or
# httpfs2; the plaintext and httpcloop's cache live in tmpfs, which keeps no other copy).
# Not the whole page cache: the guest runs its programs from the host over 9p, so that
# would make every process whose memory is not locked (nbdkit, httpfs2, fio, nginx; not
# httpcloop's daemon) fault its code back in from the host during the pass.
drop_page_cache() {
	local target=${1:-} backing
	[ -b "$target" ] || return 0
	blockdev --flushbufs "$target"
	backing=$(cat "/sys/block/${target#/dev/}/loop/backing_file" 2>/dev/null) || return 0
	dd if="$backing" iflag=nocache count=0 status=none
}

log "setup: modules, image into tmpfs, nginx"
modprobe loop
modprobe fuse
modprobe nbd nbds_max=2
modprobe sch_netem
modprobe sch_prio
modprobe cls_u32
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

# An httpcloop session with a fresh cache: kernel_session WORKLOAD... (recorded as
# KERNEL_METHOD, attached with ATTACH_ARGS).
KERNEL_METHOD=kernel
ATTACH_ARGS=()
kernel_session() {
	local dev pid w
	rm -rf "$W/cache"
	dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/cache" "${ATTACH_ARGS[@]}")
	cleanup "$HTTPCLOOP" detach "$dev"
	pid=$("$HTTPCLOOP" status --json "$dev" | jq -r '.[0].daemon.pid')
	session_passes "$KERNEL_METHOD" "$dev" "$dev" "$pid" "$@"
	"$HTTPCLOOP" detach "$dev"
	_CLEANUPS=()
}

method_kernel() {
	kernel_session seq_cold seq_warm rand_warm rand16_warm trace_warm
	kernel_session rand_cold
	kernel_session rand16_cold
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
	fuse_session seq_cold seq_warm rand_warm rand16_warm trace_warm
	fuse_session rand_cold
	fuse_session rand16_cold
	fuse_session trace_cold
}

# nbdkit_attach: nbdkit's curl plugin on the plaintext, /dev/nbd0 on it; sets NBDKIT_PID.
# Stopped by the caller's cleanups.
nbdkit_attach() {
	rm -f "$W/nbdkit.pid"
	nbdkit -r -i 127.0.0.1 -p 10809 --pidfile "$W/nbdkit.pid" curl url="$PLAIN_URL"
	wait_until 10 test -s "$W/nbdkit.pid"
	NBDKIT_PID=$(cat "$W/nbdkit.pid")
	cleanup stop_process "$NBDKIT_PID"
	nbd-client 127.0.0.1 10809 /dev/nbd0 -b 4096 >/dev/null
	cleanup nbd-client -d /dev/nbd0
}

method_nbdkit() {
	local w
	nbdkit_attach
	for w in "${WORKLOADS[@]}"; do bench_pass nbdkit "$w" /dev/nbd0 "$NBDKIT_PID"; done
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

# timed_limit METHOD COMMAND...: run COMMAND (it must succeed) and record its wall time as a
# pass of seq_cold that delivered the whole image's plaintext.
timed_limit() {
	local method=$1 t0 t1 status=ok before http
	shift
	before=$(http_lines)
	t0=$(date +%s.%N)
	"$@" || status=failed
	t1=$(date +%s.%N)
	[ "$status" = ok ] || echo "FAILED: $method: $*" >&2
	http=$(http_since "$before")
	record "$method" seq_cold "$status" - "${http%%$'\t'*}" "${http##*$'\t'}" 0 "$(echo "$t1 - $t0" | bc -l)" "$IMAGE_BYTES"
	echo "   $method: $(echo "$t1 - $t0" | bc -l) s"
}

# read_compare_pass METHOD TARGET [PID]: the whole of TARGET in 1 MiB O_DIRECT reads (dd),
# timed by the wall clock like the limits, and recorded as METHOD's seq_cold; then, untimed,
# read again and compared with the plaintext byte for byte. (A checking reader inside the
# timed read would time the checker: under TCG, fio's CRC32C per 4 KiB or cmp cost more
# CPU than the reads. httpcloop's second read comes from the cache file the first read was
# served from, so it checks the same bytes.)
read_compare_pass() {
	local method=$1 target=$2 pid=${3:-} t0 t1 status=ok before http
	drop_page_cache "$target"
	before=$(http_lines)
	t0=$(date +%s.%N)
	dd if="$target" of=/dev/null bs=1M iflag=direct status=none || status=failed
	t1=$(date +%s.%N)
	wait_http_quiet
	http=$(http_since "$before")
	dd if="$target" bs=1M iflag=direct status=none | cmp - "$W/www/image.img" || status=failed
	[ "$status" = ok ] || echo "FAILED: $method: $target does not read back as the image" >&2
	record "$method" seq_cold "$status" - "${http%%$'\t'*}" "${http##*$'\t'}" "$(peak_rss_kib "$pid")" \
		"$(echo "$t1 - $t0" | bc -l)" "$IMAGE_BYTES"
	echo "   $method seq_cold: $(echo "$t1 - $t0" | bc -l) s"
}

# fetch_kernel_cold METHOD: read_compare_pass of a fresh /dev/httpcloop0 with an empty
# cache (detached by the caller's cleanups).
fetch_kernel_cold() {
	local method=$1 dev pid
	rm -rf "$W/cache"
	dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/cache")
	cleanup "$HTTPCLOOP" detach "$dev"
	pid=$("$HTTPCLOOP" status --json "$dev" | jq -r '.[0].daemon.pid')
	read_compare_pass "$method" "$dev" "$pid"
}

# curl_blocks: every stored block, 8 transfers at a time, into tmpfs (the same bytes the
# client fetches, from the same server); then, untimed, each file against its name (the
# SHA-256 of its bytes).
curl_blocks() {
	local dir=$W/curl-blocks
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$W/www/img" && find blocks -type f) |
		awk -v url="$URL" -v dir="$dir" '{f = $0; gsub("/", "_", f); printf "url = \"%s%s\"\noutput = \"%s/%s\"\n", url, $0, dir, f}' \
			>"$W/curl-blocks.config"
	curl -fsS --no-progress-meter --parallel --parallel-max 8 -K "$W/curl-blocks.config"
}
check_curl_blocks() {
	local f name bad=0 count=0
	for f in "$W/curl-blocks"/*; do
		name=${f##*_}
		[ "$(sha256 "$f")" = "$name" ] || bad=$((bad + 1))
		count=$((count + 1))
	done
	[ "$bad" -eq 0 ] && [ "$count" -eq "$(find "$W/www/img/blocks" -type f | wc -l)" ] ||
		fail "curl_blocks: $bad of $count downloads are not their block"
	rm -rf "$W/curl-blocks"
}

# shape_http RATE RTT_MS: the HTTP traffic on lo (packets from or to nginx's port 8080)
# through netem: RATE each way (tc's units: 1gbit, 100mbit) and half the round trip
# each way. Every other local socket (nbd-client to nbdkit, the control sockets) stays
# as it is, so every method crosses the same shaped link once: to the server and back.
shape_http() {
	tc qdisc add dev lo root handle 1: prio bands 2 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	tc qdisc add dev lo parent 1:2 handle 20: netem delay "$(($2 * 500))us" rate "$1" limit 100000
	tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport 8080 0xffff flowid 1:2
	tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport 8080 0xffff flowid 1:2
}

# with_rtt COMMAND...: COMMAND with a 20 ms round trip on lo (10 ms each way).
# (run_method removes the delay before every method, should one fail with it in place.)
with_rtt() {
	tc qdisc add dev lo root netem delay 10ms
	"$@"
	tc qdisc del dev lo root
}

# The fetch engine's figures, one right after the other so that a machine whose speed
# drifts (TCG on a shared host) moves them together: the two limits, a cold sequential
# read through /dev/httpcloop0 and through nbdkit, the same read with a 20 ms round trip,
# and the boot trace with that round trip, without and then with a boot profile.
method_fetch() {
	"$HTTPCLOOP" --version >/dev/null # its code comes over 9p: load it before it is timed
	curl --version >/dev/null
	timed_limit curl_blocks curl_blocks
	check_curl_blocks
	timed_limit decode "$HTTPCLOOP" verify --stored-hash-only "$W/www/img"
	(
		_CLEANUPS=()
		fetch_kernel_cold fetch_kernel
	)
	(
		_CLEANUPS=()
		nbdkit_attach
		read_compare_pass fetch_nbdkit /dev/nbd0 "$NBDKIT_PID"
	)
	(
		_CLEANUPS=()
		with_rtt fetch_kernel_cold kernel_rtt20
	)
	KERNEL_METHOD=kernel_rtt20
	# Both with an empty cache: the first run records the profile the second prefetches
	# from (attach returns at once; prefetching runs behind the reads).
	rm -f "$W/profile"
	ATTACH_ARGS=(--record-profile "$W/profile")
	with_rtt kernel_session trace_cold
	test -s "$W/profile" || fail "no boot profile was recorded"
	KERNEL_METHOD=kernel_rtt20_profile
	ATTACH_ARGS=(--profile "$W/profile")
	with_rtt kernel_session trace_cold
	KERNEL_METHOD=kernel
	ATTACH_ARGS=()
}

# run_method NAME: one method's passes in a subshell with its own cleanups, so that a
# method that breaks is recorded and the others still run.
run_method() {
	local rc=0
	log "round $ROUND/$ROUNDS${PROFILE:+ ($PROFILE)}: $1"
	tc qdisc del dev lo root 2>/dev/null || true
	[ -z "$PROFILE" ] || shape_http "$PROFILE_RATE" "$PROFILE_RTT_MS"
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

# The miss-latency figures (bench/miss_report.py; the host half is bench/miss.sh):
# /dev/httpcloop0 with an empty cache and no readahead, one 4 KiB read in each of
# BENCH_MISSES distinct blocks (bench/miss.py compares each), then the daemon's account.
miss_latency() {
	local dev block_size
	rm -rf "$W/cache"
	dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/cache" --no-readahead)
	cleanup "$HTTPCLOOP" detach "$dev"
	block_size=$("$HTTPCLOOP" info --json "$W/www/img" | jq -r .block_size)
	python3 "$(dirname "$0")/miss.py" "$dev" "$W/www/image.img" "$block_size" "${BENCH_MISSES:-500}" 7 \
		"$W/miss-reads.json"
	"$HTTPCLOOP" status --json "$dev" | jq '[.. | objects | select(has("miss_count"))][0]' >"$W/miss-daemon.json"
	jq -s '{where: "VM", path: "/dev/httpcloop0 (kernel)", reads: .[0], daemon: .[1]}' \
		"$W/miss-reads.json" "$W/miss-daemon.json" >"$RAW/vm-miss.json"
	"$HTTPCLOOP" detach "$dev"
	_CLEANUPS=()
}

# The scale figures' VM half (bench/scale_report.py; the host half is bench/scale.sh):
# BENCH_SCALE_DEVICES (16) devices attached at once to the same image, each with its own
# empty cache; the first BENCH_SCALE_MIB (16) MiB of every one read at the same time and
# compared with the plaintext, against one device reading the same alone; the daemons'
# memory (PSS: the libraries they share counted once in all, not once each).
scale_devices() {
	local n=${BENCH_SCALE_DEVICES:-16} mib=${BENCH_SCALE_MIB:-16} i dev start alone_s attach_s parallel_s
	local devs=() readers=() pids=()
	seconds_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }
	rm -rf "$W/scale"
	dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/scale/alone")
	cleanup "$HTTPCLOOP" detach "$dev"
	start=$(date +%s.%N)
	cmp -n $((mib << 20)) "$dev" "$W/www/image.img" || fail "$dev differs from the plaintext"
	alone_s=$(seconds_since "$start")
	"$HTTPCLOOP" detach "$dev"
	_CLEANUPS=()
	start=$(date +%s.%N)
	for ((i = 0; i < n; i++)); do
		dev=$("$HTTPCLOOP" attach "$URL" --cache "$W/scale/cache$i")
		cleanup "$HTTPCLOOP" detach "$dev"
		devs+=("$dev")
	done
	attach_s=$(seconds_since "$start")
	for dev in "${devs[@]}"; do pids+=("$("$HTTPCLOOP" status --json "$dev" | jq -r '.[0].daemon.pid')"); done
	start=$(date +%s.%N)
	for dev in "${devs[@]}"; do
		cmp -n $((mib << 20)) "$dev" "$W/www/image.img" &
		readers+=($!)
	done
	for i in "${!readers[@]}"; do wait "${readers[i]}" || fail "${devs[i]} differs from the plaintext"; done
	parallel_s=$(seconds_since "$start")
	echo "devices=$n mib=$mib alone_s=$alone_s attach_s=$attach_s parallel_s=$parallel_s" \
		"pss_kib_total=$(for p in "${pids[@]}"; do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"; done | awk '{ s += $1 } END { print s }')" \
		"hwm_kib_max=$(for p in "${pids[@]}"; do awk '/^VmHWM:/ { print $2 }' "/proc/$p/status"; done | sort -n | tail -n 1)" \
		| tee "$RAW/vm-scale.txt"
	for dev in "${devs[@]}"; do "$HTTPCLOOP" detach "$dev"; done
	_CLEANUPS=()
}

PROFILE=
for ((ROUND = 1; ; ROUND++)); do
	rounds_left "$ROUND" "$ROUNDS" "$BUDGET" || break
	for method in ${BENCH_VM_METHODS:-loop kernel fuse nbdkit httpfs2 fetch}; do
		run_method "$method"
	done
done

# Network profiles (issue 12): the same methods and workloads over shaped links, one
# round each (NAME:RATE:RTT_MS; results as the environment vm-NAME), while the VM budget
# lasts (BENCH_VM_PROFILE_BUDGET more seconds, 900).
PROFILE_BUDGET_END=$((SECONDS + ${BENCH_VM_PROFILE_BUDGET:-900}))
for profile in ${BENCH_VM_PROFILES-1g2ms:1gbit:2 100m20ms:100mbit:20}; do
	IFS=: read -r PROFILE PROFILE_RATE PROFILE_RTT_MS <<<"$profile"
	if [ "$SECONDS" -ge "$PROFILE_BUDGET_END" ]; then
		log "no time left for the $PROFILE profile"
		break
	fi
	BENCH_ENV=vm-$PROFILE ROUND=1 ROUNDS=1
	for method in ${BENCH_VM_METHODS:-loop kernel fuse nbdkit httpfs2}; do
		[ "$method" = fetch ] || run_method "$method"
	done
done
PROFILE= BENCH_ENV=vm
tc qdisc del dev lo root 2>/dev/null || true
if [[ " ${BENCH_VM_METHODS:-kernel} " == *" kernel "* ]]; then
	log "miss latency: /dev/httpcloop0, ${BENCH_MISSES:-500} misses"
	(miss_latency) || echo "FAILED: miss latency (status $?)" >&2
	log "scale: ${BENCH_SCALE_DEVICES:-16} devices at once"
	(scale_devices) || echo "FAILED: scale (status $?)" >&2
fi
log "VM benchmark done"
