#!/usr/bin/env bash
# The FUSE variant on the host (FUSE and loop devices work here, as root): an ext4 image
# published by nginx on 127.0.0.1, served by `mount-fuse`, loop-mounted; every file and
# every byte compared with the source; FUSE passthrough once every block is cached, never
# beside an open made before; a warm cache makes no block request; concurrent
# readers of a missing block cause one download; a corrupted block gives EIO, never wrong
# bytes; the server going away gives errors, not a hang; SIGTERM unmounts.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts and loop devices)"
work=$(mktemp -d /tmp/httpcloop-fuse-test.XXXXXX)
cleanup rm -rf "$work"

# fuse_pid MOUNTPOINT: pid of the mount-fuse process serving it.
fuse_pid() { "$HTTPCLOOP" status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"]["pid"])'; }
# unmount_fuse MOUNTPOINT: unmount and wait for the server to exit.
unmount_fuse() {
	local pid
	pid=$(fuse_pid "$1")
	umount "$1"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}

src=$work/src
mkdir -p "$src/dir"
head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$src/big.bin"
seq 1 200000 >"$src/dir/numbers.txt"
truncate -s 8M "$src/sparse"
image=$work/disk.ext4
truncate -s $((24 * 1024 * 1024 + 12 * 1024)) "$image"
mkfs.ext4 -q -F -b 4096 -d "$src" "$image"
"$HTTPCLOOP" mkimage --block-size 64K "$image" "$work/www/img" >/dev/null
start_nginx "$work/www" free >/dev/null
port=$NGINX_PORT
url=http://127.0.0.1:$port/img/

log "mount-fuse, then loop-mount the image inside"
mkdir -p "$work/fuse" "$work/mnt"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache"
cleanup umount -q -l "$work/fuse"
check_eq "$(stat -c %s "$image")" "$(stat -c %s "$work/fuse/image")" "size of image"
mount -o loop,ro "$work/fuse/image" "$work/mnt"
cleanup umount -q "$work/mnt"
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work/want.sha"
(cd "$work/mnt" && sha256sum -c --quiet "$work/want.sha") || fail "a file read through FUSE + loop differs"
umount "$work/mnt"
cmp "$work/fuse/image" "$image" || fail "image file differs from the source"
if (echo x >>"$work/fuse/image") 2>/dev/null; then fail "a write to the image succeeded"; fi

status=$("$HTTPCLOOP" status --json "$work/fuse")
python3 -c '
import json, sys
d = json.loads(sys.argv[1])[0]["daemon"]
assert d["frontend"] == "fuse" and d["blocks_cached"] == d["blocks_total"], d
assert d["io_errors"] == 0 and d["blocks_failed"] == 0 and d["http_requests"] >= 1, d
' "$status" || fail "unexpected status: $status"
"$HTTPCLOOP" status "$work/fuse"
# The mount point as shell completion spells it, with a trailing slash, and relative.
"$HTTPCLOOP" status "$work/fuse/" >/dev/null || fail "status does not find the mount as $work/fuse/"
(cd "$work" && "$HTTPCLOOP" status fuse/ >/dev/null) || fail "status does not find the mount as fuse/"
# fuse_field MOUNTPOINT KEY: one value of the server's status.
fuse_field() { "$HTTPCLOOP" status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"][sys.argv[1]])' "$2"; }
# version_at_least X.Y: the running kernel is that or newer.
kernel_at_least() { [ "$(printf '%s\n%s\n' "$1" "$(uname -r | cut -d- -f1)" | sort -V | head -n1)" = "$1" ]; }

# FUSE passthrough (Linux >= 6.9 and a libfuse >= 3.16, which `make` builds: scripts/libfuse):
# with every block cached, an open reads the cache file in the kernel: the server sees
# none of its reads. An open made while the cache was incomplete is served, and while it
# lasts every new open is served too (the kernel allows one I/O mode per file: a
# passthrough open beside it would fail with EIO).
if kernel_at_least 6.9 && [ -e /sys/module/fuse ] && grep -q '^CONFIG_FUSE_PASSTHROUGH=y' \
	<(zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null); then
	log "FUSE passthrough: a complete cache is read by the kernel, not through the server"
	check_eq "ready (the next open gets it)" "$(fuse_field "$work/fuse" passthrough)" \
		"passthrough state with every block cached"
	reads=$(fuse_field "$work/fuse" reads)
	cmp "$work/fuse/image" "$image" || fail "image differs through passthrough"
	check_eq "on" "$(fuse_field "$work/fuse" passthrough)" "passthrough state after an open"
	dd if="$work/fuse/image" of="$work/direct-pt" bs=4K count=400 skip=77 iflag=direct status=none
	cmp "$work/direct-pt" <(dd if="$image" bs=4K count=400 skip=77 status=none) || fail "direct reads through passthrough differ"
	check_eq "$reads" "$(fuse_field "$work/fuse" reads)" "reads the server served for passthrough opens"
	check_eq 2 "$(fuse_field "$work/fuse" passthrough_opens)" "passthrough opens"
	unmount_fuse "$work/fuse"

	log "FUSE passthrough: not while an open made before the cache was complete lasts"
	"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache-pt"
	check_eq "waiting (for every block to be cached)" "$(fuse_field "$work/fuse" passthrough)" \
		"passthrough state with an empty cache"
	exec {early}<"$work/fuse/image"
	"$HTTPCLOOP" prefetch "$work/fuse" >/dev/null
	check_eq "waiting (for the opens made before every block was cached to close)" \
		"$(fuse_field "$work/fuse" passthrough)" "passthrough state beside an early open"
	cmp "$work/fuse/image" "$image" || fail "image differs beside the early open"
	cmp /dev/fd/$early "$image" || fail "image differs through the early open"
	check_eq 0 "$(fuse_field "$work/fuse" passthrough_opens)" "passthrough opens beside a served one"
	exec {early}<&-
	sleep 0.2 # RELEASE reaches the server after close() returns
	reads=$(fuse_field "$work/fuse" reads)
	cmp "$work/fuse/image" "$image" || fail "image differs after the early open closed"
	check_eq 1 "$(fuse_field "$work/fuse" passthrough_opens)" "passthrough opens after the served one closed"
	check_eq "$reads" "$(fuse_field "$work/fuse" reads)" "reads the server served once passthrough was on"
	unmount_fuse "$work/fuse"
	"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache" --no-passthrough
	check_eq "off (--no-passthrough)" "$(fuse_field "$work/fuse" passthrough)" "passthrough state with --no-passthrough"
else
	log "this kernel has no FUSE passthrough: mount-fuse must say so"
	case $(fuse_field "$work/fuse" passthrough) in
	"off (the kernel offers none"*) ;;
	*) fail "passthrough state on a kernel without it: $(fuse_field "$work/fuse" passthrough)" ;;
	esac
