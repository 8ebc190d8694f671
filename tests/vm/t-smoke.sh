#!/usr/bin/env bash
# The harness itself works: the guest runs the expected kernel, lo is up, and a file
# served by nginx on 127.0.0.1 comes back intact through curl, also by range.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

check_eq 1 "${HTTPCLOOP_VM:-}" HTTPCLOOP_VM
check_eq "$HTTPCLOOP_VM_KERNEL" "$(uname -r)" "uname -r"
check test -d "$HTTPCLOOP_SRC/tests/vm"
addrs=$(ip -4 -o addr show dev lo)
grep -q 'inet 127\.0\.0\.1/8' <<<"$addrs" || fail "lo has no 127.0.0.1: $addrs"

root=$(mktemp -d /tmp/www.XXXXXX)
# Not a multiple of any block size, so a truncated or padded copy shows.
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$root/blob"
start_nginx "$root" 8080

curl -fsS -o /tmp/blob http://127.0.0.1:8080/blob
check_eq "$(sha256sum <"$root/blob")" "$(sha256sum </tmp/blob)" "sha256 of the download"
wait_requests 1

# A range request gets a 206 with Accept-Ranges (what range-based clients rely on).
headers=$(curl -fsS -r 1000-1999 -o /tmp/part -D - http://127.0.0.1:8080/blob)
grep -q '^HTTP/1.1 206' <<<"$headers" || fail "no 206 reply: $headers"
grep -qi '^Accept-Ranges: bytes' <<<"$headers" || fail "no Accept-Ranges on 206: $headers"
cmp /tmp/part <(tail -c +1001 "$root/blob" | head -c 1000) || fail "range 1000-1999 differs"
wait_requests 2
log "smoke OK"
