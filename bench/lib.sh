# shellcheck shell=bash
# The timed pass, shared by bench/vm-guest.sh (in the VM) and bench/host.sh (on the host).
# Source it after tests/vm/lib.sh. The caller sets:
#   BENCH_ENV     vm | host (names the result files)
#   RAW           directory for the results: one fio JSON per pass, $BENCH_ENV-passes.tsv
#   IMAGE_BYTES   size of the image; TRACE: the boot-like fio iolog; RAND_IOS: 4 KiB reads
#   ROUND         the round being run (1..N)
#   drop_page_cache TARGET   a function that empties the page cache a pass of TARGET would hit
# and runs nginx with BENCH_LOG_FORMAT (start_nginx reads NGINX_LOG_FORMAT).

# (BENCH_LOG_FORMAT, WORKLOADS: used by the scripts that source this one)
# shellcheck disable=SC2034
# nginx logs one line per request: status, body bytes, all bytes, request.
# shellcheck disable=SC2016 # nginx variables
BENCH_LOG_FORMAT='$status $body_bytes_sent $bytes_sent "$request"'
WORKLOADS=(seq_cold seq_warm rand_cold rand_warm rand16_cold rand16_warm trace_cold trace_warm)
# Each pass stops after PASS_SECONDS (fio --runtime) even if its workload is not done: the
# figures are then over the reads made (bench/report.py says "partial"), and a slow
# method cannot stretch the suite past its budget.
PASS_SECONDS=${BENCH_PASS_SECONDS:-10}

# Every read is checked: the image was written by fio with a verification header and a
# CRC32C in every 4 KiB (bench/run), so fio checks each 4 KiB it reads (its offset, its
# checksum) and fails the pass on the first wrong byte. The checking happens between
# reads; the figures use the time spent inside the reads only (fio's latencies), except
# at queue depth 16 (rand16_*), where reads overlap and the wall clock counts.
FIO_COMMON=(--ioengine=psync --iodepth=1 --direct=1 --numjobs=1 --thread --runtime="$PASS_SECONDS"
	--verify=crc32c --verify_interval=4096 --verify_fatal=1 --verify_state_save=0 --output-format=json)

# fio_workload WORKLOAD TARGET: the fio options for one workload on TARGET.
fio_workload() {
	case $1 in
	seq_*) echo "--rw=read --bs=1M --filename=$2 --size=$IMAGE_BYTES" ;;
	rand_*) echo "--rw=randread --bs=4k --filename=$2 --size=$IMAGE_BYTES --io_size=$((RAND_IOS * 4096))" \
		"--randrepeat=1 --randseed=42" ;;
	# The same reads 16 at a time (libaio), as a database or a parallel boot issues them;
	# timed by the wall clock (bench/report.py), since the reads overlap.
	rand16_*) echo "--rw=randread --bs=4k --filename=$2 --size=$IMAGE_BYTES --io_size=$((RAND_IOS * 4096))" \
		"--randrepeat=1 --randseed=42 --ioengine=libaio --iodepth=16" ;;
	trace_*) echo "--read_iolog=$TRACE --replay_redirect=$2 --replay_no_stall=1" ;;
	*) fail "unknown workload $1" ;;
	esac
}

# stop_process PID: SIGTERM, quietly if it has exited already.
stop_process() { kill "$1" 2>/dev/null || true; }

http_lines() { wc -l <"$NGINX_ACCESS_LOG" | tr -d ' '; }
# http_since LINES: "REQUESTS<tab>BODY_BYTES" that nginx logged after its first LINES lines.
http_since() { tail -n +"$(($1 + 1))" "$NGINX_ACCESS_LOG" | awk '{n++; b += $2} END {printf "%d\t%d", n, b}'; }

# nginx writes a line when a reply is done, and a reader's readahead may still be running
# when the pass ends: wait until the log has been still for a quarter of a second (10 s at
# most).
wait_http_quiet() {
	local last now deadline=$((SECONDS + 10))
	last=$(http_lines)
	while sleep 0.25 && now=$(http_lines) && [ "$now" != "$last" ] && [ "$SECONDS" -lt "$deadline" ]; do
		last=$now
	done
}

