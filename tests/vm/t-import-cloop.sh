#!/usr/bin/env bash
# import-cloop with cloop's own tools: an ext4 file system packed by cloop-utils'
# create_compressed_fs (cloop 2.0, zlib) is imported, published and attached; every byte
# of /dev/httpcloop0 equals extract_compressed_fs's output, and the file system mounts
# with every file intact. With 64 KiB cloop blocks the zlib blocks are kept as they are;
# with 32 KiB ones (a size the image format lacks) the blocks are regrouped, into a pack.
# A cloop file cut short is refused with a clear error and no manifest.
# (The other compressors and cloop 4.0's layouts: tests/unit/cloop_import_test.cpp.)
# vm-timeout: 240
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v create_compressed_fs >/dev/null || fail "no create_compressed_fs (cloop-utils: scripts/install-deps)"
load_module
work=/tmp/cloop
www=/tmp/www
mkdir -p "$work/files" "$www" /tmp/mnt
for i in 1 2 3; do head -c $((300 * 1024 + i * 777)) /dev/urandom >"$work/files/random$i"; done
seq 1 200000 >"$work/files/numbers.txt"
# 8 MiB, a multiple of both block sizes; ext4 leaves most of it zero (holes).
mkfs.ext4 -q -F -b 4096 -d "$work/files" "$work/fs.img" 8M

start_nginx "$www" 8080
url=http://127.0.0.1:8080

# import_and_compare BLOCK_SIZE NAME [IMPORT OPTIONS...]
import_and_compare() {
	local block_size=$1 name=$2 dev out
	shift 2
	log "cloop blocks of $block_size: create_compressed_fs, import-cloop $*"
	create_compressed_fs -q -B "$block_size" "$work/fs.img" "$work/$name.cloop" >/dev/null 2>&1
	check test -s "$work/$name.cloop"
	extract_compressed_fs "$work/$name.cloop" "$work/$name.extracted" >/dev/null 2>&1
	check_eq "$(stat -c %s "$work/fs.img")" "$(stat -c %s "$work/$name.extracted")" "extracted size"
	out=$("$HTTPCLOOP" import-cloop "$@" "$work/$name.cloop" "$www/$name")
	echo "$out"
	dev=$("$HTTPCLOOP" attach "$url/$name/" --cache "$work/cache-$name")
	cleanup _detach_if_attached "$dev"
	cmp "$dev" "$work/$name.extracted" || fail "$dev differs from extract_compressed_fs's output"
	mount -o ro -t ext4 "$dev" /tmp/mnt
	diff -r "$work/files" /tmp/mnt -x lost+found || fail "the files differ"
	umount /tmp/mnt
	"$HTTPCLOOP" detach "$dev"
	IMPORT_OUTPUT=$out
}

import_and_compare 65536 kept
grep -Eq '; [1-9][0-9]* zlib blocks kept, 0 compressed anew' <<<"$IMPORT_OUTPUT" ||
	fail "64 KiB cloop blocks were not kept: $IMPORT_OUTPUT"
import_and_compare 32768 regrouped --pack
grep -q ' 0 zlib blocks kept' <<<"$IMPORT_OUTPUT" || fail "32 KiB blocks cannot be kept: $IMPORT_OUTPUT"
check test -s "$www/regrouped/blocks.pack"

log "a cloop file cut short is refused, and no image is written"
head -c $(($(stat -c %s "$work/kept.cloop") / 2)) "$work/kept.cloop" >"$work/cut.cloop"
rc=0
out=$("$HTTPCLOOP" import-cloop "$work/cut.cloop" "$work/cut" 2>&1) || rc=$?
echo "    $out"
[ "$rc" -ne 0 ] || fail "a truncated cloop file was imported"
grep -q 'not a usable cloop file' <<<"$out" || fail "unclear error: $out"
check test ! -e "$work/cut/manifest"
log "import-cloop OK"