fi

requests=$(http_requests_count)
blocks=$(grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG")

log "warm reads (--no-passthrough): served by the same threads, large ones spliced from the cache file"
# strace counts the server's thread creations and splices while 400 direct 4 KiB reads
# and 24 of 1 MiB go through it (O_DIRECT: each one a FUSE request). libfuse 3.14 given
# a loop configuration of the wrong API version (FUSE_USE_VERSION < 312) started a
# thread for every request and ended the one that served it: 400 and more.
pid=$(fuse_pid "$work/fuse")
strace -f -qq -e trace=clone,clone3,splice -o "$work/strace" -p "$pid" &
tracer=$!
cleanup kill "$tracer"
traced() { ! grep -q '^TracerPid:[[:space:]]*0$' "/proc/$pid/status"; }
wait_until 10 traced
sleep 0.5 # strace attaches to the threads one after the other
dd if="$work/fuse/image" of=/dev/null bs=4K count=400 iflag=direct status=none
dd if="$work/fuse/image" of="$work/direct" bs=1M count=24 iflag=direct status=none
kill -INT "$tracer"
wait "$tracer" || true
cmp_range "$work/direct" "$image" 0 $((24 * 1024 * 1024)) || fail "direct 1 MiB reads differ"
created=$(grep -cE 'clone3?\(' "$work/strace" || true)
spliced=$(grep -c 'splice(' "$work/strace" || true)
[ "$created" -le 16 ] || fail "$created threads started for 424 reads (at most 16 expected: they are kept)"
[ "$spliced" -ge 24 ] || fail "only $spliced splice calls for 24 direct 1 MiB reads"
unmount_fuse "$work/fuse"

log "again with the same cache: no block request"
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache"
cmp "$work/fuse/image" "$image" || fail "image differs (warm cache)"
wait_requests $((requests + 1)) # the manifest only
check_eq "$blocks" "$(grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG")" "block requests with a warm cache"
unmount_fuse "$work/fuse"

log "concurrent readers of a missing block: one download"
bs=$((64 * 1024))
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache2"
block=$(unique_block "$work/www/img" 100)
file=$(stored_block_file "$work/www/img" $block)
before=$(grep -c " /img/${file#"$work/www/img/"}" "$NGINX_ACCESS_LOG")
pids=()
for i in 1 2 3 4 5 6; do
	dd if="$work/fuse/image" of="$work/part$i" bs=$bs skip=$block count=1 status=none &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for i in 1 2 3 4 5 6; do cmp "$work/part$i" <(dd if="$image" bs=$bs skip=$block count=1 status=none) ||
	fail "reader $i got wrong bytes"; done
sleep 0.3
check_eq $((before + 1)) "$(grep -c " /img/${file#"$work/www/img/"}" "$NGINX_ACCESS_LOG")" "downloads of block $block"
unmount_fuse "$work/fuse"

log "a corrupted block gives EIO; the rest reads right"
bad=$(unique_block "$work/www/img" 7)
file=$(stored_block_file "$work/www/img" $bad)
cp "$file" "$work/good-block"
printf '\xff' | dd of="$file" bs=1 seek=10 conv=notrunc status=none
"$HTTPCLOOP" mount-fuse "$url" "$work/fuse" --cache "$work/cache3" --attempts 2
if err=$(dd if="$work/fuse/image" of=/dev/null bs=$bs skip=$bad count=1 status=none 2>&1); then
	fail "reading a corrupted block succeeded"
fi
grep -q "Input/output error" <<<"$err" || fail "expected EIO, got: $err"
cmp_range "$work/fuse/image" "$image" 0 $((bad * bs)) || fail "bytes before the bad block differ"
cmp_range "$work/fuse/image" "$image" $(((bad + 1) * bs)) $((4 * bs)) || fail "bytes after the bad block differ"
cp "$work/good-block" "$file"

log "the server goes away: errors, not a hang"
missing=$(unique_block "$work/www/img" $((bad + 40))) # far beyond what was read (and read ahead)
stop_nginx
start=$SECONDS
if timeout 60 dd if="$work/fuse/image" of=/dev/null bs=$bs skip="$missing" count=1 status=none 2>/dev/null; then
	fail "a read with the server gone succeeded"
fi
[ $((SECONDS - start)) -lt 30 ] || fail "a read with the server gone took $((SECONDS - start))s"
cmp_range "$work/fuse/image" "$image" 0 $((bad * bs)) || fail "cached bytes differ with the server gone"

log "SIGTERM unmounts cleanly"
pid=$(fuse_pid "$work/fuse")
kill -TERM "$pid"
wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
if mountpoint -q "$work/fuse"; then fail "still mounted after SIGTERM"; fi
log "fuse OK"
