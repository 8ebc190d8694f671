#!/usr/bin/env bash
# httpcloop-boot refuses what it cannot verify, with a clear message and no kexec: a wrong
# pin, a bad signature, an unsigned manifest when a key is configured, a truncated
# kernel, a server that is gone, a kernel the running kernel refuses. A mirror that
# serves wrong bytes is passed over for the next one; a clearly faster mirror is used
# first; InetBoot's httpfuse= and iscript= work, and an iscript is verified when pinned
# or signed. Every failing run is a real run (not --dry-run): had it not failed, it would
# have loaded a kernel, which /sys/kernel/kexec_loaded would show.
# vm-timeout: 400
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=boot-lib.sh
source "$(dirname "$0")/boot-lib.sh"
require_boot_tools
check_eq 0 "$(kexec_loaded)" "kexec_loaded at start"

work=/tmp/boot-errors
www=/tmp/www
mkdir -p "$work" "$www"
"$HTTPCLOOP" keygen "$work/key" >/dev/null
"$HTTPCLOOP" keygen "$work/other" >/dev/null
# Not kernels: nothing here may get as far as a real boot. (One case checks that the
# running kernel refuses such a "kernel" even when everything verifies.)
head -c $((1024 * 1024 + 17)) /dev/urandom >"$work/kernel"
head -c $((200 * 1024)) /dev/urandom >"$work/initrd"
mkboot() { "$HTTPCLOOP" mkboot --kernel "$work/kernel" --initrd "$work/initrd" --cmdline "console=ttyS0" "$@" >/dev/null; }
mkboot --sign "$work/key" "$www/good"
kernel_file=$(sed -n 's/^kernel \([^ ]*\) .*/\1/p' "$www/good/boot.manifest")
cp -a "$www/good" "$www/badsig"
sed -i 's/^cmdline console=ttyS0$/cmdline console=ttyS0 init=\/bin\/sh/' "$www/badsig/boot.manifest"
mkboot "$www/unsigned"
cp -a "$www/good" "$www/truncated"
truncate -s 500000 "$www/truncated/$kernel_file"
cp -a "$www/good" "$www/wrong"
head -c $((1024 * 1024 + 17)) /dev/urandom >"$www/wrong/$kernel_file" # same size, other bytes
start_nginx "$www" 8080
url=http://127.0.0.1:8080
key=(--pubkey "$work/key.pub")
: >"$work/empty-cmdline"
common=(--cmdline-file "$work/empty-cmdline" --cache /tmp/bootcache --timeout 5 --retries 2)

log "the good manifest verifies (dry run)"
"$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit "$url/good/" 2>&1 | tee "$work/out"
grep -q 'signature good' "$work/out" || fail "no 'signature good'"
rm -rf /tmp/bootcache

expect_boot_failure "wrong pin" "SHA-256 mismatch" "${common[@]}" --sha256 "$(printf '0%.0s' {1..64})" "$url/good/"
expect_boot_failure "wrong pin in the URL" "SHA-256 mismatch" "${common[@]}" "$url/good/#sha256=$(printf '1%.0s' {1..64})"
expect_boot_failure "bad signature" "BAD SIGNATURE" "${common[@]}" "${key[@]}" "$url/badsig/"
expect_boot_failure "signed by another key" "signed by another key" "${common[@]}" --pubkey "$work/other.pub" "$url/good/"
expect_boot_failure "unsigned manifest with a key" "is not signed" "${common[@]}" "${key[@]}" "$url/unsigned/"
expect_boot_failure "truncated kernel" "is truncated: 500000 bytes" "${common[@]}" "${key[@]}" "$url/truncated/"
expect_boot_failure "wrong kernel bytes" "SHA-256 mismatch" "${common[@]}" "${key[@]}" "$url/wrong/"
expect_boot_failure "server gone" "cannot connect to 127.0.0.1 port 8099" "${common[@]}" "${key[@]}" http://127.0.0.1:8099/boot/
expect_boot_failure "no such directory" "HTTP status 404" "${common[@]}" "${key[@]}" "$url/missing/"
expect_boot_failure "the private key given as --pubkey" "is not a PEM public key" "${common[@]}" --pubkey "$work/key" "$url/good/"
expect_boot_failure "nothing to boot" "nothing to boot" "${common[@]}"
expect_boot_failure "kexec refused (verified, but not a kernel)" "the kernel refused the image" \
	"${common[@]}" "${key[@]}" "$url/good/"
grep -q "^127.0.0.1 .*/truncated/$kernel_file" "$NGINX_ACCESS_LOG" || fail "the truncated kernel was never requested"

