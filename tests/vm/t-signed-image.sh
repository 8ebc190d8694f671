#!/usr/bin/env bash
# Signed and pinned image manifests: mkimage --sign writes manifest.sig; `info` and
# `attach` with --pubkey, --sha256 or URL#sha256= refuse an unsigned, badly signed,
# truncated-signature or mismatched manifest with a clear error and create no device;
# with the right key and pin the device attaches and reads back the image byte for byte.
# vm-timeout: 240
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

work=/tmp/signed
www=/tmp/www
mkdir -p "$work" "$www"
"$HTTPCLOOP" keygen "$work/key" >/dev/null
"$HTTPCLOOP" keygen "$work/other" >/dev/null
check_eq 600 "$(stat -c %a "$work/key")" "private key mode"
openssl pkey -in "$work/key" -noout 2>/dev/null || fail "openssl cannot read the private key"
check_eq "$(openssl pkey -in "$work/key" -pubout)" "$(cat "$work/key.pub")" "public key derived by openssl"

image=$work/image
# Not a multiple of the block size; a multiple of 512, as a block device's size is.
head -c $((2 * 1024 * 1024 + 3 * 4096)) /dev/urandom >"$image"
"$HTTPCLOOP" mkimage --block-size 64K --sign "$work/key" "$image" "$www/img" >/dev/null
check test -s "$www/img/manifest.sig"
id=$(sha256 "$www/img/manifest")
cp -a "$www/img" "$www/unsigned"
rm "$www/unsigned/manifest.sig"
cp -a "$www/img" "$www/shortsig"
truncate -s 100 "$www/shortsig/manifest.sig"
cp -a "$www/img" "$www/badsig"
# Another valid manifest (other bytes) under the first one's signature.
"$HTTPCLOOP" mkimage --block-size 128K "$image" "$work/other-img" >/dev/null
cp "$work/other-img/manifest" "$www/badsig/manifest"
start_nginx "$www" 8080
url=http://127.0.0.1:8080

# expect_refused NAME NEEDLE COMMAND...: COMMAND fails, says NEEDLE, and no device appears.
expect_refused() {
	local name=$1 needle=$2 out rc=0
	shift 2
	log "refused: $name"
	out=$("$@" 2>&1) || rc=$?
	echo "    $out"
	[ "$rc" -ne 0 ] || fail "$name: succeeded"
	grep -qF -- "$needle" <<<"$out" || fail "$name: no '$needle' in: $out"
	[ ! -e /sys/block/httpcloop0 ] || fail "$name: a device was created"
}

log "info verifies the signature and the pin"
"$HTTPCLOOP" info --pubkey "$work/key.pub" --sha256 "$id" "$url/img/" | grep -q "image id: *$id" || fail "info"
"$HTTPCLOOP" info "$url/img/#sha256=$id" >/dev/null || fail "info with URL#sha256="

load_module
for command in info attach; do
	extra=()
	[ "$command" = info ] || extra=(--cache /tmp/cache)
	expect_refused "$command: unsigned" "is not signed" "$HTTPCLOOP" "$command" "${extra[@]}" --pubkey "$work/key.pub" "$url/unsigned/"
	expect_refused "$command: truncated signature" "truncated" "$HTTPCLOOP" "$command" "${extra[@]}" --pubkey "$work/key.pub" "$url/shortsig/"
	expect_refused "$command: bad signature" "BAD SIGNATURE" "$HTTPCLOOP" "$command" "${extra[@]}" --pubkey "$work/key.pub" "$url/badsig/"
	expect_refused "$command: another key" "signed by another key" "$HTTPCLOOP" "$command" "${extra[@]}" --pubkey "$work/other.pub" "$url/img/"
	expect_refused "$command: pin mismatch" "SHA-256 mismatch" "$HTTPCLOOP" "$command" "${extra[@]}" --sha256 "$(sha256 "$work/other-img/manifest")" "$url/img/"
	expect_refused "$command: URL pin mismatch" "SHA-256 mismatch" "$HTTPCLOOP" "$command" "${extra[@]}" "$url/img/#sha256=$(sha256 "$work/other-img/manifest")"
	expect_refused "$command: pins disagree" "differ" "$HTTPCLOOP" "$command" "${extra[@]}" --sha256 "$(sha256 "$work/other-img/manifest")" "$url/img/#sha256=$id"
	expect_refused "$command: not a key" "is not a PEM public key" "$HTTPCLOOP" "$command" "${extra[@]}" --pubkey "$work/key" "$url/img/"
done
[ ! -e /tmp/cache ] || [ -z "$(ls -A /tmp/cache)" ] || fail "a refused attach left a cache: $(ls -R /tmp/cache)"

log "attach with the right key and pin; every byte compared"
dev=$("$HTTPCLOOP" attach --cache /tmp/cache --pubkey "$work/key.pub" "$url/img/#sha256=$id")
check_eq /dev/httpcloop0 "$dev" "device"
cleanup "$HTTPCLOOP" detach "$dev"
check_eq "$(stat -c %s "$image")" "$(blockdev --getsize64 "$dev")" "device size"
cmp "$dev" "$image" || fail "the device differs from the image"
"$HTTPCLOOP" detach "$dev"
log "signed image OK"
