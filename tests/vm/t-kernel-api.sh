#!/usr/bin/env bash
# The kernel side on its own (tests/kernel/api_selftest.cpp): every netlink command's
# refusals (non-owner answers, blocks out of range, misaligned or oversized seeds, bad
# cache files, claims of another image or cache file, removal while open, a truncated
# cache file, CAP_NET_ADMIN without CAP_SYS_ADMIN, a user+network namespace's root), then
# a bounded loop of random messages; afterwards the kernel log is clean (vm-run checks it)
# and the module unloads.
# vm-timeout: 180
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
selftest=$HTTPCLOOP_SRC/build/userspace/httpcloop_api_selftest
check test -x "$selftest"
check test -f "$HTTPCLOOP_KO"
insmod "$HTTPCLOOP_KO" io_timeout=5 || fail "insmod failed"
"$selftest" --random-iterations 3000 || { rmmod httpcloop || true; fail "the API selftest failed"; }
rmmod httpcloop || fail "the module does not unload after the selftest"
check test ! -e /sys/module/httpcloop
