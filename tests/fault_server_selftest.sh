#!/usr/bin/env bash
# Self-test of tests/fault_server.py: the fetch-engine and FUSE tests trust it to
# serve exact bytes and to break responses exactly as asked, so every behaviour
# is checked here with curl against a real server on 127.0.0.1.
#
# Usage: tests/fault_server_selftest.sh   (needs python3 and curl; < 30 s)
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
server="$here/fault_server.py"
tmp=$(mktemp -d)

# Kills only this script's own background jobs that are still running (servers,
# stalled curls), by pid: `jobs -p` never lists one already waited for.
cleanup() {
	local p
	for p in $(jobs -p); do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
pass() {
	passed=$((passed + 1))
	echo "ok   - $1"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL - $1"
}
# check DESCRIPTION COMMAND...: one assertion; the command explains a failure on stderr.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
eq() {
	[[ "$1" == "$2" ]] || {
		echo "    expected '$2', got '$1'" >&2
		return 1
	}
}
ne() {
	[[ "$1" != "$2" ]] || {
		echo "    expected something other than '$2'" >&2
		return 1
	}
}
one_of() {
	local got=$1
	shift
	[[ " $* " == *" $got "* ]] || {
		echo "    expected one of '$*', got '$got'" >&2
		return 1
	}
}
ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }' || {
		echo "    expected >= $2, got $1" >&2
		return 1
	}
}
# An output file curl never created (no body byte arrived) counts as empty.
sha() { if [[ -e "$1" ]]; then sha256sum "$1" | cut -d' ' -f1; else echo none; fi; }
size() { if [[ -e "$1" ]]; then stat -c %s "$1"; else echo 0; fi; }
# slice FILE START LENGTH: those bytes of FILE on stdout.
slice() { dd if="$1" iflag=skip_bytes,count_bytes bs=64K skip="$2" count="$3" status=none; }

# get OUTFILE CURL_ARGS...: sets rc (curl's exit status), code (last HTTP status),
# secs (total time); headers of every response go to $tmp/headers.
max_time=10
get() {
	local out=$1 w
	shift
	rm -f "$out" # curl creates it only when a body byte arrives
	rc=0
	w=$(curl --noproxy '*' -sS --max-time "$max_time" -D "$tmp/headers" -o "$out" \
		-w '%{http_code} %{time_total}' "$@" 2>"$tmp/curl.err") || rc=$?
	code=${w%% *}
	secs=${w##* }
}
# hdr NAME: the value of that header in the last response get saw.
hdr() { { grep -i "^$1:" "$tmp/headers" || true; } | tail -n 1 | cut -d' ' -f2- | tr -d '\r'; }

ctl() { python3 "$server" ctl --port "$port" --timeout 10 "$@"; }
# rule JSON / clear_rules: the control API straight through curl (python's start-up
# time adds up on a loaded machine); the ctl subcommand is tested on its own below.
control() { curl --noproxy '*' -sSf --max-time 10 -o /dev/null -X POST --data-binary "${2-}" "$url/__control/$1"; }
rule() { control add "$1" || fail "could not add rule $1"; }
clear_rules() { control clear || fail "could not clear rules"; }
# wait_log REGEX: the access log gets a line matching REGEX within 5 s (a line is
# written when its response ends, which may be just after curl returns).
wait_log() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qE -- "$1" "$log" && return 0
		sleep 0.05
	done
	echo "    no access log line matches '$1'" >&2
	return 1
}

# start_server NAME ARGS...: start one on an ephemeral port; sets port and pid.
start_server() {
	local name=$1 i
	shift
	rm -f "$tmp/$name.port"
	python3 "$server" --root "$www" --port 0 --port-file "$tmp/$name.port" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s "$tmp/$name.port" ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	port=$(cat "$tmp/$name.port" 2>/dev/null || true)
	[[ -n "$port" ]] || {
		echo "server $name did not start:" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	}
}

