#!/usr/bin/env bash
# The systemd units (systemd/): `systemd-analyze verify` accepts them (their programs and
# man page exist: the build's, and scripts/mkman's). mount-fuse tells a service manager
# (a stand-in for systemd's notification socket) READY=1 once the image can be read, in
# the foreground (httpcloop-fuse@.service) and in the background, with MAINPID= the
# process serving it; SIGTERM to that process unmounts. (attach under Type=notify:
# tests/vm/t-supervisor.sh.)
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-units-test.XXXXXX)
cleanup rm -rf "$work"

log "systemd-analyze verify"
mkdir -p "$work/units" "$work/man/man8"
"$HTTPCLOOP_SRC/scripts/mkman" --httpcloop "$HTTPCLOOP" --boot "$(dirname "$HTTPCLOOP")/httpcloop-boot" "$work/man/man8"
for unit in "$HTTPCLOOP_SRC"/systemd/*.service; do
	sed "s|/usr/bin/httpcloop|$HTTPCLOOP|" "$unit" >"$work/units/${unit##*/}"
done
(cd "$work/units" && MANPATH=$work/man systemd-analyze verify httpcloop@demo.service httpcloop-fuse@demo.service) ||
	fail "systemd-analyze verify refuses the units"
grep -q '^Type=notify$' "$HTTPCLOOP_SRC/systemd/httpcloop@.service" || fail "httpcloop@.service is not Type=notify"

head -c $((3 * 65536 + 512)) /dev/urandom >"$work/src.img"
"$HTTPCLOOP" mkimage --block-size 64K "$work/src.img" "$work/www/img" >/dev/null
start_nginx "$work/www" free >/dev/null
port=$NGINX_PORT
url=http://127.0.0.1:$port/img/
gone() { ! kill -0 "$1" 2>/dev/null; }
not_mounted() { ! mountpoint -q "$1"; }

log "mount-fuse --foreground, as httpcloop-fuse@.service runs it"
notify_listener "$work/notify.sock" "$work/notify.log"
mkdir -p "$work/fg"
NOTIFY_SOCKET=$work/notify.sock "$HTTPCLOOP" mount-fuse --foreground "$url" "$work/fg" --cache "$work/cache" 2>"$work/fg.log" &
pid=$!
cleanup umount -q -l "$work/fg"
wait_until 20 notified "$work/notify.log" READY=1
cmp "$work/fg/image" "$work/src.img" || fail "the image differs"
notified "$work/notify.log" "MAINPID=$pid" || fail "MAINPID is not mount-fuse's pid $pid: $(cat "$work/notify.log")"
notified "$work/notify.log" "STATUS=serving $work/fg/image" || fail "no STATUS: $(cat "$work/notify.log")"
kill -TERM "$pid"
wait_until 20 gone "$pid"
wait_until 10 not_mounted "$work/fg"

log "mount-fuse in the background: MAINPID names the process that stays"
notify_listener "$work/notify2.sock" "$work/notify2.log"
mkdir -p "$work/bg"
NOTIFY_SOCKET=$work/notify2.sock "$HTTPCLOOP" mount-fuse "$url" "$work/bg" --cache "$work/cache2"
cleanup umount -q -l "$work/bg"
notified_by_now "$work/notify2.sock" "$work/notify2.log" READY=1 || fail "no READY=1 when mount-fuse returned: $(cat "$work/notify2.log" 2>/dev/null)"
main=$(sed -n 's/^MAINPID=//p' "$work/notify2.log")
check test -n "$main"
grep -q httpcloop "/proc/$main/cmdline" || fail "MAINPID $main is not a httpcloop process"
cmp "$work/bg/image" "$work/src.img" || fail "the image differs (background)"
kill -TERM "$main"
wait_until 20 gone "$main"
wait_until 10 not_mounted "$work/bg"
log "units OK"
