#!/usr/bin/env bash
# `make bench`, boot section: how long the root-boot tests' Debian 12 system takes from
# QEMU's start to its marker (multi-user.target reached), and how many bytes it fetches
# over HTTP, with the link to the server shaped to RTT and RATE (bench/shaper.py: 20 ms,
# 100 Mbit/s). Two images of the same tree, as scripts/mkroot makes them:
#   ext4       the default (mkfs.ext4 -d: the files in directory order)
#   sorted     a squashfs (uncompressed, as mkroot makes it: httpcloop compresses) with
#              the files a boot reads first, in the order it reads them (scripts/boot-files
#              on the profile the ext4 image's "record" boot wrote in this run's first
#              round, then mkroot --image-only --fs squashfs --boot-files)
# For each image, measured in the same round, the limit:
#   local      the image as a local virtio disk (ext4: root=/dev/vda; the squashfs with a
#              tmpfs overlay, as the download reference mounts it: bench/fetchroot)
# httpcloop:
#   cold       root=httpcloop: with an empty cache (in RAM)
#   record     a cold boot with a cache disk and httpcloop.record-profile=yes (not compared)
#   profile    cold, with the boot profile "record" wrote (httpcloop.profile=URL)
#   warm       from the cache disk "record" filled (httpcloop.cache=LABEL=…)
# and what users do today (the reference for both images):
#   download   download the whole image into RAM, then boot it, as live-boot's fetch=URL
#              does: a squashfs (zstd) of the tree, as live systems ship it, fetched by an
#              initramfs-tools boot script (bench/fetchroot) in the same Debian initramfs
#              as httpcloop's, so both pay the same initramfs
#
# Writes BENCH_RAW/boot.txt (one line per boot: round, method, seconds, bytes) and
# BENCH_RAW/boot-env.txt. Rounds: up to BENCH_ROUNDS, a new one only while it fits in
# BENCH_BOOT_BUDGET seconds (default 1200). Every boot must pass the root-boot tests'
# checks (tests/boot/lib.sh), so a figure never comes from a broken boot.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HTTPCLOOP_SRC=${HTTPCLOOP_SRC:-$(cd "$HERE/.." && pwd)}
RAW=${BENCH_RAW:?BENCH_RAW: where boot.txt goes}
ROUNDS=${BENCH_ROUNDS:-3}
BUDGET=${BENCH_BOOT_BUDGET:-1200}
RTT_MS=${BENCH_BOOT_RTT_MS:-20}
RATE_MBIT=${BENCH_BOOT_RATE_MBIT:-100}
export HTTPCLOOP_BOOT_RESULTS=${BENCH_BOOT_CONSOLES:-$RAW/boot-consoles}
# shellcheck source-path=SCRIPTDIR source=../tests/boot/lib.sh
source "$HERE/../tests/boot/lib.sh"
mkdir -p "$RAW"

prepare_root
www=$BOOT_BUILD/www-bench
rm -rf "$www" "$BOOT_BUILD/sorted"
mkdir -p "$www"
ln -s "$BOOT_BUILD/out/www/root" "$www/root"
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

