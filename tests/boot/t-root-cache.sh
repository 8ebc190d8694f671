#!/usr/bin/env bash
# Test 2, persistent cache (InetBoot's local block cache): the system of test 1 boots twice
# with httpcloop.cache=LABEL=hccache, an ext4 file system on a second virtual disk. The
# first boot fetches its blocks and keeps them there, those of its shutdown included; the
# second boot, from the same disk, downloads none of them again (nginx's log, block by
# block), and reads the same bytes. A boot is not byte-for-byte the same as the last one
# (the journal, random seeds, timers): the second may read a block the first never read,
# which it must fetch; at most a handful (seen: 1 of 488 with 128 KiB blocks).
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
first_boot=$(grep '"GET /root/blocks/' "$NGINX_ACCESS_LOG" | head -n "$cold_requests" | sort)
second_boot=$(grep '"GET /root/blocks/' "$NGINX_ACCESS_LOG" | tail -n +"$((cold_requests + 1))" | sort)
again=$(comm -12 <(cut -d' ' -f3- <<<"$first_boot" | sort -u) <(cut -d' ' -f3- <<<"$second_boot" | sort -u))
[ -z "$again" ] || fail "the second boot downloaded blocks the first had fetched (the cache lost them): $again"
new=$(grep -c . <<<"$second_boot" || true)
log "second boot: $new block files fetched, none of them fetched before"
[ "$new" -le $((cold_requests / 50 + 2)) ] || fail "the second boot fetched $new block files (the first: $cold_requests)"
fetched=$(grep -a 'HCMARK status: *network:' "$CONSOLE" | sed -n 's/.*network: *\([0-9]*\) blocks fetched.*/\1/p')
[ -n "$fetched" ] && [ "$fetched" -le "$new" ] ||
	fail "the second boot's daemon reports other fetches than nginx saw ($new): $(grep -a 'HCMARK status: *network' "$CONSOLE")"
