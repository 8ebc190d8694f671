#!/usr/bin/env bash
# A boot-ordered image, made as the README says ("A boot-ordered image"): a copy of the
# root image booted once from a local disk with rootflags=strictatime, scripts/boot-order's
# list of the files that boot read, `scripts/mkroot --boot-order` with it. The list holds
# what the boot surely read; the image holds exactly the tree (every file's bytes, type,
# mode, owner, link target and time); every listed file's data lies before every other
# file's; and the image boots from HTTP to the marker, the file read there matching, with
# httpcloop.readahead=off and httpcloop.read_ahead_kb=32 in effect.
# boot-timeout: 420
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
prepare_root
www=$RESULTS/www-ordered
mkdir -p "$www"
serve_www "$www"
prepare_ordered_root
ln -sfn "$ORDERED/www/root" "$www/root"
order=$ORDERED/boot-order.txt

log "the list: the files the boot surely read"
for path in ./usr/lib/systemd/systemd ./usr/local/sbin/httpcloop-marker ".$TEST_FILE"; do
	grep -qxF "$path" "$order" || fail "$path is not in the boot order ($(wc -l <"$order") files)"
done

log "the image holds exactly the tree"
mnt=$(mktemp -d)
cleanup rmdir "$mnt"
mount -o loop,ro,noload "$ORDERED/root.ext4" "$mnt"
cleanup umount "$mnt"
# path, type, mode, owner, group, link target, mtime; and size for all but directories.
listing() { (cd "$1" && find . -xdev ! -path ./lost+found -printf '%p %y %m %U %G %l %T@ %s\n' |
	awk '$2 == "d" { $NF = "" } 1' | LC_ALL=C sort); }
diff <(listing "$BOOT_BUILD/tree") <(listing "$mnt") >"$RESULTS/ordered-listing.diff" ||
	fail "the boot-ordered image's files differ from the tree ($RESULTS/ordered-listing.diff)"
(cd "$BOOT_BUILD/tree" && find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$RESULTS/tree.sha"
(cd "$mnt" && sha256sum -c --quiet "$RESULTS/tree.sha") || fail "a file of the boot-ordered image differs from the tree"
umount "$mnt"

log "the listed files' data lies before every other file's"
# The physical block of each non-empty file's first block (debugfs, one run for all).
(cd "$BOOT_BUILD/tree" && find . -xdev -type f -size +0 | LC_ALL=C sort) >"$RESULTS/files"
sed 's|^\.||; s|^|bmap "|; s|$|" 0|' "$RESULTS/files" | debugfs -f - "$ORDERED/root.ext4" 2>/dev/null |
	grep -v '^debugfs' >"$RESULTS/first-blocks"
check_eq "$(wc -l <"$RESULTS/files")" "$(wc -l <"$RESULTS/first-blocks")" "first blocks debugfs printed"
python3 - "$order" "$RESULTS/files" "$RESULTS/first-blocks" <<'PY' || fail "the boot order is not the image's layout"
import sys
listed = [line.rstrip("\n") for line in open(sys.argv[1])]
files = [line.rstrip("\n") for line in open(sys.argv[2])]
blocks = [line.strip() for line in open(sys.argv[3])]
first = {path: int(block) for path, block in zip(files, blocks) if block.isdigit() and int(block) > 0}
ordered = [first[p] for p in listed if p in first]
others = [b for p, b in first.items() if p not in set(listed)]
assert len(ordered) > 100 and len(others) > 1000, (len(ordered), len(others))
assert max(ordered) < min(others), "a listed file at block %d, another file at %d" % (max(ordered), min(others))
print("%d listed files in blocks up to %d; the %d others from block %d" % (len(ordered), max(ordered), len(others), min(others)))
PY

log "it boots from HTTP (with the byte-saving parameters)"
boot_guest ordered 400 "root=httpcloop:$IMAGE_URL#sha256=$ORDERED_SHA httpcloop.pubkey=$PUBKEY_B64 httpcloop.readahead=off httpcloop.read_ahead_kb=32" ||
	{ tail -n 40 "$CONSOLE"; fail "the boot-ordered image's boot did not power off cleanly"; }
check_booted_from_http
check_eq 32 "$(marker read_ahead_kb)" "read_ahead_kb of /dev/httpcloop0 (httpcloop.read_ahead_kb=32)"
grep -q "HCMARK status: .*readahead 0 blocks" "$CONSOLE" ||
	fail "the daemon read ahead with httpcloop.readahead=off: $(grep 'HCMARK status: .*readahead' "$CONSOLE")"
log "ordered OK: $(block_requests) block files, $(block_bytes) bytes"
