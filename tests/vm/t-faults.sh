#!/usr/bin/env bash
# Faults through the kernel driver: a corrupted block file on the server makes reads of
# that block fail with EIO (never wrong bytes) while the rest stays readable; a daemon
# killed with SIGKILL makes pending and new reads of missing blocks fail within the
# dead_timeout, cached blocks stay readable, and nothing hangs.
# vm-timeout: 240
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

dead_timeout=4
load_module dead_timeout=$dead_timeout

bs=$((64 * 1024))
blocks=64
source_image=/tmp/random.img
head -c $((blocks * bs + 4096)) /dev/urandom >"$source_image" # short last block
www=/tmp/www
"$HTTPCLOOP" mkimage --block-size 64K --codec zlib "$source_image" "$www/img"
start_nginx "$www" 8080

bad=5
file=$(stored_block_file "$www/img" $bad)
check test -f "$file"
printf '\xff' | dd of="$file" bs=1 seek=100 conv=notrunc status=none

dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache /tmp/cache --attempts 2)
cleanup "$HTTPCLOOP" detach "$dev"
size=$(stat -c %s "$source_image")

log "the corrupted block fails with EIO"
if err=$(dd if="$dev" of=/tmp/out bs=$bs skip=$bad count=1 iflag=direct status=none 2>&1); then
	fail "reading a corrupted block succeeded"
fi
grep -q "Input/output error" <<<"$err" || fail "expected EIO, got: $err"
# Again: the daemon tries again on the next read, and fails again.
if dd if="$dev" of=/tmp/out bs=$bs skip=$bad count=1 iflag=direct status=none 2>/dev/null; then
	fail "second read of a corrupted block succeeded"
fi

log "everything else reads back right"
cmp_range "$dev" "$source_image" 0 $((bad * bs)) || fail "bytes before the bad block differ"
cmp_range "$dev" "$source_image" $(((bad + 1) * bs)) $((size - (bad + 1) * bs)) ||
	fail "bytes after the bad block differ"
status=$("$HTTPCLOOP" status --json "$dev")
python3 -c '
import json, sys
s = json.loads(sys.argv[1])[0]
assert s["daemon"]["integrity_errors"] >= 2, s
assert s["daemon"]["blocks_failed"] >= 2, s
assert s["kernel"]["blocks_present"] == s["kernel"]["blocks_total"] - 1, s
' "$status" || fail "unexpected status: $status"

log "daemon killed while reads wait"
# A fresh device whose blocks are all missing.
"$HTTPCLOOP" detach "$dev"
dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache /tmp/cache2)
check_eq /dev/httpcloop0 "$dev" "device"
dd if="$dev" of=/tmp/first bs=$bs count=1 iflag=direct status=none
cmp /tmp/first <(head -c $bs "$source_image") || fail "block 0 differs"
pid=$(cat /sys/block/httpcloop0/httpcloop/daemon_pid)
# Its supervisor first: it would start a new daemon (tests/vm/t-supervisor.sh). Here no
# daemon comes back.
kill -KILL "$(awk '{print $4}' "/proc/$pid/stat")"
kill -STOP "$pid"
# This read parks in the kernel: the daemon cannot answer.
start=$SECONDS
(
	if dd if="$dev" of=/dev/null bs=$bs skip=10 count=1 iflag=direct status=none 2>/tmp/pending.err; then
		echo 0 >/tmp/pending.rc
	else
		echo $? >/tmp/pending.rc
	fi
) &
reader=$!
wait_until 10 grep -qv '^0$' /sys/block/httpcloop0/httpcloop/parked
kill -KILL "$pid"
wait "$reader"
elapsed=$((SECONDS - start))
check_eq 1 "$(cat /tmp/pending.rc)" "exit status of the pending read"
grep -q "Input/output error" /tmp/pending.err || fail "pending read: $(cat /tmp/pending.err)"
[ "$elapsed" -le $((dead_timeout + 6)) ] || fail "pending read took ${elapsed}s to fail"
check_eq 0 "$(cat /sys/block/httpcloop0/httpcloop/daemon_alive)" "daemon_alive"

log "after the daemon died: cached blocks read, missing ones fail at once"
dd if="$dev" of=/tmp/again bs=$bs count=1 iflag=direct status=none
cmp /tmp/again /tmp/first || fail "cached block 0 differs after the daemon died"
start=$SECONDS
if dd if="$dev" of=/dev/null bs=$bs skip=20 count=1 iflag=direct status=none 2>/dev/null; then
	fail "a missing block was read with no daemon"
fi
[ $((SECONDS - start)) -le 2 ] || fail "a read with a dead daemon took $((SECONDS - start))s"
"$HTTPCLOOP" status "$dev"

log "detach without a daemon"
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0
log "faults OK"