start=$(date +%s.%N)
since_start() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
section() { echo "# $1 (at $(since_start) s)"; }
www="$tmp/www"
log="$tmp/access.log"
name=ab/abcdef0123456789
mkdir -p "$www/blocks/ab" "$www/dir" "$tmp/outside"
big="$www/blocks/$name"
head -c $((1024 * 1024)) /dev/urandom >"$big"
small="$www/small"
head -c 20000 /dev/urandom >"$small"
echo secret >"$tmp/outside/secret"
ln -s "$tmp/outside/secret" "$www/escape"
ln -s "blocks/$name" "$www/inside-link"
total=$(size "$big")
big_sha=$(sha "$big")

echo '[{"match": "^/initial$", "action": {"status": 410}}]' >"$tmp/rules.json"
echo '[{"match": "x", "action": {"trunkate": 5}}]' >"$tmp/bad-rules.json"
start_server main --access-log "$log" --rules "$tmp/rules.json"
main_pid=$pid
url="http://127.0.0.1:$port"
burl="$url/blocks/$name"
check "prints the listening line" eq "$(head -n 1 "$tmp/main.out")" "listening on 127.0.0.1:$port"
get "$tmp/o" "$url/initial"
check "--rules file applied at start-up" eq "$code" 410
clear_rules

section "plain serving"
get "$tmp/o" "$burl"
check "GET: 200" eq "$code" 200
check "GET: body matches sha256" eq "$(sha "$tmp/o")" "$big_sha"
check "GET: Content-Length" eq "$(hdr Content-Length)" "$total"
check "GET: Accept-Ranges" eq "$(hdr Accept-Ranges)" bytes
check "GET: ETag present" ne "$(hdr ETag)" ""
check "GET: Last-Modified present" ne "$(hdr Last-Modified)" ""
get /dev/null -I "$burl"
check "HEAD: 200" eq "$code" 200
check "HEAD: Content-Length" eq "$(hdr Content-Length)" "$total"
# A HEAD that sent a body would garble the next response on the same connection.
conns=$(curl --noproxy '*' -sS --max-time 10 -I -o /dev/null -w '%{num_connects} ' "$burl" \
	--next --max-time 10 -o "$tmp/o" -w '%{num_connects} ' "$url/small")
check "HEAD: no body (next response on the connection is intact)" \
	eq "$conns:$(sha "$tmp/o")" "1 0 :$(sha "$small")"
# Two transfers in one curl run: the second reuses the connection (keep-alive).
conns=$(curl --noproxy '*' -sS --max-time 10 -o /dev/null -o /dev/null -w '%{num_connects} ' "$burl" "$url/small")
check "keep-alive: second request reuses the connection" eq "$conns" "1 0 "
get "$tmp/o" "$url/nonexistent"
check "missing file: 404" eq "$code" 404
get "$tmp/o" "$url/dir/"
check "directory: 404, no listing" eq "$code" 404
get "$tmp/o" -X POST --data x "$burl"
check "POST to a file: 405" eq "$code" 405
get "$tmp/o" "$url/inside-link"
check "symlink inside the root is served" eq "$(sha "$tmp/o")" "$big_sha"

section "ranges"
range_ok() { # range_ok HEADER_SPEC FIRST LAST
	get "$tmp/o" -H "Range: bytes=$1" "$burl"
	check "Range $1: 206" eq "$code" 206
	check "Range $1: Content-Range" eq "$(hdr Content-Range)" "bytes $2-$3/$total"
	slice "$big" "$2" $(($3 - $2 + 1)) >"$tmp/want"
	check "Range $1: bytes" eq "$(sha "$tmp/o")" "$(sha "$tmp/want")"
}
range_ok 100-199 100 199
range_ok 1048000- 1048000 $((total - 1))
range_ok -1000 $((total - 1000)) $((total - 1))
range_ok 1048500-9999999 1048500 $((total - 1))
get "$tmp/o" -H "Range: bytes=$total-" "$burl"
check "Range past the end: 416" eq "$code" 416
check "416 has Content-Range */size" eq "$(hdr Content-Range)" "bytes */$total"
get "$tmp/o" -H "Range: bytes=5-3" "$burl"
check "invalid range (last < first) ignored: 200" eq "$code:$(size "$tmp/o")" "200:$total"
get "$tmp/o" -H "Range: bytes=0-9,20-29" "$burl"
check "multi-range: 200 with the whole file" eq "$code:$(sha "$tmp/o")" "200:$big_sha"

