#!/usr/bin/env bash
# The kernel side on its own (tests/kernel/api_selftest.cpp): every netlink command's
# refusals (non-owner answers, blocks out of range, misaligned or oversized seeds, bad
# cache files, claims of another image or cache file, removal while open, a truncated
# cache file, CAP_NET_ADMIN without CAP_SYS_ADMIN, a user+network namespace's root), then
# a bounded loop of random messages; afterwards the kernel log is clean (vm-run checks it)
# and the module unloads. Then a cache file whose reads hang (issue 11, finding 8): a FUSE
# file whose server holds the data back; the kernel reports the slow read after
# io_timeout (it used to wait in silence) and, once the file answers, every byte is right.
# vm-timeout: 180
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
selftest=$HTTPCLOOP_SRC/build/userspace/httpcloop_api_selftest
check test -x "$selftest"
check test -f "$HTTPCLOOP_KO"
insmod "$HTTPCLOOP_KO" io_timeout=5 || fail "insmod failed"
"$selftest" --random-iterations 3000 || { rmmod httpcloop || true; fail "the API selftest failed"; }

log "a cache file whose reads hang (a FUSE file held back by its server): reported, then right"
head -c $((16 * 64 * 1024)) /dev/urandom >/tmp/stuck.img
"$HTTPCLOOP" mkimage --block-size 64K /tmp/stuck.img /tmp/www/stuck >/dev/null
# Holds back every block file until /tmp/release exists (at most 60 s).
python3 "$HTTPCLOOP_SRC/tests/vm/gated_server.py" /tmp/www 8082 &
server=$!
cleanup kill "$server"
wait_until 10 curl -sf -o /dev/null http://127.0.0.1:8082/stuck/manifest
modprobe fuse 2>/dev/null || true
mkdir -p /tmp/stuckfuse
"$HTTPCLOOP" mount-fuse http://127.0.0.1:8082/stuck/ /tmp/stuckfuse --cache /tmp/stuckcache --no-readahead
cleanup umount -l /tmp/stuckfuse
"$selftest" --stuck-cache /tmp/stuckfuse/image /tmp/stuck.img >/tmp/stuck.out 2>&1 &
stuck=$!
slow_read_reported() { dmesg | grep -q "a read from the cache file has not finished within 1s"; }
wait_until 30 slow_read_reported
touch /tmp/release
wait "$stuck" || fail "the stuck-cache selftest failed: $(cat /tmp/stuck.out)"
cat /tmp/stuck.out
grep -q "^FAIL" /tmp/stuck.out && fail "the stuck-cache selftest failed"
umount /tmp/stuckfuse

rmmod httpcloop || fail "the module does not unload after the selftest"
check test ! -e /sys/module/httpcloop