# peak_rss_kib PID: the process's peak resident set (VmHWM), 0 if none.
peak_rss_kib() {
	[ -n "${1:-}" ] || { echo 0; return; }
	awk '/^VmHWM:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

# record METHOD WORKLOAD STATUS JSON HTTP_REQUESTS HTTP_BYTES RSS_KIB [SECONDS BYTES]: one
# line of $BENCH_ENV-passes.tsv, which bench/report.py reads; PASS_NOTE (if set) goes in its last field.
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_ENV" "$ROUND" "$1" "$2" "$3" "$4" "$5" \
		"$6" "$7" "${8:--}" "${9:--}" "${PASS_NOTE:-}" >>"$RAW/$BENCH_ENV-passes.tsv"
}

# bench_pass METHOD WORKLOAD TARGET [PID]: empty the page cache of TARGET, run WORKLOAD on TARGET
# with fio (every read verified), then record the pass with the HTTP requests and bytes
# nginx served meanwhile and PID's peak RSS so far.
bench_pass() {
	local method=$1 workload=$2 target=$3 pid=${4:-} out status=ok before http
	out=$RAW/$BENCH_ENV-r$ROUND-$method-$workload.json
	drop_page_cache "$target"
	before=$(http_lines)
	# shellcheck disable=SC2046 # fio_workload's words are options
	if ! timeout $((PASS_SECONDS + 120)) fio --name="$workload" "${FIO_COMMON[@]}" $(fio_workload "$workload" "$target") \
		>"$out" 2>"$out.err"; then
		status=failed
		echo "FAILED: $method $workload: $(grep -v '^$' "$out.err" | head -n 5)" >&2
		cp "$out.err" "$out.failed" 2>/dev/null || true
	fi
	[ "$method" = loop ] || [ "$method" = local ] || wait_http_quiet # the limits make no requests
	http=$(http_since "$before")
	record "$method" "$workload" "$status" "${out##*/}" "${http%%$'\t'*}" "${http##*$'\t'}" "$(peak_rss_kib "$pid")"
	if [ "$status" = ok ]; then
		jq -r --arg m "$method" --arg w "$workload" --arg h "$http" '.jobs[0].read |
			"   \($m) \($w): \(.total_ios) reads, \(.io_bytes / 1048576 / (.lat_ns.mean * .total_ios / 1e9) * 100 | floor / 100)" +
			" MiB/s, p50 \(.clat_ns.percentile["50.000000"] / 1000 | floor) us, p99 \(.clat_ns.percentile["99.000000"] / 1000 | floor) us," +
			" HTTP \($h | split("\t") | .[0]) requests"' "$out"
	fi
}

# fill_cache DEVICE: read all of DEVICE (untimed) in four parallel streams, at most 60 s,
# so that the warm passes after a seq_cold pass cut short by PASS_SECONDS find a full cache.
fill_cache() {
	local quarter=$((IMAGE_BYTES / 4 / 1048576 + 1)) i pids=()
	for i in 0 1 2 3; do
		timeout 60 dd if="$1" of=/dev/null bs=1M iflag=direct skip=$((i * quarter)) count="$quarter" status=none &
		pids+=($!)
	done
	wait "${pids[@]}" || true
}

# The elapsed-time budget of a benchmark half: rounds_left ROUND ROUNDS BUDGET_SECONDS
# says whether to start round ROUND: always the first; a later one only while the time
# spent so far plus one more round like the last fits in the budget.
ROUND_STARTED=$SECONDS
rounds_left() {
	local round=$1 rounds=$2 budget=$3 last
	[ "$round" -le "$rounds" ] || return 1
	if [ "$round" -gt 1 ]; then
		last=$((SECONDS - ROUND_STARTED))
		log "round $((round - 1)) took ${last} s (${SECONDS} s so far)"
		if [ $((SECONDS + last)) -gt "$budget" ]; then
			log "stopping after $((round - 1)) rounds: another would end past the ${budget} s budget"
			return 1
		fi
	fi
	ROUND_STARTED=$SECONDS
}
