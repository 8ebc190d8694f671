#!/usr/bin/env bash
# Findings of the daemon-recovery review (issue 11), each checked the way it was seen:
#  2. a read that times out (io_timeout) must not leave its block marked as being
#     fetched: the next read of that block sends FETCH again (before the fix it waited a
#     whole io_timeout for an answer that was never asked for);
#  3. SIGTERM, SIGINT and SIGHUP detach the device cleanly (the daemon removes it and
#     exits) instead of killing the daemon through a decode thread that did not block them;
#  8. FETCHes lost to a full netlink socket (ENOBUFS) are asked for again by the daemon
#     itself (it claims its own device: the kernel re-sends every outstanding one), where
#     before the daemon died on the receive error.
# vm-timeout: 240
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

io_timeout=2
load_module io_timeout=$io_timeout

bs=$((64 * 1024))
source_image=/tmp/random.img
head -c $((32 * bs)) /dev/urandom >"$source_image"
"$HTTPCLOOP" mkimage --block-size 64K "$source_image" /tmp/www/img >/dev/null
start_nginx /tmp/www 8080
sysfs=/sys/block/httpcloop0/httpcloop

log "finding 2: a timed-out read of block 3, then the same block read again"
dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache /tmp/cache-timeout)
cleanup _detach_if_attached "$dev"
pid=$(cat "$sysfs/daemon_pid")
kill -STOP "$pid" # the daemon answers nothing while stopped
cleanup kill -CONT "$pid"
# (the partition scan at attach sent FETCHes of its own: count from here)
before=$(cat "$sysfs/fetches_sent")
if dd if="$dev" of=/dev/null bs=$bs skip=3 count=1 iflag=direct status=none 2>/dev/null; then
	fail "a read of a block nobody fetches succeeded"
fi
check_eq $((before + 1)) "$(cat "$sysfs/fetches_sent")" "FETCHes sent after the first read"
if dd if="$dev" of=/dev/null bs=$bs skip=3 count=1 iflag=direct status=none 2>/dev/null; then
	fail "the second read succeeded with the daemon stopped"
fi
check_eq $((before + 2)) "$(cat "$sysfs/fetches_sent")" "FETCHes sent after the second read (the first timed out)"
kill -CONT "$pid"
# The daemon now answers both FETCHes (one download); the block is readable and right.
ok=""
for _ in 1 2 3 4 5; do
	if dd if="$dev" of=/tmp/block3 bs=$bs skip=3 count=1 iflag=direct status=none 2>/dev/null; then
		ok=1
		break
	fi
done
[ -n "$ok" ] || fail "block 3 never became readable once the daemon ran again"
cmp /tmp/block3 <(dd if="$source_image" bs=$bs skip=3 count=1 status=none) || fail "block 3 differs from the source"
cmp "$dev" "$source_image" || fail "the device differs from the source"
"$HTTPCLOOP" detach "$dev"

for sig in TERM INT HUP; do
	log "finding 3: SIG$sig to the daemon detaches the device"
	dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache "/tmp/cache-$sig")
	pid=$(cat "$sysfs/daemon_pid")
	cmp "$dev" "$source_image" || fail "the device differs from the source"
	kill -"$sig" "$pid"
	wait_until 20 test ! -e /proc/"$pid"
	# Removed by the daemon itself: a killed daemon would leave the device behind.
	wait_until 10 test ! -e /sys/block/httpcloop0
	journal=$(dmesg | grep -c 'daemon gone' || true)
	check_eq 0 "$journal" "kernel messages about a lost daemon after SIG$sig"
done

log "finding 3: SIGTERM while the device is mounted is refused; the daemon keeps serving"
mkfs.ext4 -q -F /tmp/fs.img 8M
"$HTTPCLOOP" mkimage --block-size 64K /tmp/fs.img /tmp/www/fs >/dev/null
dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/fs/ --cache /tmp/cache-fs)
cleanup _detach_if_attached "$dev"
mkdir -p /tmp/mnt
mount -o ro "$dev" /tmp/mnt
cleanup umount /tmp/mnt
pid=$(cat "$sysfs/daemon_pid")
kill -TERM "$pid"
sleep 2
check test -e /proc/"$pid"
check test -e /sys/block/httpcloop0
ls /tmp/mnt >/dev/null
umount /tmp/mnt
kill -TERM "$pid"
wait_until 20 test ! -e /proc/"$pid"
wait_until 10 test ! -e /sys/block/httpcloop0

log "finding 8: FETCHes lost to a full netlink socket are asked for again"
head -c $((64 * bs)) /dev/urandom >/tmp/many.img
"$HTTPCLOOP" mkimage --block-size 64K /tmp/many.img /tmp/www/many >/dev/null
# A receive buffer of a few messages (the default is 4 MiB); the device's own io_timeout
# keeps the module's 2 s from failing the reads that wait meanwhile.
dev=$(HTTPCLOOP_NETLINK_RCVBUF=4096 "$HTTPCLOOP" attach http://127.0.0.1:8080/many/ --cache /tmp/cache-many \
	--no-readahead --io-timeout 120)
cleanup _detach_if_attached "$dev"
check_eq 120 "$(cat "$sysfs/io_timeout")" "the device's io_timeout"
pid=$(cat "$sysfs/daemon_pid")
kill -STOP "$pid"
pids=()
for b in $(seq 1 48); do
	dd if="$dev" of="/tmp/many-$b" bs=$bs skip="$b" count=1 iflag=direct status=none &
	pids+=($!)
done
parked_at_least() { [ "$(cat "$sysfs/parked")" -ge "$1" ]; }
wait_until 30 parked_at_least 48
kill -CONT "$pid"
for p in "${pids[@]}"; do
	wait "$p" || fail "a read whose FETCH was lost failed"
done
for b in $(seq 1 48); do
	cmp "/tmp/many-$b" <(dd if=/tmp/many.img bs=$bs skip="$b" count=1 status=none) || fail "block $b differs"
done
check_eq "$pid" "$(cat "$sysfs/daemon_pid")" "the daemon (not replaced)"
check_eq 0 "$(cat "$sysfs/claims")" "take-overs"
dmesg | grep -q "httpcloop0: the daemon asks for every outstanding block again" ||
	fail "the socket never overflowed: the test did not test the recovery"
"$HTTPCLOOP" detach "$dev"
