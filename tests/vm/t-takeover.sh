#!/usr/bin/env bash
# Take-over (issue 11): a device outlives its daemon. Reads wait while the daemon is gone;
# `httpcloop attach --recover DEVICE` starts a new daemon with the original attach's URL,
# options and cache, which claims the device (DEV_CLAIM): the kernel asks it again for
# every block the waiting reads need, and they complete with the right bytes, none fails.
# A claim naming another image, or another cache file, is refused and changes nothing.
# vm-timeout: 300
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

load_module dead_timeout=60 io_timeout=120
bs=$((64 * 1024))
head -c $((48 * bs)) /dev/urandom >/tmp/a.img
head -c $((48 * bs)) /dev/urandom >/tmp/b.img
"$HTTPCLOOP" mkimage --block-size 64K /tmp/a.img /tmp/www/a >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K /tmp/b.img /tmp/www/b >/dev/null
start_nginx /tmp/www 8080
sysfs=/sys/block/httpcloop0/httpcloop
record=/run/httpcloop/httpcloop0.attach

dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/a/ --cache /tmp/cache --no-readahead)
cleanup _detach_if_attached "$dev"
check test -s "$record"
cmp_range "$dev" /tmp/a.img 0 $((4 * bs)) || fail "blocks 0-3 differ"
check_eq 0 "$(cat "$sysfs/claims")" "claims after attach"

log "the daemon stops answering, reads of missing blocks wait, then it is killed"
old=$(cat "$sysfs/daemon_pid")
# Its supervisor first, which would otherwise start a new daemon by itself (t-supervisor).
kill -KILL "$(awk '{print $4}' "/proc/$old/stat")"
kill -STOP "$old"
pids=()
for b in 10 14 18 22 30 40; do
	dd if="$dev" of="/tmp/read-$b" bs=$bs skip=$b count=1 iflag=direct status=none &
	pids+=($!)
done
# (a function, so that each retry reads the file again)
parked_at_least() { [ "$(cat "$sysfs/parked")" -ge "$1" ]; }
daemon_alive_is() { [ "$(cat "$sysfs/daemon_alive")" = "$1" ]; }
wait_until 20 parked_at_least 6
kill -KILL "$old"
wait_until 20 daemon_alive_is 0
check_eq 6 "$(cat "$sysfs/parked")" "reads waiting with no daemon"

log "a claim for another image is refused"
python3 - "$record" <<'PY'
import sys
items = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
items = [b"http://127.0.0.1:8080/b/" if i == b"http://127.0.0.1:8080/a/" else i for i in items]
open(sys.argv[1] + ".b", "wb").write(b"".join(i + b"\0" for i in items))
PY
cp "$record" /tmp/record.orig
cp "$record.b" "$record"
if out=$("$HTTPCLOOP" attach --recover "$dev" 2>&1); then fail "a daemon for image b took over image a's device: $out"; fi
grep -q "serves another image" <<<"$out" || fail "no clear refusal: $out"
log "refused: $out"

log "a claim with another cache file is refused"
python3 - /tmp/record.orig "$record" <<'PY'
import sys
items = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
items = [b"/tmp/other-cache" if i == b"/tmp/cache" else i for i in items]
open(sys.argv[2], "wb").write(b"".join(i + b"\0" for i in items))
PY
if out=$("$HTTPCLOOP" attach --recover "$dev" 2>&1); then fail "a daemon with another cache took over: $out"; fi
grep -q "another cache file" <<<"$out" || fail "no clear refusal: $out"
log "refused: $out"
check_eq 0 "$(cat "$sysfs/claims")" "claims after the refusals"
check_eq 6 "$(cat "$sysfs/parked")" "reads still waiting"
if "$HTTPCLOOP" attach --recover "$dev" --parallel 4 2>/dev/null; then fail "--recover took another option"; fi

log "the original attach's daemon comes back and takes over"
cp /tmp/record.orig "$record"
check_eq "$dev" "$("$HTTPCLOOP" attach --recover "$dev")" "attach --recover prints"
new=$(cat "$sysfs/daemon_pid")
[ "$new" != "$old" ] || fail "daemon_pid still $old"
check test -e "/proc/$new"
check_eq 1 "$(cat "$sysfs/claims")" "claims"
for p in "${pids[@]}"; do
	wait "$p" || fail "a read waiting across the take-over failed"
done
for b in 10 14 18 22 30 40; do
	cmp "/tmp/read-$b" <(dd if=/tmp/a.img bs=$bs skip=$b count=1 status=none) || fail "block $b differs"
done
cmp "$dev" /tmp/a.img || fail "the device differs from the image after the take-over"
check_eq 0 "$(cat "$sysfs/io_errors")" "I/O errors"
status=$("$HTTPCLOOP" status "$dev")
grep -q "daemon pid $new" <<<"$status" || fail "status does not show the new daemon: $status"
grep -q "restarts: taken over by a new daemon 1 time$" <<<"$status" || fail "status does not count the take-over: $status"
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0
