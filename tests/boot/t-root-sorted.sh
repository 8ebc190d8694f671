#!/usr/bin/env bash
# Test 5, a boot-ordered image, the way the README tells users to make one: the system of
# test 1 boots once with a cache disk and httpcloop.record-profile=yes; scripts/boot-files
# turns the recorded profile into the files that boot read, in order; scripts/mkroot
# --image-only --fs squashfs --boot-files makes a squashfs image with those files first;
# that image boots from HTTP (cold, cache in RAM) to the marker, reads the test file
# correctly, and fetches a smaller share of its stored bytes than the ext4 image's cold
# boot did (the point of the layout).
# boot-timeout: 720
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
prepare_root
work=$RESULTS/work
rm -rf "$work"
mkdir -p "$work/www"
cleanup rm -rf "$work"
ln -s "$BOOT_BUILD/out/www/root" "$work/www/root"
serve_www "$work/www"
disk=$work/cache-disk.img
truncate -s 1G "$disk"
mkfs.ext4 -q -F -L hccache "$disk"

# share_of_stored IMAGE_DIR BYTES: BYTES as a share of IMAGE_DIR's stored block files, in %.
share_of_stored() {
	local stored
	stored=$(find -L "$1/blocks" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
	echo $(($2 * 100 / stored))
}

boot_guest record 400 "root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64 httpcloop.cache=LABEL=hccache httpcloop.record-profile=yes" \
	-drive "file=$disk,if=virtio,format=raw" || { tail -n 60 "$CONSOLE"; fail "the recording boot did not power off cleanly"; }
check_booted_from_http
ext4_share=$(share_of_stored "$BOOT_BUILD/out/www/root" "$(block_bytes)")
debugfs -R "cat /httpcloop/boot.profile" "$disk" >"$work/boot.profile" 2>/dev/null
grep -q '^httpcloop-profile 1' "$work/boot.profile" || fail "no boot profile on the cache disk"
log "ext4 image, cold: $(block_bytes) bytes of block files ($ext4_share % of the stored bytes); profile of $(($(wc -l <"$work/boot.profile") - 2)) blocks"

HTTPCLOOP=$HTTPCLOOP "$ROOT/scripts/boot-files" "$work/boot.profile" "$BOOT_BUILD/out/www/root" "$BOOT_BUILD/out/root.ext4" \
	>"$work/boot-files.txt" || fail "scripts/boot-files failed"
grep -qx 'usr/lib/systemd/systemd' "$work/boot-files.txt" || fail "the boot's files lack systemd itself: $(head -n 5 "$work/boot-files.txt")"
grep -qx "${TEST_FILE#/}" "$work/boot-files.txt" || fail "the boot's files lack the file the marker read, $TEST_FILE"
"$ROOT/scripts/mkroot" --image-only --httpcloop "$HTTPCLOOP" --fs squashfs --boot-files "$work/boot-files.txt" \
	--sign "$BOOT_BUILD/key.pem" "$BOOT_BUILD/tree" "$work/sorted" >"$work/mkroot.out" 2>&1 ||
	{ cat "$work/mkroot.out"; fail "scripts/mkroot --fs squashfs --boot-files failed"; }
ln -s "$work/sorted/www/root" "$work/www/sorted"
sorted_sha=$(sha256sum "$work/sorted/www/root/manifest" | cut -d' ' -f1)
log "sorted squashfs: $(wc -l <"$work/boot-files.txt") files first, $(stat -c %s "$work/sorted/root.squashfs") bytes"

: >"$NGINX_ACCESS_LOG"
boot_guest sorted 400 "root=httpcloop:http://$SERVER_IP/sorted/#sha256=$sorted_sha httpcloop.pubkey=$PUBKEY_B64" ||
	{ tail -n 60 "$CONSOLE"; fail "the sorted image's boot did not power off cleanly"; }
check_booted_from_http squashfs
sorted_bytes=$(awk '/"GET \/sorted\/blocks\// { n += $2 } END { print n + 0 }' "$NGINX_ACCESS_LOG")
sorted_share=$(share_of_stored "$work/sorted/www/root" "$sorted_bytes")
log "sorted squashfs, cold: $sorted_bytes bytes of block files ($sorted_share % of the stored bytes)"
[ "$sorted_bytes" -gt 0 ] || fail "the sorted image's boot fetched nothing"
[ "$sorted_share" -lt "$ext4_share" ] ||
	fail "the sorted image's cold boot fetched $sorted_share % of its stored bytes, the ext4 image's $ext4_share %: the layout did not help"
