#!/usr/bin/env bash
# A device's daemon comes back by itself (issue 11): `attach` runs the daemon under a
# supervisor, which starts a new daemon that takes the device over (DEV_CLAIM) whenever
# the serving one dies: reads waiting across a SIGKILL complete with the right bytes.
# `httpcloop restart` replaces a live daemon (an upgrade in place) while a reader is
# busy: nothing fails, the old daemon and its supervisor exit once the new one serves.
# The daemon is told when its device is removed by someone else and exits. Started by
# systemd (Type=notify), the supervisor says READY=1 with MAINPID= itself once the device
# is there; SIGTERM to it detaches.
# vm-timeout: 300
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

load_module dead_timeout=60 io_timeout=120
bs=$((64 * 1024))
blocks=160
head -c $((blocks * bs)) /dev/urandom >/tmp/a.img
"$HTTPCLOOP" mkimage --block-size 64K /tmp/a.img /tmp/www/a >/dev/null
start_nginx /tmp/www 8080
sysfs=/sys/block/httpcloop0/httpcloop

mkdir -p /tmp/profdir
dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/a/ --cache /tmp/cache --no-readahead \
	--record-profile /tmp/profdir/boot.profile)
cleanup _detach_if_attached "$dev"
cmp_range "$dev" /tmp/a.img 0 $((4 * bs)) || fail "blocks 0-3 differ"

# (functions, so that each retry reads sysfs again)
daemon_pid() { cat "$sysfs/daemon_pid"; }
parked_at_least() { [ "$(cat "$sysfs/parked")" -ge "$1" ]; }
served_by_new_daemon() { [ "$(cat "$sysfs/daemon_alive")" = 1 ] && [ "$(daemon_pid)" != "$1" ]; }
parent_of() { awk '{print $4}' "/proc/$1/stat"; }

first=$(daemon_pid)
supervisor=$(parent_of "$first")
check test "$supervisor" -gt 1
grep -q httpcloop "/proc/$supervisor/cmdline" || fail "the daemon's parent is not the supervisor: $(tr '\0' ' ' <"/proc/$supervisor/cmdline")"
log "daemon $first under supervisor $supervisor"

# The profile's directory no longer at its path, as after switch_root for a root daemon:
# the restarted daemons must go on recording into it (they used to fail to open it).
mv /tmp/profdir /tmp/profdir-moved

log "the daemon stops answering, reads of missing blocks wait, then it is killed"
kill -STOP "$first"
pids=()
for b in 10 14 18 22; do
	dd if="$dev" of="/tmp/read-$b" bs=$bs skip=$b count=1 iflag=direct status=none &
	pids+=($!)
done
wait_until 20 parked_at_least 4
kill -KILL "$first"
wait_until 20 served_by_new_daemon "$first"
second=$(daemon_pid)
check_eq "$supervisor" "$(parent_of "$second")" "the new daemon's parent"
for p in "${pids[@]}"; do
	wait "$p" || fail "a read waiting across the restart failed"
done
for b in 10 14 18 22; do
	cmp "/tmp/read-$b" <(dd if=/tmp/a.img bs=$bs skip=$b count=1 status=none) || fail "block $b differs"
done
check_eq 1 "$(cat "$sysfs/claims")" "claims after one restart"

log "killed three times in a row, soon after each start"
prev=$second
for i in 1 2 3; do
	kill -KILL "$prev"
	wait_until 30 served_by_new_daemon "$prev"
	prev=$(daemon_pid)
done
check_eq 4 "$(cat "$sysfs/claims")" "claims after four restarts"
cmp_range "$dev" /tmp/a.img $((40 * bs)) $((20 * bs)) || fail "blocks 40-59 differ after the restarts"
profile_has_block_59() { grep -qx 59 /tmp/profdir-moved/boot.profile; }
wait_until 10 profile_has_block_59
for b in 0 10 22 40; do
	grep -qx $b /tmp/profdir-moved/boot.profile || fail "block $b missing from the profile: $(cat /tmp/profdir-moved/boot.profile)"
done
check test ! -e /tmp/profdir
mv /tmp/profdir-moved /tmp/profdir # `restart` starts a daemon from the attach's command line
status=$("$HTTPCLOOP" status "$dev")
grep -q "daemon pid $prev" <<<"$status" || fail "status does not show the current daemon: $status"
grep -q "restarts: taken over by a new daemon 4 times$" <<<"$status" || fail "status does not count the restarts: $status"

log "httpcloop restart while a reader is busy"
old=$prev
old_supervisor=$(parent_of "$old")
cmp "$dev" /tmp/a.img >/tmp/reader.out 2>&1 &
reader=$!
out=$("$HTTPCLOOP" restart "$dev") || fail "restart failed: $out"
check_eq "$dev" "$out" "restart prints"
new=$(daemon_pid)
[ "$new" != "$old" ] || fail "daemon_pid still $old after the restart"
wait "$reader" || fail "a read across the restart failed or differed: $(cat /tmp/reader.out)"
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until 20 gone "$old"
wait_until 20 gone "$old_supervisor"
check_eq 5 "$(cat "$sysfs/claims")" "claims after the restart"
check_eq 0 "$(cat "$sysfs/io_errors")" "I/O errors"
new_supervisor=$(parent_of "$new")
[ "$new_supervisor" != "$old_supervisor" ] || fail "the new daemon runs under the old supervisor"

log "a restart of a device nobody attached is refused"
if out=$("$HTTPCLOOP" restart /dev/httpcloop7 2>&1); then fail "restart of httpcloop7 succeeded: $out"; fi
grep -q "cannot restart /dev/httpcloop7: .*httpcloop7.attach" <<<"$out" || fail "no clear refusal: $out"
check_eq "$new" "$(daemon_pid)" "daemon after the refused restart"

log "removed by someone else: the daemon is told and exits, and its supervisor with it"
rm "/run/httpcloop/httpcloop0.sock" # so that detach removes the device through the kernel
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0
wait_until 20 gone "$new"
wait_until 20 gone "$new_supervisor"

log "under systemd (Type=notify, as systemd/httpcloop@.service): READY=1 names the supervisor; SIGTERM to it detaches"
notify_listener /tmp/notify.sock /tmp/notify.log
mkdir -p /tmp/profdir
dev=$(NOTIFY_SOCKET=/tmp/notify.sock "$HTTPCLOOP" attach http://127.0.0.1:8080/a/ --cache /tmp/cache \
	--no-readahead --record-profile /tmp/profdir/boot.profile)
cmp_range "$dev" /tmp/a.img 0 $((8 * bs)) || fail "blocks 0-7 differ after re-attaching"
daemon=$(daemon_pid)
supervisor=$(parent_of "$daemon")
wait_until 5 notified /tmp/notify.log READY=1
cat /tmp/notify.log
notified /tmp/notify.log "MAINPID=$supervisor" || fail "the notification does not name the supervisor $supervisor"
notified /tmp/notify.log "STATUS=serving $dev" || fail "the notification does not name $dev"
kill -TERM "$supervisor"
wait_until 20 gone "$supervisor"
check test ! -e /sys/block/httpcloop0
check test ! -e /proc/"$daemon"