# sorted_image PROFILE: the squashfs image laid out in the order of PROFILE (recorded on
# the ext4 image), published as /sorted/.
sorted_image() {
	local dir=$BOOT_BUILD/sorted
	mkdir -p "$dir"
	HTTPCLOOP=$HTTPCLOOP "$ROOT/scripts/boot-files" "$1" "$BOOT_BUILD/out/www/root" "$BOOT_BUILD/out/root.ext4" \
		>"$dir/boot-files.txt" || fail "scripts/boot-files failed"
	log "the sorted image: $(wc -l <"$dir/boot-files.txt") files a boot reads go first"
	"$ROOT/scripts/mkroot" --image-only --httpcloop "$HTTPCLOOP" --fs squashfs --boot-files "$dir/boot-files.txt" \
		--sign "$BOOT_BUILD/key.pem" "$BOOT_BUILD/tree" "$dir" >"$dir/mkroot.out" 2>&1 ||
		{ cat "$dir/mkroot.out"; fail "scripts/mkroot --fs squashfs --boot-files failed"; }
	ln -sfn "$dir/www/root" "$www/sorted"
	SORTED_SHA=$(sha256sum "$dir/www/root/manifest" | cut -d' ' -f1)
	SORTED_STORED=$(find -L "$dir/www/root/blocks" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
	{
		echo "sorted_stored_bytes=$SORTED_STORED"
		echo "sorted_image_bytes=$(stat -c %s "$dir/root.squashfs")"
		echo "sorted_compression_ratio=$("$HTTPCLOOP" info --json "$dir/www/root" | jq -r .compression_ratio)"
		echo "boot_files=$(wc -l <"$dir/boot-files.txt")"
	} >>"$RAW/boot-env.txt"
}

serve_www "$www"
nginx_port=$SERVER_PORT
SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
coproc SHAPER { exec python3 "$HERE/shaper.py" "$SERVER_PORT" "$nginx_port" "$RTT_MS" "$RATE_MBIT"; }
cleanup kill "$SHAPER_PID"
read -r -t 10 ready <&"${SHAPER[0]}" && [ "$ready" = ready ] || fail "the shaper did not start"
log "link to the server: ${RTT_MS} ms round trip, ${RATE_MBIT} Mbit/s (bench/shaper.py on port $SERVER_PORT)"

stored=$(find -L "$www/root/blocks" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
{
	echo "image_bytes=$(stat -c %s "$BOOT_BUILD/out/root.ext4")"
	echo "stored_bytes=$stored"
	echo "rtt_ms=$RTT_MS"
	echo "rate_mbit=$RATE_MBIT"
	echo "kernel=$KVER"
	echo "memory_mib=1536"
	echo "initrd_bytes=$(stat -c %s "$BOOT_BUILD/out/initrd.img")"
	echo "squashfs_bytes=$(stat -c %s "$BOOT_BUILD/root.squashfs")"
	echo "compression_ratio=$("$HTTPCLOOP" info --json "$BOOT_BUILD/out/www/root" | jq -r .compression_ratio)"
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
cleanup rm -f "$disk" "$www"/*.profile

# httpcloop_methods ROUND PREFIX PATH SHA: cold, record, profile and warm boots of the
# image published at /PATH/ whose manifest has hash SHA; methods named PREFIXcold, ….
httpcloop_methods() {
	local round=$1 prefix=$2 path=$3 sha=$4 root profile=$www/$3.profile
	root="root=httpcloop:http://$SERVER_IP/$path/#sha256=$sha httpcloop.pubkey=$PUBKEY_B64 $static_ip"
	timed "$round" "${prefix}cold" "$root"
	rm -f "$disk" "$profile"
	truncate -s 1G "$disk"
	mkfs.ext4 -q -F -L hccache "$disk"
	timed "$round" "${prefix}record" "$root httpcloop.cache=LABEL=hccache httpcloop.record-profile=yes" \
		-drive "file=$disk,if=virtio,format=raw"
	debugfs -R "cat /httpcloop/boot.profile" "$disk" >"$profile" 2>/dev/null
	grep -q '^httpcloop-profile 1' "$profile" || fail "no boot profile on the cache disk"
	[ -n "${SORTED_SHA:-}" ] || sorted_image "$profile"
	timed "$round" "${prefix}profile" "$root httpcloop.profile=http://$SERVER_IP/$path.profile"
	timed "$round" "${prefix}warm" "$root httpcloop.cache=LABEL=hccache" -drive "file=$disk,if=virtio,format=raw"
}

started=$SECONDS
last=0
for ((round = 1; round <= ROUNDS; round++)); do
	if [ "$round" -gt 1 ] && [ $((SECONDS - started + last)) -gt "$BUDGET" ]; then
		log "round $round would not fit in the ${BUDGET}s budget: stopping"
		break
	fi
	t0=$SECONDS
	timed "$round" local "root=/dev/vda rw" -drive "file=$BOOT_BUILD/out/root.ext4,if=virtio,format=raw,snapshot=on"
	httpcloop_methods "$round" "" root "$IMAGE_SHA"
	BOOT_INITRD=$fetchroot_initrd timed "$round" sorted-local "boot=fetchroot fetchroot=/dev/vda" \
		-drive "file=$BOOT_BUILD/sorted/root.squashfs,if=virtio,format=raw,snapshot=on"
	BOOT_INITRD=$fetchroot_initrd timed "$round" download \
		"boot=fetchroot fetchroot=http://$SERVER_IP/root.squashfs $static_ip"
	httpcloop_methods "$round" sorted- sorted "$SORTED_SHA"
	last=$((SECONDS - t0))
	log "round $round took ${last}s"
done