section "faults"
rule '{"match": "blocks/", "action": {"status": 500}, "count": 1}'
get "$tmp/o" "$burl"
check "status 500" eq "$code" 500
get "$tmp/o" "$burl"
check "count 1: the next request is served" eq "$code:$(sha "$tmp/o")" "200:$big_sha"

rule '{"match": "blocks/", "action": "reset", "count": 1}'
get "$tmp/o" "$burl"
check "reset: curl error 56 or 52" one_of "$rc" 56 52
check "reset: a real RST (56, connection reset), not a FIN (52)" eq "$rc" 56
check "reset: logged with no status" wait_log "^GET /blocks/$name - - 0 reset$"

rule '{"match": "blocks/", "action": {"truncate": 1000}, "count": 1}'
get "$tmp/o" "$burl"
check "truncate: curl error 18" eq "$rc" 18
check "truncate: 1000 bytes arrived" eq "$(size "$tmp/o")" 1000
check "truncate: logged" wait_log "^GET /blocks/$name - 200 1000 truncate:1000$"

rule '{"match": "blocks/", "action": "corrupt", "count": 1}'
get "$tmp/o" "$burl"
check "corrupt: 200, same length" eq "$code:$(size "$tmp/o")" "200:$total"
check "corrupt: different sha256" ne "$(sha "$tmp/o")" "$big_sha"
check "corrupt: exactly one byte differs" eq "$(cmp -l "$tmp/o" "$big" | wc -l)" 1
rule '{"match": "blocks/", "action": "corrupt", "count": 1}'
get "$tmp/o" -H "Range: bytes=100-199" "$burl"
slice "$big" 100 100 >"$tmp/want"
check "corrupt on a range: one byte of the range differs" eq "$(cmp -l "$tmp/o" "$tmp/want" | wc -l)" 1

rule '{"match": "^/small$", "action": {"trickle": 20000}, "count": 1}'
get "$tmp/o" "$url/small"
check "trickle: body intact" eq "$(sha "$tmp/o")" "$(sha "$small")"
check "trickle: 20 KB at 20 KB/s takes >= 0.9 s" ge "$secs" 0.9

rule '{"match": "^/small$", "action": {"stall": 30}, "count": 1}'
max_time=2 get "$tmp/o" "$url/small"
check "stall 30 s: curl --max-time 2 times out (28)" eq "$rc" 28
rule '{"match": "^/small$", "action": {"stall": 1}, "count": 1}'
get "$tmp/o" "$url/small"
check "stall 1 s: headers, then closed without the body (18)" eq "$rc:$code:$(size "$tmp/o")" "18:200:0"
check "stall 1 s: waited >= 0.9 s" ge "$secs" 0.9

rule '{"match": "blocks/", "action": "ignore_range", "count": 1}'
get "$tmp/o" "$burl"
check "ignore_range leaves requests without Range alone" eq "$code:$(size "$tmp/o")" "200:$total"
get "$tmp/o" -H "Range: bytes=100-199" "$burl"
check "ignore_range: 200 and the whole file" eq "$code:$(sha "$tmp/o")" "200:$big_sha"
check "ignore_range: no Content-Range" eq "$(hdr Content-Range)" ""

