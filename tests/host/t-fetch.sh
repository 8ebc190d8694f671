#!/usr/bin/env bash
# The fetch engine against misbehaving servers (tests/fault_server.py on 127.0.0.1), through
# mount-fuse on the host: each fault alone and with two or three mirrors where some are bad
# ends with the right bytes or a clear error, within bounded time; pack mode's Range
# requests are checked strictly; readahead, prefetch and boot profiles do what they say.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-fetch-test.XXXXXX)
cleanup rm -rf "$work"
SERVER=$HTTPCLOOP_SRC/tests/fault_server.py

bs=$((64 * 1024))
source_image=$work/source.img
head -c $((48 * bs)) /dev/urandom >"$source_image"
{ seq 1 300000 || true; } | head -c $((16 * bs + 1000)) >>"$source_image" # compressible, short last block
size=$(stat -c %s "$source_image")
"$HTTPCLOOP" mkimage --block-size 64K "$source_image" "$work/www/img" >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K --pack "$source_image" "$work/www/pimg" >/dev/null
blocks=$(((size + bs - 1) / bs))

# start_server NAME: a fault server over $work/www; sets PORT_<NAME>.
start_server() {
	local name=$1 portfile=$work/port.$1
	python3 "$SERVER" --root "$work/www" --port 0 --port-file "$portfile" \
		--access-log "$work/access.$name" >"$work/server.$name.log" 2>&1 &
	cleanup kill $!
	wait_until 10 test -s "$portfile"
	printf -v "PORT_$name" '%s' "$(cat "$portfile")"
}
# rule NAME JSON...: replace server NAME's rules with these.
rules() {
	local name=$1 port_var="PORT_$1"
	shift
	local list
	list=$(IFS=,; echo "[$*]")
	curl -fsS --max-time 5 -X POST --data "$list" "http://127.0.0.1:${!port_var}/__control/rules" >/dev/null
}
url() { local port_var="PORT_$1"; echo "http://127.0.0.1:${!port_var}/$2/"; }
served() { grep -c " 20[06] " "$work/access.$1" || true; } # data answered by server NAME

mkdir -p "$work/fuse"
n_mount=0
# mount_image ARGS...: mount-fuse with a fresh cache; unmount at exit.
mount_image() {
	n_mount=$((n_mount + 1))
	"$HTTPCLOOP" mount-fuse "$@" "$work/fuse" --cache "$work/cache$n_mount"
}
# unmount_image: unmount and wait for the server to exit (it saves its profile then).
unmount_image() {
	local pid
	pid=$(status_field pid)
	umount "$work/fuse"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}
cleanup umount -q -l "$work/fuse"
status_field() { "$HTTPCLOOP" status --json "$work/fuse" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['daemon']['$1'])"; }
# check_all: the whole image reads back right, within SECONDS.
check_all() {
	local limit=${1:-60} start=$SECONDS
	timeout "$limit" cmp "$work/fuse/image" "$source_image" || fail "image differs or took over ${limit}s"
}

start_server A
start_server B
start_server C

log "500 from the first mirror: the second serves everything (the manifest too)"
rules A '{"match": "/img/", "action": {"status": 500}}'
mount_image "$(url A img)" --mirror "$(url B img)"
check_all
check_eq 0 "$(served A)" "blocks served by the failing mirror"
[ "$(status_field mirror.0.errors)" -ge 1 ] || fail "mirror 0 shows no errors"
[ "$(status_field mirror.1.requests)" -ge 1 ] || fail "mirror 1 shows no requests"
unmount_image

log "resets on A, corruption on B, C good: right bytes"
rules A '{"match": "blocks/", "action": "reset"}'
rules B '{"match": "blocks/", "action": "corrupt"}'
mount_image "$(url A img)" --mirror "$(url B img)" --mirror "$(url C img)"
check_all
[ "$(status_field integrity_errors)" -ge 1 ] || fail "corruption was not noticed"
check_eq 0 "$(status_field blocks_failed)" "blocks failed"
unmount_image

log "a stalled mirror: failover within the transfer timeout"
rules A '{"match": "blocks/", "action": {"stall": 60}}'
rules B
mount_image "$(url A img)" --mirror "$(url B img)" --timeout 2
check_all 40
unmount_image

log "truncated and trickling answers; one server with transient 503s"
rules A '{"match": "blocks/", "action": {"truncate": 100}}'
rules B '{"match": "blocks/", "action": {"trickle": 200000}, "count": 4}'
mount_image "$(url A img)" --mirror "$(url B img)"
check_all
unmount_image
rules C '{"match": "blocks/", "action": {"status": 503}, "count": 6}'
mount_image "$(url C img)"
check_all
unmount_image

