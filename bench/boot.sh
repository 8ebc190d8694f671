#!/usr/bin/env bash
# `make bench`, boot section: how long the root-boot tests' Debian 12 system takes from
# QEMU's start to its marker (multi-user.target reached), and how many bytes it fetches
# over HTTP, with the link to the server shaped to RTT and RATE (bench/shaper.py: 20 ms,
# 100 Mbit/s), against two references measured in the same round:
#   local      the same ext4 image as a local virtio disk (root=/dev/vda): the limit
#   download   what users do today: download the whole image (a zstd squashfs of the same
#              tree, as live systems ship it) into RAM, then boot it, as live-boot's
#              fetch=URL does: an initramfs-tools boot script (bench/fetchroot) in the same
#              Debian initramfs as httpcloop's, so both pay the same initramfs
# and httpcloop:
#   cold       root=httpcloop: with an empty cache (in RAM)
#   lean       cold, with the byte-saving parameters (httpcloop.readahead=off: no readahead
#              by the daemon; httpcloop.read_ahead_kb=32: less page-cache readahead)
#   record     a cold boot with a cache disk and httpcloop.record-profile=yes (not compared)
#   profile    cold, with the boot profile "record" wrote (httpcloop.profile=URL)
#   warm       from the cache disk "record" filled (httpcloop.cache=LABEL=…)
# Each boot also reports what its kernel read from the device its root is on (the marker's
# "device reads"): the demand that no block size or layout can go below.
# The image (and the local disk) is the tree laid out in boot order, as the README
# recommends for root images (tests/boot/lib.sh prepare_ordered_root: a strictatime boot,
# scripts/boot-order, mkroot --boot-order); BENCH_BOOT_ORDERED=0 measures the plain
# `mkfs.ext4 -d` image instead.
#
# Writes BENCH_RAW/boot.txt (one line per boot: round, method, seconds, bytes, reads) and
# BENCH_RAW/boot-env.txt. Rounds: up to BENCH_ROUNDS, a new one only while it fits in
# BENCH_BOOT_BUDGET seconds (default 1200). BENCH_BOOT_BLOCK_SIZE: the image's block size
# (default: mkroot's). Every boot must pass the root-boot tests' checks (tests/boot/lib.sh),
# so a figure never comes from a broken boot.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HTTPCLOOP_SRC=${HTTPCLOOP_SRC:-$(cd "$HERE/.." && pwd)}
RAW=${BENCH_RAW:?BENCH_RAW: where boot.txt goes}
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_BOOT_BUDGET:-1200}
RTT_MS=${BENCH_BOOT_RTT_MS:-20}
RATE_MBIT=${BENCH_BOOT_RATE_MBIT:-100}
export HTTPCLOOP_BOOT_RESULTS=${BENCH_BOOT_CONSOLES:-$RAW/boot-consoles}
export HTTPCLOOP_ROOT_BLOCK_SIZE=${BENCH_BOOT_BLOCK_SIZE:-}
# shellcheck source-path=SCRIPTDIR source=../tests/boot/lib.sh
source "$HERE/../tests/boot/lib.sh"
mkdir -p "$RAW"

prepare_root
www=$BOOT_BUILD/www-bench
rm -rf "$www"
mkdir -p "$www"
ORDERED_BOOT=${BENCH_BOOT_ORDERED:-1}
if [ ! -f "$BOOT_BUILD/root.squashfs" ]; then
	log "the download reference's image: a squashfs (zstd) of the same tree"
	mksquashfs "$BOOT_BUILD/tree" "$BOOT_BUILD/root.squashfs.tmp" -quiet -comp zstd -noappend \
		-wildcards -e 'proc/*' 'sys/*' 'dev/*' >/dev/null
	mv "$BOOT_BUILD/root.squashfs.tmp" "$BOOT_BUILD/root.squashfs"
fi
ln -s "$BOOT_BUILD/root.squashfs" "$www/root.squashfs"
# The references' initramfs: Debian's, as every httpcloop boot has it, plus the boot
# script bench/fetchroot, in an uncompressed cpio archive put in front (the kernel
# unpacks the archives in turn; after a zstd one, it finds no start of the next).
fetchroot_initrd=$BOOT_BUILD/fetchroot.img
(
	part=$(mktemp -d)
	trap 'rm -rf "$part"' EXIT
	install -d -m 0755 "$part/scripts"
	install -m 0644 "$HERE/fetchroot" "$part/scripts/fetchroot"
	cd "$part" && find scripts | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet >"$part.cpio"
	cat "$part.cpio" "$BOOT_BUILD/out/initrd.img" >"$fetchroot_initrd"
	rm -f "$part.cpio"
)

serve_www "$www"
if [ "$ORDERED_BOOT" = 1 ]; then
	prepare_ordered_root
	IMAGE_DIR=$ORDERED
	IMAGE_SHA=$ORDERED_SHA
else
	IMAGE_DIR=$BOOT_BUILD/out