rule '{"match": "^/moved$", "action": {"redirect": "/blocks/'"$name"'"}}'
rule '{"match": "^/moved-abs$", "action": {"redirect": "'"$burl"'"}}'
get "$tmp/o" "$url/moved"
check "redirect: 302 with Location" eq "$code:$(hdr Location)" "302:/blocks/$name"
get "$tmp/o" -L "$url/moved"
check "redirect (path): curl -L gets the target" eq "$code:$(sha "$tmp/o")" "200:$big_sha"
get "$tmp/o" -L "$url/moved-abs"
check "redirect (full URL): curl -L gets the target" eq "$code:$(sha "$tmp/o")" "200:$big_sha"

rule '{"match": "^/small$", "action": {"delay_ms": 500}, "count": 1}'
get "$tmp/o" "$url/small"
check "delay_ms 500: body intact" eq "$code:$(sha "$tmp/o")" "200:$(sha "$small")"
check "delay_ms 500: took >= 0.5 s" ge "$secs" 0.5

rule '{"match": "blocks/", "action": "wrong_range", "count": 1}'
get "$tmp/o" -H "Range: bytes=100-199" "$burl"
cr=$(hdr Content-Range)
check "wrong_range: 206" eq "$code" 206
check "wrong_range: Content-Range differs from the request" ne "$cr" "bytes 100-199/$total"
if [[ "$cr" =~ ^bytes\ ([0-9]+)-([0-9]+)/ ]]; then
	slice "$big" "${BASH_REMATCH[1]}" $((BASH_REMATCH[2] - BASH_REMATCH[1] + 1)) >"$tmp/want"
	check "wrong_range: body is what its Content-Range says" eq "$(sha "$tmp/o")" "$(sha "$tmp/want")"
else
	fail "wrong_range: unparsable Content-Range '$cr'"
fi
clear_rules

section "count, after, order, control API"
ctl add '{"match": "^/small$", "action": {"status": 503}, "after": 2, "count": 2}' >/dev/null ||
	fail "ctl add"
codes=""
for _ in 1 2 3 4 5; do
	get "$tmp/o" "$url/small"
	codes+="$code "
done
check "after 2, count 2: skip two, fault two, then spent" eq "$codes" "200 200 503 503 200 "
ctl rules '[{"match": "^/small$", "action": {"status": 404}, "count": 1},
            {"match": "^/small$", "action": {"status": 410}}]' >/dev/null ||
	fail "ctl rules"
get "$tmp/o" "$url/small"
c1=$code
get "$tmp/o" "$url/small"
check "first matching live rule wins, then the next one" eq "$c1 $code" "404 410"
get "$tmp/o" "$burl"
check "a rule whose regex does not match leaves others alone" eq "$code" 200
# The JSON is printed with sorted keys, so its text is stable.
get "$tmp/o" "$url/__control/rules"
check "GET /__control/rules lists the rules with what is left" eq \
	"$(grep -o '"remaining": [a-z0-9]*' "$tmp/o" | tr '\n' ' ')" '"remaining": 0 "remaining": null '
clear_rules
get "$tmp/o" "$url/small"
check "clear: no faults any more" eq "$code" 200
check "ctl add of a bad action fails" eq "$(ctl add '{"match": "x", "action": "explode"}' >/dev/null 2>&1 && echo accepted || echo rejected)" rejected
get "$tmp/o" -X POST --data-binary '{"match": "x", "action": "reset", "cont": 1}' "$url/__control/add"
check "an unknown rule key is rejected (400)" eq "$code" 400
get "$tmp/o" -X POST --data-binary '[{"match": "x", "action": "reset"}, {"match": "("}]' "$url/__control/rules"
check "a bad rule list is rejected (400)" eq "$code" 400
get "$tmp/o" "$url/__control/rules"
check "... and changes nothing" eq "$(cat "$tmp/o")" '{"rules": []}'
get "$tmp/o" -X POST --data 'x' "$url/__control/nonsense"
check "unknown control endpoint: 404" eq "$code" 404