rm -rf /tmp/bootcache # the last case cached the good files

log "a mirror that serves wrong bytes is passed over; the next one serves the kernel"
before=$(grep -c "/good/$kernel_file" "$NGINX_ACCESS_LOG" || true)
out=$("$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit --mirror "$url/good/" "$url/wrong/" 2>&1) ||
	fail "fail-over did not boot: $out"
printf '%s\n' "$out" | sed 's/^/    /'
grep -q "wrong/$kernel_file: SHA-256 mismatch" <<<"$out" || fail "the wrong mirror's bytes were not reported"
grep -q 'trying the next mirror' <<<"$out" || fail "no fail-over message"
check_eq $((before + 1)) "$(grep -c "/good/$kernel_file" "$NGINX_ACCESS_LOG")" "kernel downloads from the good mirror"
initrd_file=$(sed -n 's/^initrd \([^ ]*\) .*/\1/p' "$www/good/boot.manifest")
grep -q "downloading initrd from $url/good/$initrd_file" <<<"$out" || fail "the mirror that served wrong bytes was not demoted"
cmp "/tmp/bootcache/$(sha256 "$work/kernel")" "$work/kernel" || fail "the cached kernel differs"
rm -rf /tmp/bootcache

log "the fastest mirror is used first"
cat >"$work/slow-server.py" <<'PY'
# A static server that answers every request after 0.6 s: a slow mirror.
import functools, http.server, sys, time
class Slow(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.6)
        super().do_GET()
    def log_message(self, fmt, *args):
        with open(sys.argv[2], "a") as log:
            log.write(self.path + "\n")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 8082), functools.partial(Slow, directory=sys.argv[1]))
server.timeout = 1
deadline = time.monotonic() + 300 # never outlives the test
while time.monotonic() < deadline:
    server.handle_request()
