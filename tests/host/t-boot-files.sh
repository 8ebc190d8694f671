#!/usr/bin/env bash
# Boot-ordered root images: scripts/boot-files turns a boot profile (blocks in the order a
# boot first read them) into the files that own those blocks, in that order, and
# `scripts/mkroot --fs squashfs --boot-files LIST` writes those files first in the image.
# Checked on a small ext4 tree: the list names exactly the files whose blocks the profile
# lists, in its order; the squashfs holds their data before every other file's (without
# the list, the directory order puts them elsewhere); the published image verifies and
# reads back equal to the squashfs; bad profiles and lists are refused with a message.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
export HTTPCLOOP=${HTTPCLOOP_BIN:-$root/build/userspace/httpcloop}
[ -x "$HTTPCLOOP" ] || fail "no program at $HTTPCLOOP (make userspace, or set HTTPCLOOP_BIN)"
for tool in debugfs mkfs.ext4 mksquashfs; do
	command -v "$tool" >/dev/null || fail "needs $tool (scripts/install-deps)"
done
work=$(mktemp -d /tmp/httpcloop-boot-files-test.XXXXXX)
cleanup rm -rf "$work"

# A tree in which directory order puts etc/early before usr/late and usr/unread.
tree=$work/tree
mkdir -p "$tree/etc" "$tree/usr/lib" "$tree/proc" "$tree/dev"
head -c 300000 /dev/urandom >"$tree/etc/early"
head -c 300000 /dev/urandom >"$tree/usr/lib/late"
head -c 300000 /dev/urandom >"$tree/usr/lib/unread"
echo small >"$tree/etc/small"
ln -s early "$tree/etc/link"
mkfs.ext4 -q -F -b 4096 -d "$tree" "$work/fs.ext4" 16M
"$HTTPCLOOP" mkimage --block-size 64K "$work/fs.ext4" "$work/www" >/dev/null
image_id=$(sha256sum "$work/www/manifest" | cut -d' ' -f1)

