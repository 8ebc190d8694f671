#!/usr/bin/env bash
# The update section of `make bench` (issue 12, item 6): what moving from version 1 of an
# image to version 2 costs over HTTP. Version 1: an ext4 file system of BENCH_UPDATE_FILES
# (200) files of 256 KiB, random, published with mkimage's defaults. Version 2: the same
# with 5 % of the files rewritten in place (new bytes, same size), published beside it.
# mount-fuse reads version 1 whole into a cache directory, then version 2 whole with that
# cache; for comparison, version 2 again with an empty cache. Every byte read is compared
# with the source. Raw figures to BENCH_WORK/raw/update.txt (bench/update_report.py).
# Environment: BENCH_WORK, BENCH_UPDATE_FILES, HTTPCLOOP_SRC.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"

FILES=${BENCH_UPDATE_FILES:-200}
CHANGED=$((FILES / 20))
RAW=$BENCH_WORK/raw
W=$(mktemp -d /dev/shm/httpcloop-bench-update.XXXXXX)
cleanup rm -rf "$W"
mkdir -p "$RAW" "$W/src" "$W/mnt" "$W/fuse"

for ((i = 0; i < FILES; i++)); do head -c $((256 * 1024)) /dev/urandom >"$W/src/file$i"; done
truncate -s $((FILES * 256 * 1024 * 5 / 4 + 8 * 1024 * 1024)) "$W/v1.img"
mkfs.ext4 -q -F -b 4096 -d "$W/src" "$W/v1.img"
cp "$W/v1.img" "$W/v2.img"
mount -o loop "$W/v2.img" "$W/mnt"
cleanup umount -q "$W/mnt"
for ((i = 0; i < CHANGED; i++)); do
	f=$W/mnt/file$((i * 20 + 7))
	head -c $((256 * 1024)) /dev/urandom | dd of="$f" conv=notrunc status=none
done
umount "$W/mnt"
"$HTTPCLOOP" mkimage "$W/v1.img" "$W/www/v1" >/dev/null
"$HTTPCLOOP" mkimage "$W/v2.img" "$W/www/v2" >/dev/null
NGINX_LOG_FORMAT='$status $body_bytes_sent "$request"' start_nginx "$W/www" free >/dev/null
base=http://127.0.0.1:$NGINX_PORT

# read_whole VERSION CACHE: prints "BYTES REQUESTS SECONDS" of VERSION's block downloads
# for one whole read of it through mount-fuse with CACHE.
read_whole() {
	local version=$1 cache=$2 start pid
	: >"$NGINX_ACCESS_LOG"
	start=$(date +%s.%N)
	"$HTTPCLOOP" mount-fuse "$base/$version/" "$W/fuse" --cache "$cache" >/dev/null 2>&1
	cmp "$W/fuse/image" "$W/$version.img" || { umount -l "$W/fuse"; fail "$version read through FUSE differs"; }
	pid=$("$HTTPCLOOP" status --json "$W/fuse" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"]["pid"])')
	umount "$W/fuse"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
	awk -v v="/$version/blocks/" -v s="$start" -v e="$(date +%s.%N)" \
		'index($0, v) { n++; b += $2 } END { printf "%d %d %.2f\n", b, n, e - s }' "$NGINX_ACCESS_LOG"
}

read -r v1_bytes v1_requests v1_seconds < <(read_whole v1 "$W/cache")
read -r reuse_bytes reuse_requests reuse_seconds < <(read_whole v2 "$W/cache")
read -r empty_bytes empty_requests empty_seconds < <(read_whole v2 "$W/empty-cache")

# What version 2 must download at least: its blocks whose stored bytes version 1 lacks.
read -r changed_blocks changed_stored v2_stored blocks < <(python3 - "$W/www/v1/manifest" "$W/www/v2/manifest" <<'PY'
import struct, sys
def entries(path):
    m = open(path, "rb").read()
    header, = struct.unpack_from("<I", m, 12)
    size, = struct.unpack_from("<H", m, 30)
    count, = struct.unpack_from("<Q", m, 32)
    return [(m[header + i * size:header + i * size + 32], struct.unpack_from("<I", m, header + i * size + 64)[0],
             struct.unpack_from("<I", m, header + i * size + 68)[0]) for i in range(count)]
old = {h for h, _, _ in entries(sys.argv[1])}
new = [(h, s) for h, s, flags in entries(sys.argv[2]) if not flags & 1]
changed = [s for h, s in new if h not in old]
print(len(changed), sum(changed), sum(s for _, s in new), len(new))
PY
)
{
	echo "files=$FILES changed_files=$CHANGED image_bytes=$(stat -c %s "$W/v2.img") blocks=$blocks"
	echo "v2_stored_bytes=$v2_stored changed_blocks=$changed_blocks changed_stored_bytes=$changed_stored"
	echo "v1_bytes=$v1_bytes v1_requests=$v1_requests v1_seconds=$v1_seconds"
	echo "reuse_bytes=$reuse_bytes reuse_requests=$reuse_requests reuse_seconds=$reuse_seconds"
	echo "empty_bytes=$empty_bytes empty_requests=$empty_requests empty_seconds=$empty_seconds"
} | tee "$RAW/update.txt"