log "404 everywhere: a clear EIO, at once"
rules A '{"match": "blocks/", "action": {"status": 404}}'
rules B '{"match": "blocks/", "action": {"status": 410}}'
mount_image "$(url A img)" --mirror "$(url B img)"
start=$SECONDS
if dd if="$work/fuse/image" of=/dev/null bs=$bs count=1 status=none 2>"$work/err"; then
	fail "read succeeded with the block missing everywhere"
fi
grep -q "Input/output error" "$work/err" || fail "expected EIO: $(cat "$work/err")"
[ $((SECONDS - start)) -le 5 ] || fail "404 everywhere took $((SECONDS - start))s"
unmount_image
rules A
rules B

log "pack mode: Range requests, strictly checked"
rules A '{"match": "blocks.pack", "action": "ignore_range"}'
rules B '{"match": "blocks.pack", "action": "wrong_range"}'
mount_image "$(url A pimg)" --mirror "$(url B pimg)" --mirror "$(url C pimg)"
check_all
grep -q "ignore_range" "$work/access.A" || fail "A never got a Range request"
[ "$(status_field mirror.2.requests)" -ge 1 ] || fail "the good mirror served nothing"
unmount_image
rules A
rules B
# Coalescing: a sequential read costs far fewer requests than blocks.
before=$(served C)
mount_image "$(url C pimg)"
check_all
requests=$(($(served C) - before))
[ "$requests" -lt $((blocks / 2)) ] || fail "pack mode made $requests requests for $blocks blocks"
unmount_image
rules C '{"match": "blocks.pack", "action": "ignore_range"}'
mount_image "$(url C pimg)" --attempts 2
if dd if="$work/fuse/image" of=/dev/null bs=$bs count=1 status=none 2>/dev/null; then
	fail "a 200 answer to a Range request was accepted"
fi
unmount_image
rules C

log "fail back: a recovered fast mirror gets the work again"
rules A '{"match": "blocks/", "action": {"status": 500}, "count": 2}'
rules B '{"match": "blocks/", "action": {"delay_ms": 300}}'
mount_image "$(url A img)" --mirror "$(url B img)" --no-readahead
dd if="$work/fuse/image" of=/dev/null bs=$bs count=8 status=none
sleep 4 # longer than A's bench
a_before=$(served A)
dd if="$work/fuse/image" of=/dev/null bs=$bs skip=20 count=16 status=none
[ $(($(served A) - a_before)) -ge 8 ] || fail "A served only $(($(served A) - a_before)) of 16 blocks after recovering"
check_all
unmount_image
rules B

log "readahead on sequential reads, none with --no-readahead"
mount_image "$(url C img)"
dd if="$work/fuse/image" of=/dev/null bs=$bs count=24 status=none
[ "$(status_field readahead_blocks)" -ge 1 ] || fail "no readahead"
unmount_image
mount_image "$(url C img)" --no-readahead
check_all
check_eq 0 "$(status_field readahead_blocks)" "readahead blocks with --no-readahead"
unmount_image

log "prefetch: the whole image, then it works offline"
mount_image "$(url C img)" --prefetch all
wait_until 30 bash -c "[ \"\$(\"$HTTPCLOOP\" status --json \"$work/fuse\" | python3 -c 'import json,sys; d=json.load(sys.stdin)[0][\"daemon\"]; print(d[\"blocks_cached\"] == d[\"blocks_total\"])')\" = True ]"
rules C '{"match": "/", "action": {"status": 503}}'
check_all
unmount_image
"$HTTPCLOOP" prefetch "$(url B img)" --cache "$work/cache-pre" >/dev/null
rules B '{"match": "/img/blocks", "action": {"status": 503}}'
"$HTTPCLOOP" mount-fuse "$(url B img)" "$work/fuse" --cache "$work/cache-pre"
check_all
unmount_image
rules B
rules C

log "boot profile: record the first reads, replay them before any read"
mount_image "$(url C img)" --no-readahead --record-profile "$work/profile"
for b in 40 3 17 55; do dd if="$work/fuse/image" of=/dev/null bs=$bs skip=$b count=1 status=none; done
unmount_image
sleep 0.2; sed -n 3,6p "$work/profile" | tr '\n' ' ' | grep -q '^40 3 17 55 $' || fail "profile: $(cat "$work/profile")"
mount_image "$(url C img)" --no-readahead --profile "$work/profile"
wait_until 10 bash -c "[ \"\$(\"$HTTPCLOOP\" status --json \"$work/fuse\" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"daemon\"][\"background_blocks\"])')\" -ge 4 ]"
check_all
unmount_image
log "fetch OK"
