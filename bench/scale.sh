#!/usr/bin/env bash
# The scale section of `make bench` (issue 12, item 5), host half: what an image's size
# costs before any block is read. For each size in BENCH_SCALE_GIB ("1 64 1024" GiB): a
# sparse file with 16 extents of 1 MiB of random data spread over it; mkimage (its holes
# are skipped, not read); the manifest's size; mount-fuse with an empty cache (the
# manifest over HTTP) and again with that cache (its manifest copy local): the seconds
# until the mount is ready and the daemon's resident memory (VmRSS, and VmHWM, its peak),
# then again after reading the 16 extents (each compared with the source). Loopback.
# Raw figures to BENCH_WORK/raw/scale.txt (bench/scale_report.py). The VM half (16 devices
# at once) is in bench/vm-guest.sh.
# Environment: BENCH_WORK, BENCH_SCALE_GIB, HTTPCLOOP_SRC.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$(dirname "$0")/../tests/vm/lib.sh"

SIZES=${BENCH_SCALE_GIB:-1 64 1024}
EXTENTS=16
RAW=$BENCH_WORK/raw
W=$(mktemp -d /dev/shm/httpcloop-bench-scale.XXXXXX)
cleanup rm -rf "$W"
mkdir -p "$RAW" "$W/www" "$W/fuse"
cleanup umount -q -l "$W/fuse"
start_nginx "$W/www" free >/dev/null
: >"$RAW/scale.txt"

# memory PID: "VmRSS VmHWM" in KiB.
memory() { awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { print rss, hwm }' "/proc/$1/status"; }
# mount_image NAME CACHE: mounts, prints "SECONDS PID".
mount_image() {
	local start end
	start=$(date +%s.%N)
	"$HTTPCLOOP" mount-fuse "http://127.0.0.1:$NGINX_PORT/$1/" "$W/fuse" --cache "$2" >/dev/null
	end=$(date +%s.%N)
	echo "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')" \
		"$("$HTTPCLOOP" status --json "$W/fuse" | jq -r '.[0].daemon.pid')"
}
# unmount PID: unmounts and waits for the daemon to end.
unmount() {
	umount "$W/fuse"
	wait_until 30 bash -c "! kill -0 $1 2>/dev/null"
}

for gib in $SIZES; do
	size=$((gib << 30))
	name=img$gib
	log "$gib GiB: a sparse file with $EXTENTS extents of 1 MiB"
	truncate -s "$size" "$W/$name.raw"
	offsets=()
	for ((i = 0; i < EXTENTS; i++)); do
		offsets+=($((size * i / EXTENTS / 1048576 * 1048576)))
		head -c 1048576 /dev/urandom | dd of="$W/$name.raw" bs=1M seek=$((offsets[i] / 1048576)) conv=notrunc status=none
	done
	start=$(date +%s.%N)
	"$HTTPCLOOP" mkimage "$W/$name.raw" "$W/www/$name" >/dev/null
	mkimage_s=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
	blocks=$("$HTTPCLOOP" info --json "$W/www/$name" | jq -r .block_count)
	manifest_bytes=$(stat -c %s "$W/www/$name/manifest")

	read -r cold_s pid < <(mount_image "$name" "$W/cache-$name")
	read -r cold_rss cold_hwm < <(memory "$pid")
	for offset in "${offsets[@]}"; do
		cmp <(dd if="$W/fuse/image" iflag=direct,skip_bytes skip="$offset" bs=1M count=1 status=none) \
			<(dd if="$W/$name.raw" iflag=skip_bytes skip="$offset" bs=1M count=1 status=none) ||
			fail "$gib GiB: the extent at $offset read through FUSE differs"
	done
	read -r read_rss read_hwm < <(memory "$pid")
	unmount "$pid"

	read -r warm_s pid < <(mount_image "$name" "$W/cache-$name")
	read -r warm_rss warm_hwm < <(memory "$pid")
	unmount "$pid"
	echo "gib=$gib blocks=$blocks manifest_bytes=$manifest_bytes mkimage_s=$mkimage_s" \
		"cold_s=$cold_s cold_rss_kib=$cold_rss cold_hwm_kib=$cold_hwm read_rss_kib=$read_rss read_hwm_kib=$read_hwm" \
		"warm_s=$warm_s warm_rss_kib=$warm_rss warm_hwm_kib=$warm_hwm" | tee -a "$RAW/scale.txt"
	rm -rf "$W/$name.raw" "$W/www/$name" "$W/cache-$name"
done
