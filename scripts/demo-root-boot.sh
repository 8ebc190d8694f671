#!/usr/bin/env bash
# Part of `make demo`: boot the root-boot tests' Debian 12 system from HTTP and show, from
# inside it, `findmnt /` and `httpcloop status`, then the bytes it fetched.
# shellcheck source-path=SCRIPTDIR source=../tests/boot/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/boot/lib.sh"
prepare_root
serve_www
stored=$(du -sb "$BOOT_BUILD/out/www/root/blocks" | cut -f1)
boot_guest demo 400 "root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64" >/dev/null ||
	{ tail -n 40 "$CONSOLE"; fail "the demo system did not boot (console: $CONSOLE)"; }
check_booted_from_http
echo "   kernel command line: root=httpcloop:$IMAGE_URL#sha256=${IMAGE_SHA:0:16}… httpcloop.pubkey=…"
echo "   the booted system's findmnt /:         $(marker root)"
echo "   ... and the image under it:            $(marker image)"
echo "   a 3 MiB file read there, SHA-256 like the source: $(marker sha256 | cut -c1-16)…"
echo "   its httpcloop status:"
sed -n 's/^.*HCMARK status: /      /p' "$CONSOLE" | tr -d '\r'
echo "   fetched over HTTP: $(block_requests) block files, $(block_bytes) bytes of the image's $stored stored bytes"
echo "   the system powered off cleanly; its console log: $CONSOLE"
