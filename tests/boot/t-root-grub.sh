#!/usr/bin/env bash
# Test 3, the InetBoot chain, one boot with no -kernel shortcut: QEMU boots an ISO made by
# grub-mkrescue; its GRUB entry (printed by scripts/mkpreboot) starts the preboot, which
# gets an address by DHCP, fetches the signed boot manifest from the server, verifies the
# kernel and the initramfs of test 1 and kexecs into them; that initramfs mounts the root
# over HTTP and the system boots to the marker and powers off.
# boot-timeout: 600
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
command -v grub-mkrescue >/dev/null || fail "needs grub-mkrescue (grub-common, grub-pc-bin, xorriso, mtools: scripts/install-deps)"
prepare_root
work=$RESULTS/work
rm -rf "$work"
mkdir -p "$work/iso/boot/grub" "$work/www"
cleanup rm -rf "$work"

log "the boot manifest: the root image's kernel and initramfs, signed with a boot key"
"$HTTPCLOOP" keygen "$work/boot.key" >/dev/null
ln -s "$BOOT_BUILD/out/www/root" "$work/www/root"
"$HTTPCLOOP" mkboot --kernel "$BOOT_BUILD/out/vmlinuz" --initrd "$BOOT_BUILD/out/initrd.img" --sign "$work/boot.key" \
	--cmdline "console=ttyS0 panic=-1 mitigations=off sysctl.kernel.hung_task_timeout_secs=20 root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64" \
	"$work/www/boot" >/dev/null

log "the preboot initramfs and its GRUB entry (scripts/mkpreboot), on a GRUB rescue ISO"
"$ROOT/scripts/mkpreboot" --kernel "$VMLINUZ" --boot "http://$SERVER_IP/boot/" --pubkey "$work/boot.key.pub" \
	--cmdline "panic=-1 mitigations=off httpcloop.onfail=poweroff httpcloop.delay=0" \
	"$work/iso/boot/preboot.img" >"$work/entry"
cp "$VMLINUZ" "$work/iso/boot/$(basename "$VMLINUZ")"
{
	echo 'serial --unit=0 --speed=115200'
	echo 'terminal_input serial'
	echo 'terminal_output serial'
	echo 'set timeout=0'
	cat "$work/entry"
} >"$work/iso/boot/grub/grub.cfg"
grep -q "httpcloop.boot=http://$SERVER_IP/boot/" "$work/iso/boot/grub/grub.cfg" || fail "no GRUB entry: $(cat "$work/entry")"
grub-mkrescue -o "$work/boot.iso" "$work/iso" >"$work/grub-mkrescue.log" 2>&1 ||
	fail "grub-mkrescue failed: $(tail -n 5 "$work/grub-mkrescue.log")"

serve_www "$work/www"
boot_guest grub-chain 560 "" -cdrom "$work/boot.iso" -boot d ||
	{ tail -n 60 "$CONSOLE"; fail "the guest did not power off cleanly"; }
console_has 'httpcloop preboot: kernel' || fail "the preboot never ran"
check_eq 1 "$(grep -c '"GET /boot/boot.manifest ' "$NGINX_ACCESS_LOG")" "boot manifest downloads"
check_eq 1 "$(grep -c '"GET /boot/kernel-' "$NGINX_ACCESS_LOG")" "kernel downloads"
check_eq 1 "$(grep -c '"GET /boot/initrd-' "$NGINX_ACCESS_LOG")" "initrd downloads"
check_booted_from_http
[ "$(block_requests)" -gt 0 ] || fail "no block was fetched over HTTP"
