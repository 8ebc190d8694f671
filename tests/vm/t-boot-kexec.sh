#!/usr/bin/env bash
# Booting from a web server, the real path: this guest runs httpcloop-boot, which fetches
# the guest's kernel and the preboot initramfs that scripts/mkpreboot builds, verifies
# them (signed boot manifest, key given as base64 on the command line), caches them, and
# kexecs. The preboot's own /init then runs its static httpcloop-boot (no other file in
# that initramfs but BusyBox and the key), which fetches kernel B and initrd B from a
# server inside the preboot (BusyBox httpd on 127.0.0.1), verifies them with the key file
# and kexecs again. Only initrd B's init prints the marker that vm-run waits for.
# Also: a dry run caches both files, and a second one downloads neither.
# vm-timeout: 480
# vm-expect-console: HCB-42-OK cmdline-token=kexec7
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=boot-lib.sh
source "$(dirname "$0")/boot-lib.sh"
require_boot_tools
check_eq 0 "$(kexec_loaded)" "kexec_loaded at start"
log "httpcloop-boot: $(stat -c %s "$HCBOOT") bytes, $(file -b "$HCBOOT" | cut -d, -f1-4)"

work=/tmp/kexec
mkdir -p "$work"
"$HTTPCLOOP" keygen "$work/key" >/dev/null

log "initrd B: its init prints the marker (computed at run time) and powers off"
make_marker_initrd "$work/initrd-b.cpio" \
	'echo "HCB-$((40 + 2))-OK cmdline-token=$(/bin/busybox sed -n "s/.*hcb[.]token=\([a-z0-9]*\).*/\1/p" /proc/cmdline)"'

log "the preboot initramfs (scripts/mkpreboot), with a test hook that serves kernel B + initrd B"
extra=$work/extra
mkdir -p "$extra/www" "$extra/etc/httpcloop-boot.d"
"$HTTPCLOOP" mkboot --kernel "$GUEST_KERNEL" --initrd "$work/initrd-b.cpio" --sign "$work/key" \
	--cmdline "console=ttyS0 quiet panic=-1 hcb.token=kexec7" "$extra/www/final" >/dev/null
cat >"$extra/etc/httpcloop-boot.d/10-test-server.sh" <<'HOOK'
# Test only: the VM has no network card; serve /www on the preboot's own loopback.
httpd -p 127.0.0.1:8081 -h /www
HOOK
"$HTTPCLOOP_SRC/scripts/mkpreboot" --no-modules --compress none --pubkey "$work/key.pub" \
	--extra "$extra" "$work/preboot.cpio" >"$work/grub-entry"
grep -q "httpcloop.pubkey=/etc/httpcloop/boot.pub" "$work/grub-entry" || fail "no GRUB entry: $(cat "$work/grub-entry")"

log "publish the guest's kernel + the preboot initramfs with nginx"
www=/tmp/www
"$HTTPCLOOP" mkboot --kernel "$GUEST_KERNEL" --initrd "$work/preboot.cpio" --sign "$work/key" \
	--cmdline "console=ttyS0 quiet panic=-1 httpcloop.boot=http://127.0.0.1:8081/final/ httpcloop.pubkey=/etc/httpcloop/boot.pub httpcloop.onfail=poweroff httpcloop.delay=0" \
	"$www/boot" >/dev/null
start_nginx "$www" 8080
echo "quiet httpcloop.boot=http://127.0.0.1:8080/boot/ httpcloop.pubkey=$(pubkey_base64 "$work/key.pub") httpcloop.cache=/tmp/bootcache" >"$work/cmdline"

log "dry run: downloads, verifies and caches both files"
"$HCBOOT" --cmdline-file "$work/cmdline" --dry-run --on-fail exit
check_eq 1 "$(grep -c ' /boot/kernel-' "$NGINX_ACCESS_LOG")" "kernel downloads"
check_eq 1 "$(grep -c ' /boot/initrd-' "$NGINX_ACCESS_LOG")" "initrd downloads"
cmp "/tmp/bootcache/$(sha256 "$GUEST_KERNEL")" "$GUEST_KERNEL" || fail "cached kernel differs"
cmp "/tmp/bootcache/$(sha256 "$work/preboot.cpio")" "$work/preboot.cpio" || fail "cached initrd differs"
check_eq 0 "$(kexec_loaded)" "kexec_loaded after a dry run"

log "second dry run with the same manifest: nothing but the manifest is downloaded"
before=$(http_requests_count)
out=$("$HCBOOT" --cmdline-file "$work/cmdline" --dry-run --on-fail exit 2>&1)
grep -q 'kernel: verified copy in the cache' <<<"$out" || fail "kernel not taken from the cache: $out"
grep -q 'initrd: verified copy in the cache' <<<"$out" || fail "initrd not taken from the cache: $out"
wait_requests $((before + 2)) # boot.manifest and boot.manifest.sig
check_eq 1 "$(grep -c ' /boot/kernel-' "$NGINX_ACCESS_LOG")" "kernel downloads after the second run"

log "a damaged cache copy is noticed and fetched again"
printf 'X' | dd of="/tmp/bootcache/$(sha256 "$GUEST_KERNEL")" bs=1 seek=1000 conv=notrunc status=none
out=$("$HCBOOT" --cmdline-file "$work/cmdline" --dry-run --on-fail exit 2>&1)
grep -q 'is damaged' <<<"$out" || fail "damaged cache copy not reported: $out"
check_eq 2 "$(grep -c ' /boot/kernel-' "$NGINX_ACCESS_LOG")" "kernel downloads after damage"

log "boot: kexec into the preboot initramfs; it must kexec into kernel B + initrd B"
"$HCBOOT" --cmdline-file "$work/cmdline" --on-fail exit
fail "httpcloop-boot returned instead of starting the new kernel"
