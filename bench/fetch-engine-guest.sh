#!/usr/bin/env bash
# The fetch engine's figures (issue: fetch engine for the real Internet), in one VM run:
#  - cold sequential read through /dev/httpcloop0 against the limit: the smaller of curl
#    downloading the same stored bytes (8 at a time, counted in the plaintext bytes they
#    carry) and verify + decompress of those bytes alone (httpcloop verify --stored-hash-only,
#    the same checks a client makes, on all cores);
#  - the same with a 20 ms round trip on lo (tc netem), against the no-delay figure;
#  - the boot-like trace with an empty cache, without and with a recorded boot profile.
# Every read is compared with the source. Run: scripts/vm-run -- bash bench/fetch-engine-guest.sh
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/vm/lib.sh"

size_mib=${BENCH_SIZE_MIB:-128}
load_module
image=/tmp/bench.img
head -c $((size_mib / 2 * 1024 * 1024)) /dev/urandom >"$image"
{ yes "boot-like text, fairly compressible $RANDOM" || true; } | head -c $((size_mib / 2 * 1024 * 1024)) >>"$image"
want=$(sha256 "$image")
"$HTTPCLOOP" mkimage "$image" /tmp/www/img >/dev/null
start_nginx /tmp/www 8080 >/dev/null
url=http://127.0.0.1:8080/img/
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

# The limit, (a): curl fetching every stored block, 8 transfers at a time.
find /tmp/www/img/blocks -type f | sed "s|^/tmp/www/img/\(.*\)|url = \"$url\1\"\noutput = \"/dev/null\"|" >/tmp/curl.config
t0=$(now)
curl -fsS --parallel --parallel-max 8 -K /tmp/curl.config
curl_s=$(secs "$t0" "$(now)")
# (b): verifying and decompressing the same stored bytes from local files, on all cores.
t0=$(now)
"$HTTPCLOOP" verify --stored-hash-only /tmp/www/img >/dev/null
decode_s=$(secs "$t0" "$(now)")

# cold_read LABEL: a cold sequential read through a fresh attach; prints seconds.
cold_read() {
	local dev t0 t1
	dev=$("$HTTPCLOOP" attach "$url" --cache "/tmp/cache.$1")
	t0=$(now)
	dd if="$dev" of=/dev/null bs=1M iflag=direct status=none
	t1=$(now)
	[ "$(dd if="$dev" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$want" ] || fail "$1: wrong bytes"
	"$HTTPCLOOP" detach "$dev"
	secs "$t0" "$t1"
}
cold_s=$(cold_read plain)

modprobe sch_netem 2>/dev/null || true
tc qdisc add dev lo root netem delay 10ms # each way: a 20 ms round trip
cleanup bash -c 'tc qdisc del dev lo root 2>/dev/null || true'
delay_s=$(cold_read delay)
tc qdisc del dev lo root

# Boot-like trace: a recording run, then with the profile (both with empty caches).
python3 "$HTTPCLOOP_SRC/bench/gen-trace.py" $((size_mib * 1024 * 1024)) 1500 /tmp/trace.iolog >/dev/null
trace_run() {
	local dev s
	dev=$("$HTTPCLOOP" attach "$url" --cache "/tmp/cache.$1" "${@:2}")
	s=$(python3 "$HTTPCLOOP_SRC/bench/replay.py" /tmp/trace.iolog "$dev" "$image")
	"$HTTPCLOOP" detach "$dev"
	echo "$s"
}
tc qdisc add dev lo root netem delay 10ms
# Each trace run starts with an empty cache; the second replays the first's profile.
trace_plain_s=$(trace_run trace1 --record-profile /tmp/profile)
trace_profile_s=$(trace_run trace2 --profile /tmp/profile)
tc qdisc del dev lo root

mib() { echo "scale=1; $size_mib / $1" | bc -l; }
limit_s=$(echo "if ($curl_s > $decode_s) $curl_s else $decode_s" | bc -l)
printf '%-52s %8s %8s\n' "fetch engine, $size_mib MiB image" "seconds" "MiB/s"
printf '%-52s %8.2f %8s\n' "curl, the stored bytes (8 parallel)" "$curl_s" "$(mib "$curl_s")"
printf '%-52s %8.2f %8s\n' "verify + decompress alone (all cores)" "$decode_s" "$(mib "$decode_s")"
printf '%-52s %8.2f %8s  %s x limit\n' "httpcloop cold sequential" "$cold_s" "$(mib "$cold_s")" "$(echo "scale=2; $limit_s / $cold_s" | bc -l)"
printf '%-52s %8.2f %8s  %s x no delay\n' "httpcloop cold sequential, 20 ms round trip" "$delay_s" "$(mib "$delay_s")" "$(echo "scale=2; $cold_s / $delay_s" | bc -l)"
printf '%-52s %8.2f\n' "boot-like trace, 20 ms RTT, empty cache" "$trace_plain_s"
printf '%-52s %8.2f  %s x faster\n' "boot-like trace, 20 ms RTT, empty cache + profile" "$trace_profile_s" "$(echo "scale=2; $trace_plain_s / $trace_profile_s" | bc -l)"