section "stats and access log"
ctl reset-stats >/dev/null || fail "reset-stats"
rule '{"match": "^/small$", "action": {"status": 500}, "count": 1}'
get "$tmp/o" "$url/small"
get "$tmp/o" "$url/small"
get "$tmp/o" -H "Range: bytes=0-9" "$burl"
get /dev/null "$url/__control/stats" # control requests are not counted
ctl wait 3 >/dev/null || fail "ctl wait 3"
# Sorted keys make the text exact: 27 bytes of "injected fault" body + 20000 + 10.
check "stats: requests, bytes, faults, per-path and per-status counts" eq "$(ctl stats)" \
	'{"bytes_sent": 20037, "faults": {"status:500": 1}, "faults_applied": 1, "per_path": {"/blocks/'"$name"'": 1, "/small": 2}, "per_status": {"200": 1, "206": 1, "500": 1}, "requests": 3}'
check "log: faulted request line" wait_log "^GET /small - 500 [0-9]+ status:500$"
check "log: ranged request line" wait_log "^GET /blocks/$name bytes=0-9 206 10 -$"
check "log: HEAD request line" wait_log "^HEAD /blocks/$name - 200 0 -$"
check "log: control requests are not logged" eq "$(grep -c __control "$log" || true)" 0
check "log: every line has six fields" eq "$(awk 'NF != 6' "$log" | wc -l)" 0

section "path safety"
get "$tmp/o" --path-as-is "$url/../outside/secret"
check "../ refused" one_of "$code" 403 404
get "$tmp/o" --path-as-is "$url/blocks/%2e%2e/%2e%2e/outside/secret"
check "encoded ../ refused" one_of "$code" 403 404
get "$tmp/o" "$url/escape"
check "symlink leaving the root refused" one_of "$code" 403 404
check "no secret was served" eq "$(grep -c secret "$tmp/o" || true)" 0

section "robustness"
rule '{"match": "^/small$", "action": {"trickle": 10000}, "count": 1}'
max_time=0.5 get "$tmp/o" "$url/small"
check "client gives up mid-trickle" eq "$rc" 28
rule '{"match": "^/small$", "action": {"stall": 5}, "count": 1}'
curl --noproxy '*' -sS --max-time 8 -o /dev/null "$url/small" 2>/dev/null &
stalled=$!
parallel=()
for i in 1 2 3 4 5 6; do
	curl --noproxy '*' -sS --max-time 10 -o "$tmp/par$i" "$burl" &
	parallel+=("$!")
done
wait "${parallel[@]}" || true
good=0
for i in 1 2 3 4 5 6; do
	[[ "$(sha "$tmp/par$i")" == "$big_sha" ]] && good=$((good + 1))
done
check "6 concurrent GETs while another response stalls" eq "$good" 6
get "$tmp/o" "$url/small"
check "a response is stalled (logged when its wait starts)" wait_log "^GET /small - 200 0 stall:5$"
check "server still serves after disconnects" eq "$code:$(sha "$tmp/o")" "200:$(sha "$small")"
check "no tracebacks on the server's stderr" eq "$(grep -c Traceback "$tmp/main.err" || true)" 0
kill -TERM "$main_pid"
exited=no
for ((i = 0; i < 100; i++)); do
	kill -0 "$main_pid" 2>/dev/null || {
		exited=yes
		break
	}
	sleep 0.05
done
check "SIGTERM with a response stalled: exits promptly" eq "$exited" yes
status=0
wait "$main_pid" || status=$?
check "SIGTERM: exit status 0" eq "$status" 0
kill "$stalled" 2>/dev/null || true

section "start-up options"
# (--rules is checked at the top, with the main server.) Few python runs in this
# script: one can take seconds to start when other jobs load the machine.
rc=0
timeout 10 python3 "$server" --root "$www" --bind 0.0.0.0 --port 0 >"$tmp/bind.out" 2>&1 || rc=$?
check "--bind 0.0.0.0 refused (exit 2)" eq "$rc" 2
rc=0
timeout 10 python3 "$server" --root "$www" --rules "$tmp/bad-rules.json" >/dev/null 2>&1 || rc=$?
check "invalid --rules file: exit 2" eq "$rc" 2

echo "# finished in $(since_start) s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
