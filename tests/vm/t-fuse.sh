#!/usr/bin/env bash
# Both data paths on one kernel, and their shared cache: mount-fuse + loop gives the same
# files and bytes as the source; a cache filled through FUSE serves `attach` with no block
# request, and a cache filled through the kernel driver serves mount-fuse with none (from
# Linux 6.9 through FUSE passthrough, the server serving no read); a corrupted block gives
# EIO through FUSE too.
# vm-timeout: 300
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

load_module dead_timeout=5
modprobe fuse 2>/dev/null || true
modprobe loop 2>/dev/null || true

src=/tmp/src
mkdir -p "$src/d"
head -c $((4 * 1024 * 1024 + 99)) /dev/urandom >"$src/big.bin"
seq 1 100000 >"$src/d/numbers.txt"
image=/tmp/disk.ext4
truncate -s $((20 * 1024 * 1024 + 4096)) "$image"
mkfs.ext4 -q -F -b 4096 -d "$src" "$image"
"$HTTPCLOOP" mkimage --block-size 128K "$image" /tmp/www/img >/dev/null
start_nginx /tmp/www 8080 >/dev/null
url=http://127.0.0.1:8080/img/
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >/tmp/want.sha
block_requests() { grep -c ' /img/blocks/' "$NGINX_ACCESS_LOG" || true; }
mkdir -p /tmp/fuse /mnt/img

log "mount-fuse + loop: every file and byte"
"$HTTPCLOOP" mount-fuse "$url" /tmp/fuse --cache /tmp/cache-a
cleanup umount -q -l /tmp/fuse
mount -o loop,ro /tmp/fuse/image /mnt/img
(cd /mnt/img && sha256sum -c --quiet /tmp/want.sha) || fail "a file read through FUSE + loop differs"
umount /mnt/img
cmp /tmp/fuse/image "$image" || fail "FUSE image differs from the source"
umount /tmp/fuse
sleep 0.5
fetched=$(block_requests)

log "attach with the cache FUSE filled: no block request"
dev=$("$HTTPCLOOP" attach "$url" --cache /tmp/cache-a)
cmp "$dev" "$image" || fail "device differs from the source"
sleep 0.3
check_eq "$fetched" "$(block_requests)" "block requests by attach after mount-fuse"
"$HTTPCLOOP" detach "$dev"

log "mount-fuse with the cache the kernel path filled: no block request"
dev=$("$HTTPCLOOP" attach "$url" --cache /tmp/cache-b)
cmp "$dev" "$image" || fail "device differs from the source"
"$HTTPCLOOP" detach "$dev"
sleep 0.3
fetched=$(block_requests)
"$HTTPCLOOP" mount-fuse "$url" /tmp/fuse --cache /tmp/cache-b
cmp /tmp/fuse/image "$image" || fail "FUSE image differs (kernel-filled cache)"
sleep 0.3
check_eq "$fetched" "$(block_requests)" "block requests by mount-fuse after attach"
# FUSE passthrough with this complete cache: on from Linux 6.9 (Debian's kernels from 6.9 on
# have CONFIG_FUSE_PASSTHROUGH=y), then the kernel reads the cache file and the server
# serves none of the reads; refused with its reason before 6.9.
fuse_field() { "$HTTPCLOOP" status --json /tmp/fuse | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["daemon"][sys.argv[1]])' "$1"; }
if [ "$(printf '6.9\n%s\n' "$(uname -r | cut -d- -f1)" | sort -V | head -n1)" = 6.9 ]; then
	log "FUSE passthrough: the kernel reads the complete cache itself"
	check_eq on "$(fuse_field passthrough)" "passthrough state after reading a complete cache"
	reads=$(fuse_field reads)
	mount -o loop,ro /tmp/fuse/image /mnt/img
	(cd /mnt/img && sha256sum -c --quiet /tmp/want.sha) || fail "a file read through passthrough + loop differs"
	umount /mnt/img
	check_eq "$reads" "$(fuse_field reads)" "reads the server served for passthrough opens"
	check_eq 2 "$(fuse_field passthrough_opens)" "passthrough opens"
else
	case $(fuse_field passthrough) in
	"off (the kernel offers none"*) ;;
	*) fail "passthrough state on $(uname -r): $(fuse_field passthrough)" ;;
	esac
fi
umount /tmp/fuse

log "a corrupted block gives EIO through FUSE"
bad=$(unique_block /tmp/www/img 3)
file=$(stored_block_file /tmp/www/img "$bad")
printf '\xff' | dd of="$file" bs=1 seek=50 conv=notrunc status=none
"$HTTPCLOOP" mount-fuse "$url" /tmp/fuse --cache /tmp/cache-c --attempts 2
if dd if=/tmp/fuse/image of=/dev/null bs=128K skip="$bad" count=1 status=none 2>/tmp/err; then
	fail "reading a corrupted block through FUSE succeeded"
fi
grep -q "Input/output error" /tmp/err || fail "expected EIO, got: $(cat /tmp/err)"
cmp_range /tmp/fuse/image "$image" 0 $((bad * 128 * 1024)) || fail "bytes before the bad block differ"
umount /tmp/fuse
log "fuse OK"