fi
ln -s "$IMAGE_DIR/www/root" "$www/root"
nginx_port=$SERVER_PORT
SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
coproc SHAPER { exec python3 "$HERE/shaper.py" "$SERVER_PORT" "$nginx_port" "$RTT_MS" "$RATE_MBIT"; }
cleanup kill "$SHAPER_PID"
read -r -t 10 ready <&"${SHAPER[0]}" && [ "$ready" = ready ] || fail "the shaper did not start"
log "link to the server: ${RTT_MS} ms round trip, ${RATE_MBIT} Mbit/s (bench/shaper.py on port $SERVER_PORT)"

stored=$(find -L "$www/root/blocks" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
{
	echo "image_bytes=$(stat -c %s "$IMAGE_DIR/root.ext4")"
	echo "boot_ordered=$ORDERED_BOOT"
	[ "$ORDERED_BOOT" != 1 ] || echo "boot_order_files=$(wc -l <"$ORDERED/boot-order.txt")"
	echo "stored_bytes=$stored"
	echo "rtt_ms=$RTT_MS"
	echo "rate_mbit=$RATE_MBIT"
	echo "kernel=$KVER"
	echo "memory_mib=1536"
	echo "squashfs_bytes=$(stat -c %s "$BOOT_BUILD/root.squashfs")"
	echo "block_size=$("$HTTPCLOOP" info --json "$IMAGE_DIR/www/root" | jq -r .block_size)"
} >"$RAW/boot-env.txt"
http_bytes() { awk '{ n += $2 } END { print n + 0 }' "$NGINX_ACCESS_LOG"; }

# timed ROUND METHOD APPEND [QEMU ARGS...]: one boot, checked, its figures recorded.
timed() {
	local round=$1 method=$2 append=$3 before seconds
	shift 3
	before=$(http_bytes)
	BOOT_TIMING_FILE=$RESULTS/timing boot_guest "$method-$round" 400 "$append" "$@" ||
		{ tail -n 40 "$CONSOLE"; fail "$method: the guest did not power off cleanly"; }
	console_has 'HCMARK done' || fail "$method: the marker never ran ($CONSOLE)"
	check_eq "$TEST_FILE_SHA" "$(marker sha256)" "$method: sha256 of $TEST_FILE"
	check_console_clean
	seconds=$(cat "$RESULTS/timing")
	# What the boot read from its devices (the marker's "device reads: vda=N httpcloop0=M").
	reads=$(marker 'device reads' | tr -s ' ' ',' | sed 's/,$//')
	echo "round=$round method=$method seconds=$seconds bytes=$(($(http_bytes) - before)) reads=${reads:--}" | tee -a "$RAW/boot.txt"
}

: >"$RAW/boot.txt"
# Every method that uses the network gets the same static address: klibc's DHCP client
# gives up its first try after 2 s and retries at times that vary by seconds under TCG,
# which would weigh on some boots more than others (DHCP itself is tested by tests/boot).
static_ip="ip=10.0.2.15::10.0.2.2:255.255.255.0::ens2:off"
disk=$RESULTS/cache-disk.img
cleanup rm -f "$disk" "$www/root.profile"

httpcloop_root="root=httpcloop:$IMAGE_URL#sha256=$IMAGE_SHA httpcloop.pubkey=$PUBKEY_B64 $static_ip"
started=$SECONDS
last=0
for ((round = 1; round <= ROUNDS; round++)); do
	if [ "$round" -gt 1 ] && [ $((SECONDS - started + last)) -gt "$BUDGET" ]; then
		log "round $round would not fit in the ${BUDGET}s budget: stopping"
		break
	fi
	t0=$SECONDS
	timed "$round" local "root=/dev/vda rw" -drive "file=$IMAGE_DIR/root.ext4,if=virtio,format=raw,snapshot=on"
	BOOT_INITRD=$fetchroot_initrd timed "$round" download \
		"boot=fetchroot fetchroot=http://$SERVER_IP/root.squashfs $static_ip"
	timed "$round" cold "$httpcloop_root"
	timed "$round" lean "$httpcloop_root httpcloop.readahead=off httpcloop.read_ahead_kb=32"
	rm -f "$disk" "$www/root.profile"
	truncate -s 1G "$disk"
	mkfs.ext4 -q -F -L hccache "$disk"
	timed "$round" record "$httpcloop_root httpcloop.cache=LABEL=hccache httpcloop.record-profile=yes" \
		-drive "file=$disk,if=virtio,format=raw"
	debugfs -R "cat /httpcloop/boot.profile" "$disk" >"$www/root.profile" 2>/dev/null
	grep -q '^httpcloop-profile 1' "$www/root.profile" || fail "no boot profile on the cache disk"
	timed "$round" profile "$httpcloop_root httpcloop.profile=http://$SERVER_IP/root.profile"
	timed "$round" warm "$httpcloop_root httpcloop.cache=LABEL=hccache" -drive "file=$disk,if=virtio,format=raw"
	last=$((SECONDS - t0))
	log "round $round took ${last}s"
done