PY
: >"$work/slow.log"
python3 "$work/slow-server.py" "$www" "$work/slow.log" &
slow_pid=$!
cleanup kill "$slow_pid"
wait_until 10 curl -fsS -o /dev/null http://127.0.0.1:8082/good/boot.manifest 2>/dev/null
out=$("$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit --mirror "$url/good/" \
	http://127.0.0.1:8082/good/ 2>&1) || fail "boot through mirrors failed: $out"
grep -q "downloading kernel from $url/good/" <<<"$out" || fail "the faster mirror was not used first: $out"
grep -q "$kernel_file" "$work/slow.log" && fail "the kernel was fetched from the slow mirror"
rm -rf /tmp/bootcache

log "https:// with a CA file verifies the server; without it the handshake is refused"
openssl req -x509 -newkey ed25519 -nodes -keyout "$work/tls.key" -out "$work/tls.crt" -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
(cd "$www" && exec timeout 120 openssl s_server -accept 127.0.0.1:8443 -cert "$work/tls.crt" -key "$work/tls.key" \
	-WWW -quiet >/dev/null 2>&1) &
tls_pid=$!
cleanup kill "$tls_pid"
wait_until 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8443' 2>/dev/null
out=$("$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit --cafile "$work/tls.crt" https://127.0.0.1:8443/good/ 2>&1) ||
	fail "https boot failed: $out"
grep -q 'signature good' <<<"$out" || fail "https: no verified manifest: $out"
cmp "/tmp/bootcache/$(sha256 "$work/kernel")" "$work/kernel" || fail "https: the cached kernel differs"
rm -rf /tmp/bootcache
expect_boot_failure "https with an unknown CA" "certificate: self-signed certificate" "${common[@]}" "${key[@]}" \
	--cafile /etc/ssl/certs/ca-certificates.crt https://127.0.0.1:8443/good/

log "a cache on a device found by its label: the second boot downloads nothing"
modprobe loop 2>/dev/null || true
truncate -s 32M "$work/cache.img"
mkfs.ext4 -q -L hcbcache "$work/cache.img"
loopdev=$(losetup -f --show "$work/cache.img")
cleanup losetup -d "$loopdev"
cleanup umount -q /run/httpcloop-boot-cache
for round in 1 2; do
	before=$(grep -c "/good/$kernel_file" "$NGINX_ACCESS_LOG" || true)
	out=$("$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit --cache LABEL=hcbcache "$url/good/" 2>&1) ||
		fail "boot with a cache device failed: $out"
	grep -q "cache: mounted $loopdev (ext4)" <<<"$out" || fail "cache device not mounted: $out"
	check_eq $((before + 2 - round)) "$(grep -c "/good/$kernel_file" "$NGINX_ACCESS_LOG")" "kernel downloads, round $round"
	umount /run/httpcloop-boot-cache
done
grep -q 'kernel: verified copy in the cache' <<<"$out" || fail "second round did not use the cache: $out"
debugfs -R "cat /httpcloop-boot/$(sha256 "$work/kernel")" "$loopdev" 2>/dev/null | cmp - "$work/kernel" ||
	fail "the kernel on the cache device differs"

log "mkboot --image: the root image's URL and manifest hash reach the kernel command line"
head -c $((300 * 1024)) /dev/urandom >"$work/root.img"
"$HTTPCLOOP" mkimage --block-size 64K "$work/root.img" "$www/img" >/dev/null
image_id=$(sha256 "$www/img/manifest")
out=$("$HTTPCLOOP" mkboot --kernel "$work/kernel" --image "$url/img/#sha256=$(printf '3%.0s' {1..64})" "$work/x" 2>&1) &&
	fail "mkboot accepted an image whose pin does not match"
grep -q 'SHA-256 mismatch' <<<"$out" || fail "mkboot --image with a wrong pin: $out"
"$HTTPCLOOP" mkboot --kernel "$work/kernel" --cmdline "console=ttyS0" --image "$url/img/" --sign "$work/key" \
	"$www/withimage" >/dev/null
grep -qx "image $url/img/ $image_id" "$www/withimage/boot.manifest" || fail "no image line: $(cat "$www/withimage/boot.manifest")"
out=$("$HCBOOT" "${common[@]}" "${key[@]}" --dry-run --on-fail exit "$url/withimage/" 2>&1) || fail "boot with an image failed: $out"
grep -qF "command line: console=ttyS0 root=httpcloop:$url/img/#sha256=$image_id" <<<"$out" ||
	fail "the root image is not on the command line: $out"
rm -rf /tmp/bootcache

log "InetBoot: httpfuse=URL boots what is published there"
echo "quiet httpfuse=$url/good/ httpcloop.pubkey=$(pubkey_base64 "$work/key.pub")" >"$work/cmdline-httpfuse"
out=$("$HCBOOT" --cmdline-file "$work/cmdline-httpfuse" --dry-run --on-fail exit 2>&1) || fail "httpfuse= failed: $out"
grep -q 'httpfuse=.*booting what is published there' <<<"$out" || fail "httpfuse= not used: $out"
grep -q 'signature good' <<<"$out" || fail "httpfuse= boot not verified: $out"

log "InetBoot: iscript=URL runs a verified script"
printf '#!/bin/sh\necho "iscript ran: $HTTPCLOOP_ISCRIPT_URL" >/tmp/iscript-ran\n' >"$www/script.sh"
script_hash=$(sha256 "$www/script.sh")
echo "iscript=$url/script.sh#sha256=$(printf '2%.0s' {1..64})" >"$work/cmdline-bad-script"
expect_boot_failure "iscript with a wrong pin" "SHA-256 mismatch" --cmdline-file "$work/cmdline-bad-script"
check test ! -e /tmp/iscript-ran
echo "iscript=$url/script.sh httpcloop.pubkey=$(pubkey_base64 "$work/key.pub")" >"$work/cmdline-unsigned-script"
expect_boot_failure "unsigned iscript with a key" "is not signed" --cmdline-file "$work/cmdline-unsigned-script"
check test ! -e /tmp/iscript-ran
echo "iscript=$url/script.sh#sha256=$script_hash" >"$work/cmdline-script"
"$HCBOOT" --cmdline-file "$work/cmdline-script" --on-fail exit
check_eq "iscript ran: $url/script.sh" "$(cat /tmp/iscript-ran)" "iscript output (pinned)"
rm /tmp/iscript-ran
"$HTTPCLOOP" sign "$work/key" "$www/script.sh"
"$HCBOOT" --cmdline-file "$work/cmdline-unsigned-script" --on-fail exit
check_eq "iscript ran: $url/script.sh" "$(cat /tmp/iscript-ran)" "iscript output (signed)"
rm /tmp/iscript-ran
"$HTTPCLOOP" sign --kind boot-manifest "$work/key" "$www/script.sh" # signed as something else
expect_boot_failure "iscript signed as another kind" "BAD SIGNATURE" --cmdline-file "$work/cmdline-unsigned-script"
check test ! -e /tmp/iscript-ran
check_eq 0 "$(kexec_loaded)" "kexec_loaded after the iscript"
log "boot errors OK"
