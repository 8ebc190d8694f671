#!/usr/bin/env bash
# Updates download only what changed (issue 12, item 6): version 1 of an image is read
# whole through `mount-fuse` into a cache directory; version 2, which changes 5 % of its
# blocks and moves none of the others, is then read whole with the same --cache: every
# block it shares with version 1 is copied from version 1's cache (verified against its
# plain_hash), and only the changed blocks are downloaded: the HTTP bytes are at most
# 1.2 x the stored size of the changed blocks. A shared block damaged in version 1's
# cache is downloaded instead and reads right; a cache of another user's is never read.
# Every byte read is compared with the source.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-reuse-test.XXXXXX)
cleanup rm -rf "$work"
BS=65536
BLOCKS=160

# Version 1: incompressible blocks. Version 2: 8 of its 160 blocks (5 %) rewritten.
head -c $((BS * BLOCKS)) /dev/urandom >"$work/v1.img"
cp "$work/v1.img" "$work/v2.img"
changed=(3 17 40 41 77 100 128 159)
for b in "${changed[@]}"; do
	head -c "$BS" /dev/urandom | dd of="$work/v2.img" bs="$BS" seek="$b" conv=notrunc status=none
done
"$HTTPCLOOP" mkimage --block-size 64K "$work/v1.img" "$work/www/v1" >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K "$work/v2.img" "$work/www/v2" >/dev/null
NGINX_LOG_FORMAT='$status $body_bytes_sent "$request"' start_nginx "$work/www" free >/dev/null
base=http://127.0.0.1:$NGINX_PORT

# read_whole VERSION CACHE: mounts VERSION, reads the image, compares it, unmounts;
# prints the daemon's status (key=value lines, before the unmount).
read_whole() {
	local version=$1 cache=$2 pid
	mkdir -p "$work/fuse"
	"$HTTPCLOOP" mount-fuse "$base/$version/" "$work/fuse" --cache "$cache" >/dev/null
	cmp "$work/fuse/image" "$work/$version.img" >&2 || { umount -l "$work/fuse"; fail "$version read through FUSE differs from its source"; }
	"$HTTPCLOOP" status --json "$work/fuse" >"$work/status.json"
	pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["daemon"]["pid"])' "$work/status.json")
	umount "$work/fuse"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[0]["daemon"]; [print(f"{k}={v}") for k, v in d.items()]' "$work/status.json"
}
field() { sed -n "s/^$1=//p" <<<"$2"; }
# http_bytes VERSION: bytes nginx sent for VERSION's block files since the log was cleared.
block_bytes() { awk -v v="/$1/blocks/" '$1 == 200 && index($0, v) { sum += $2 } END { print sum + 0 }' "$NGINX_ACCESS_LOG"; }
block_requests() { grep -c "GET /$1/blocks/" "$NGINX_ACCESS_LOG" || true; }

log "version 1, read whole into an empty cache"
status=$(read_whole v1 "$work/cache")
check_eq "$BLOCKS" "$(field blocks_fetched "$status")" "v1 blocks fetched"
check_eq 0 "$(field blocks_reused "$status")" "v1 blocks reused"
v1_id=$(field image_id "$status")
check test -s "$work/cache/$v1_id/manifest"
check_eq "$(sha256sum <"$work/cache/$v1_id/manifest" | cut -d' ' -f1)" "$v1_id" "SHA-256 of v1's manifest copy"

log "version 2 with the same cache: only the changed blocks are downloaded"
: >"$NGINX_ACCESS_LOG"
status=$(read_whole v2 "$work/cache")
check_eq "${#changed[@]}" "$(field blocks_fetched "$status")" "v2 blocks fetched"
check_eq $((BLOCKS - ${#changed[@]})) "$(field blocks_reused "$status")" "v2 blocks copied from v1's cache"
check_eq "${#changed[@]}" "$(block_requests v2)" "v2 block requests at the server"
stored=$(python3 - "$work/www/v2/manifest" "${changed[@]}" <<'PY'
import struct, sys
m = open(sys.argv[1], "rb").read()
header, = struct.unpack_from("<I", m, 12)
entry, = struct.unpack_from("<H", m, 30)
print(sum(struct.unpack_from("<I", m, header + int(b) * entry + 64)[0] for b in sys.argv[2:]))
PY
)
sent=$(block_bytes v2)
log "v2: $sent bytes of blocks over HTTP; the changed blocks are $stored bytes stored"
python3 -c "import sys; sys.exit(0 if $sent <= 1.2 * $stored else 1)" ||
	fail "v2 downloaded $sent bytes, more than 1.2 x the $stored stored bytes of its changed blocks"

log "a shared block damaged in version 1's cache is downloaded, not used"
rm -rf "$work/cache/$(field image_id "$status")" # v2's cache: start it again
printf '\xff\xfe' | dd of="$work/cache/$v1_id/data" bs=1 seek=$((5 * BS + 100)) conv=notrunc status=none
: >"$NGINX_ACCESS_LOG"
status=$(read_whole v2 "$work/cache")
check_eq 1 "$(field reuse_mismatches "$status")" "copies that did not verify"
check_eq $((${#changed[@]} + 1)) "$(field blocks_fetched "$status")" "v2 blocks fetched with one bad copy"
check_eq $((${#changed[@]} + 1)) "$(block_requests v2)" "v2 block requests with one bad copy"

log "a cache directory writable by others is not read"
rm -rf "$work/cache/$(field image_id "$status")"
chmod g+w "$work/cache/$v1_id"
: >"$NGINX_ACCESS_LOG"
status=$(read_whole v2 "$work/cache")
check_eq 0 "$(field blocks_reused "$status")" "blocks reused from a group-writable cache"
check_eq "$BLOCKS" "$(field blocks_fetched "$status")" "v2 blocks fetched without v1's cache"
log "reuse OK"