# inner_block PATH: an image block (64 KiB = 16 file system blocks) that PATH's data fills.
inner_block() {
	local blocks
	blocks=$(debugfs -R "blocks /$1" "$work/fs.ext4" 2>/dev/null)
	python3 - "$blocks" <<-'EOF'
	import sys
	owned = set(map(int, sys.argv[1].split()))
	for b in sorted(owned):
	    if b % 16 == 0 and all(b + i in owned for i in range(16)):
	        print(b // 16)
	        break
	else:
	    sys.exit("no whole image block")
	EOF
}
late=$(inner_block usr/lib/late) || fail "usr/lib/late fills no whole image block"
early=$(inner_block etc/early) || fail "etc/early fills no whole image block"
printf 'httpcloop-profile 1\nimage %s\n%s\n%s\n%s\n' "$image_id" "$late" "$early" "$late" >"$work/profile"

log "boot-files: the files of the profile's blocks, in its order"
"$root/scripts/boot-files" "$work/profile" "$work/www" "$work/fs.ext4" >"$work/list" 2>"$work/err" ||
	fail "boot-files failed: $(cat "$work/err")"
check_eq "usr/lib/late etc/early" "$(tr '\n' ' ' <"$work/list" | sed 's/ $//')" "boot-files' list"

# refused KIND EXPECTED-MESSAGE ARGS...: boot-files exits 2 with that message on stderr.
refused() {
	local what=$1 expected=$2 rc=0
	shift 2
	"$root/scripts/boot-files" "$@" >"$work/out" 2>"$work/err" || rc=$?
	check_eq 2 "$rc" "boot-files' status for $what"
	grep -q -- "$expected" "$work/err" || fail "$what: expected '$expected', got: $(cat "$work/err")"
	[ ! -s "$work/out" ] || fail "$what: printed a list anyway: $(head -c 200 "$work/out")"
}
printf 'httpcloop-profile 1\nimage %s\n0\n' "$(printf '%064d' 0)" >"$work/other-image"
refused "a profile of another image" "recorded on image 0000" "$work/other-image" "$work/www" "$work/fs.ext4"
printf 'httpcloop-profile 1\nimage %s\n1x\n' "$image_id" >"$work/bad-number"
refused "a line that is no block number" "line 3: '1x' is not a block number" "$work/bad-number" "$work/www" "$work/fs.ext4"
printf 'httpcloop-profile 1\nimage %s\n99999\n' "$image_id" >"$work/past-end"
refused "a block past the end" "names block 99999" "$work/past-end" "$work/www" "$work/fs.ext4"
printf 'something else\n' >"$work/not-profile"
refused "a file that is no profile" "is not a boot profile" "$work/not-profile" "$work/www" "$work/fs.ext4"
refused "a file system that is not ext4" "is not an ext2/3/4 file system" "$work/profile" "$work/www" "$work/www/manifest"

# offset FILE IMAGE: where FILE's first 64 bytes lie in IMAGE (random data: squashfs
# stores it uncompressed, so it is found as it is).
offset() {
	python3 -c 'import sys
data = open(sys.argv[2], "rb").read()
at = data.find(open(sys.argv[1], "rb").read(64))
sys.exit("not found") if at < 0 else print(at)' "$1" "$2"
}
mkroot() { "$root/scripts/mkroot" --image-only --httpcloop "$HTTPCLOOP" --fs squashfs --block-size 64K "$@" >/dev/null 2>"$work/mkroot.err"; }

log "mkroot without a list: directory order (etc/early first)"
mkroot "$tree" "$work/plain" || fail "mkroot failed: $(cat "$work/mkroot.err")"
[ "$(offset "$tree/etc/early" "$work/plain/root.squashfs")" -lt "$(offset "$tree/usr/lib/late" "$work/plain/root.squashfs")" ] ||
	fail "without a list, etc/early is expected before usr/lib/late (else this test checks nothing)"

log "mkroot --boot-files: the listed files first, in the list's order"
mkroot --boot-files "$work/list" "$tree" "$work/sorted" || fail "mkroot failed: $(cat "$work/mkroot.err")"
squash=$work/sorted/root.squashfs
at_late=$(offset "$tree/usr/lib/late" "$squash")
at_early=$(offset "$tree/etc/early" "$squash")
at_unread=$(offset "$tree/usr/lib/unread" "$squash")
[ "$at_late" -lt "$at_early" ] && [ "$at_early" -lt "$at_unread" ] ||
	fail "order in the image: late at $at_late, early at $at_early, unread at $at_unread (expected that order)"
grep -q "boot order: 2 of the 2 listed paths" "$work/mkroot.err" || fail "mkroot did not say what it sorted: $(cat "$work/mkroot.err")"
for dir in proc dev; do
	unsquashfs -l "$squash" | grep -qx "squashfs-root/$dir" || fail "the image lacks the mount point /$dir"
done

log "the published image: verified, and read back equal to the squashfs"
"$HTTPCLOOP" verify "$work/sorted/www/root" >/dev/null || fail "httpcloop verify failed on the sorted image"
mkdir -p "$work/mnt"
start_nginx "$work/sorted/www" free >/dev/null
"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$NGINX_PORT/root/" "$work/mnt" --cache "$work/cache" >/dev/null ||
	fail "mount-fuse of the sorted image failed"
cleanup umount "$work/mnt"
cmp "$work/mnt/image" "$squash" || fail "the image read through httpcloop differs from the squashfs"

log "refusals: a list with ext4, a list with no file of the tree"
rc=0
"$root/scripts/mkroot" --image-only --httpcloop "$HTTPCLOOP" --boot-files "$work/list" "$tree" "$work/x" 2>"$work/err" || rc=$?
check_eq 2 "$rc" "mkroot --boot-files with ext4"
grep -q -- "--boot-files needs --fs squashfs" "$work/err" || fail "mkroot --boot-files with ext4: $(cat "$work/err")"
printf 'no/such/file\netc\n' >"$work/none"
rc=0
mkroot --boot-files "$work/none" "$tree" "$work/y" || rc=$?
check_eq 2 "$rc" "mkroot with a list of no file"
grep -q "none of the 2 paths" "$work/mkroot.err" || fail "mkroot with a list of no file: $(cat "$work/mkroot.err")"
log "ok"
