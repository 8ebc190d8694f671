#!/usr/bin/env bash
# Sequential read throughput inside the VM, as ratios against the loop driver reading
# the same plaintext from the same (tmpfs) storage in the same run:
#   cold: /dev/httpcloop0 with an empty cache (fetch + verify + decompress + cache)
#   warm: /dev/httpcloop0 with every block cached, page cache dropped
#   loop: losetup -r of the plaintext image
# Every pass is also compared with the source, so a fast wrong answer cannot win.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
source "$HTTPCLOOP_SRC/tests/vm/lib.sh"

size_mib=${BENCH_SIZE_MIB:-256}
load_module

# Half random (incompressible), half text (compressible): a rough stand-in for a system image.
image=/tmp/bench.img
head -c $((size_mib / 2 * 1024 * 1024)) /dev/urandom >"$image"
{ yes "httpcloop benchmark line, moderately compressible $RANDOM" || true; } | head -c $((size_mib / 2 * 1024 * 1024)) >>"$image"
want=$(sha256 "$image")
"$HTTPCLOOP" mkimage "$image" /tmp/www/img >/dev/null
start_nginx /tmp/www 8080 >/dev/null

# seconds_to_read DEVICE: times a read of all of DEVICE with 1 MiB direct reads, then
# checks (untimed) that the device holds the source's bytes.
seconds_to_read() {
	local t0 t1
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	dd if="$1" of=/dev/null bs=1M iflag=direct status=none
	t1=$(date +%s.%N)
	[ "$(dd if="$1" bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$want" ] ||
		fail "$1 read back wrong bytes"
	echo "$t1 - $t0" | bc -l
}

modprobe loop 2>/dev/null || true
loop=$(losetup -r -f --show "$image")
cleanup losetup -d "$loop"
loop_s=$(seconds_to_read "$loop")

dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache /tmp/cache)
cleanup "$HTTPCLOOP" detach "$dev"
cold_s=$(seconds_to_read "$dev")
warm_s=$(seconds_to_read "$dev")
loop2_s=$(seconds_to_read "$loop")
loop_s=$(echo "if ($loop2_s < $loop_s) $loop2_s else $loop_s" | bc -l)

mibs() { echo "scale=1; $size_mib / $1" | bc -l; }
ratio() { echo "scale=2; $loop_s / $1" | bc -l; }
printf '%-32s %8s %10s %8s\n' "sequential read, $size_mib MiB" "seconds" "MiB/s" "x loop"
printf '%-32s %8.2f %10s %8s\n' "loop driver (plaintext file)" "$loop_s" "$(mibs "$loop_s")" "1.00"
printf '%-32s %8.2f %10s %8s\n' "httpcloop warm (cached)" "$warm_s" "$(mibs "$warm_s")" "$(ratio "$warm_s")"
printf '%-32s %8.2f %10s %8s\n' "httpcloop cold (HTTP, empty)" "$cold_s" "$(mibs "$cold_s")" "$(ratio "$cold_s")"
"$HTTPCLOOP" status "$dev"
