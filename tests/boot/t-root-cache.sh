#!/usr/bin/env bash
# Test 2, persistent cache (InetBoot's local block cache): the system of test 1 boots twice
# with httpcloop.cache=LABEL=hccache, an ext4 file system on a second virtual disk. The
# first boot fetches its blocks and keeps them there; the second boot, from the same
# disk, fetches no block at all (nginx's log), and reads the same bytes.
# boot-timeout: 600
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
prepare_root
serve_www
disk=$RESULTS/cache-disk.img
rm -f "$disk"
truncate -s 1G "$disk"
mkfs.ext4 -q -F -L hccache "$disk"
cleanup rm -f "$disk"
append="root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64 httpcloop.cache=LABEL=hccache"
drive=(-drive "file=$disk,if=virtio,format=raw")

boot_guest cache-cold 400 "$append" "${drive[@]}" || { tail -n 60 "$CONSOLE"; fail "the first boot did not power off cleanly"; }
check_booted_from_http
grep -q "HCMARK status: .*cache: .* in /run/initramfs/httpcloop/disk/httpcloop/" "$CONSOLE" ||
	fail "the cache is not on the cache disk: $(grep 'HCMARK status: *cache' "$CONSOLE")"
cold_requests=$(block_requests)
log "first boot: $cold_requests block files fetched, $(block_bytes) bytes"
[ "$cold_requests" -gt 0 ] || fail "the first boot fetched nothing"
# What the first boot left on the disk: the image's cache directory with its present bits.
debugfs -R "ls -l /httpcloop" "$disk" 2>/dev/null | grep -q "$IMAGE_SHA" ||
	fail "no cache directory for image $IMAGE_SHA on the cache disk"

boot_guest cache-warm 400 "$append" "${drive[@]}" || { tail -n 60 "$CONSOLE"; fail "the second boot did not power off cleanly"; }
check_booted_from_http
check_eq "$cold_requests" "$(block_requests)" "block files fetched after the second boot (the first fetched $cold_requests)"
grep -q 'HCMARK status: *network: *0 blocks fetched' "$CONSOLE" ||
	fail "the second boot's daemon fetched blocks: $(grep 'HCMARK status: *network' "$CONSOLE")"
