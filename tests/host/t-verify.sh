#!/usr/bin/env bash
# `httpcloop verify`: a published image (block files, a pack, over HTTP) passes; a damaged
# block file, a short one and a damaged pack are each reported and make it exit 1. A cache
# on untrusted storage: a block damaged in the cache file is found by `verify --cache`,
# forgotten, and fetched again by `mount-fuse --verify-cache`, which then reads right.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-verify-test.XXXXXX)
cleanup rm -rf "$work"
bs=$((64 * 1024))
head -c $((20 * bs)) /dev/urandom >"$work/src.img"
{ seq 1 200000 || true; } | head -c $((10 * bs + 5)) >>"$work/src.img"
"$HTTPCLOOP" mkimage --block-size 64K "$work/src.img" "$work/www/img" >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K --pack "$work/src.img" "$work/www/pimg" >/dev/null
blocks=$(( ($(stat -c %s "$work/src.img") + bs - 1) / bs ))

log "good images pass"
"$HTTPCLOOP" verify "$work/www/img" | grep -q "$blocks blocks checked.*: 0 bad" || fail "block files"
"$HTTPCLOOP" verify "$work/www/pimg" | grep -q ": 0 bad" || fail "pack"
start_nginx "$work/www" free >/dev/null
url=http://127.0.0.1:$NGINX_PORT/img/
"$HTTPCLOOP" verify "$url" | grep -q ": 0 bad" || fail "over HTTP"

log "damage is reported, and fails the command"
cp -r "$work/www/img" "$work/bad"
file=$(stored_block_file "$work/bad" "$(unique_block "$work/bad" 3)")
printf 'x' | dd of="$file" bs=1 seek=7 conv=notrunc status=none
other=$(stored_block_file "$work/bad" "$(unique_block "$work/bad" 12)")
truncate -s -1 "$other"
if out=$("$HTTPCLOOP" verify "$work/bad" 2>&1); then fail "verify passed a damaged image: $out"; fi
grep -q "hash mismatch" <<<"$out" || fail "no hash mismatch reported: $out"
grep -q "stored size" <<<"$out" || fail "short block file not reported: $out"
grep -q ": 2 bad" <<<"$out" || fail "expected 2 bad blocks: $out"
cp -r "$work/www/pimg" "$work/badpack"
printf 'x' | dd of="$work/badpack/blocks.pack" bs=1 seek=$((3 * bs + 11)) conv=notrunc status=none
if "$HTTPCLOOP" verify "$work/badpack" >/dev/null 2>&1; then fail "verify passed a damaged pack"; fi

log "a damaged cache is repaired"
mkdir -p "$work/fuse"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache"
cleanup umount -q -l "$work/fuse"
cmp "$work/fuse/image" "$work/src.img" || fail "first read differs"
umount "$work/fuse"
sleep 1
data=$(echo "$work"/cache/*/data)
printf 'zz' | dd of="$data" bs=1 seek=$((5 * bs + 100)) conv=notrunc status=none
requests=$(http_requests_count)
if out=$("$HTTPCLOOP" verify --cache "$work/cache" "$url" 2>&1); then fail "verify --cache passed: $out"; fi
grep -q "block 5: cached plaintext does not match" <<<"$out" || fail "damaged block not named: $out"
"$HTTPCLOOP" verify --cache "$work/cache" "$url" | grep -q ": 0 bad" || fail "bad block was not forgotten"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache" --verify-cache
cmp "$work/fuse/image" "$work/src.img" || fail "repaired cache reads wrong bytes"
umount "$work/fuse"
sleep 0.5
# Two manifest loads by verify --cache, one by mount-fuse, and one block fetched again.
check_eq 1 "$(( $(grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG") - $(head -n "$requests" "$NGINX_ACCESS_LOG" | grep -c ' /img/blocks/') ))" "blocks fetched again"
log "verify OK"
