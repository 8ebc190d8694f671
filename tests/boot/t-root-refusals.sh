#!/usr/bin/env bash
# Test 4, refusals: a wrong #sha256=, a manifest signed by another key and an unreachable
# server each stop the boot in the initramfs with a message saying what went wrong and
# what to check, then initramfs-tools' panic (here panic=-1: reboot, which ends QEMU);
# no root is ever mounted from unverified data, and no block is fetched.
# boot-timeout: 420
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
prepare_root
serve_www

# refused NAME APPEND NEEDLE: the boot must stop with NEEDLE on the console, before any
# root is mounted.
refused() {
	local name=$1 append=$2 needle=$3
	boot_guest "$name" 200 "$append" || fail "$name: QEMU did not end by itself (status $?)"
	console_has "$needle" || { tail -n 30 "$CONSOLE"; fail "$name: no '$needle' on the console"; }
	console_has 'httpcloop: cannot mount the root file system' || fail "$name: no clear message"
	console_has 'httpcloop: check ' || fail "$name: the message does not say what to check"
	console_has 'Rebooting automatically due to panic= boot argument' || fail "$name: no initramfs panic"
	! console_has 'EXT4-fs \(httpcloop' || fail "$name: the image was mounted"
	! console_has 'HCMARK' || fail "$name: the system booted"
	check_console_clean
	check_eq 0 "$(block_requests)" "$name: block files fetched"
}

wrong_sha=$(printf '%s' "$IMAGE_SHA" | tr '0-9a-f' '1-9a-f0')
refused wrong-sha256 "root=httpcloop:$IMAGE_URL#sha256=$wrong_sha httpcloop.pubkey=$PUBKEY_B64" \
	"SHA-256 mismatch: got $IMAGE_SHA, pinned $wrong_sha"
refused other-key "root=httpcloop:$IMAGE_URL httpcloop.pubkey=$OTHER_B64" "signature"
# Nothing answers there: the restricted network forwards only 10.0.2.100:80.
refused unreachable "root=httpcloop:http://$SERVER_IP:8080/root/#sha256=$IMAGE_SHA" "10.0.2.100:8080"
refused bad-parameter "root=httpcloop:$IMAGE_URL httpcloop.overlay=sometimes" "httpcloop.overlay=sometimes"
refused bad-read-ahead "root=httpcloop:$IMAGE_URL httpcloop.read_ahead_kb=lots" "httpcloop.read_ahead_kb=lots: takes a number of KiB"
