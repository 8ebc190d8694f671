#!/usr/bin/env bash
# Test 1, root boot: Debian 12 boots with root=httpcloop:URL#sha256=HEX from an initramfs
# made by its own mkinitramfs with httpcloop's hook (scripts/mkroot). systemd reaches
# multi-user.target on an overlay over /dev/httpcloop0, a file read there matches the
# source, the daemon is marked for systemd, `httpcloop status` answers from inside, and
# `systemctl poweroff` completes with no kernel warning or I/O error. In the booted system
# the daemon is SIGKILLed: its supervisor starts another (after switch_root, from the
# directories it holds open), which reads a file nothing had read, and which is spared
# at shutdown like the first. The cache is in RAM
# (httpcloop.cache=tmpfs, the default) and the manifest must be signed by the given key.
# boot-timeout: 420
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
prepare_root
serve_www
boot_guest root-boot 400 "root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64 hctest.restart" ||
	{ tail -n 60 "$CONSOLE"; fail "the guest did not power off cleanly"; }
check_booted_from_http

grep -q "HCMARK status: .*$IMAGE_URL" "$CONSOLE" || fail "httpcloop status in the guest does not show the image URL"
log "the booted system fetched $(block_requests) block files, $(block_bytes) bytes"
[ "$(block_requests)" -gt 0 ] || fail "no block was fetched over HTTP"

restarted=$(marker restarted)
[[ $restarted =~ ^old=([0-9]+)\ new=([0-9]+)\ claims=1\ argv0=@ ]] && [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ] ||
	fail "the daemon did not come back after SIGKILL, marked for systemd: $restarted"
check_eq "$AFTER_RESTART_SHA" "$(marker 'after-restart sha256')" "sha256 of $AFTER_RESTART_FILE read after the restart"
grep -q "HCMARK status: .*restarts: taken over by a new daemon 1 time" "$CONSOLE" ||
	fail "httpcloop status in the guest does not count the restart"
log "restarted in the booted system: $restarted"
