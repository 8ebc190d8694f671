#!/usr/bin/env bash
# Issue 11, findings 5 and 1. Partitions appear at attach: the kernel's own partition
# scan in add_disk() may open the device and its reads wait for the daemon like any other
# (before, open failed until add_disk had returned, so an image with an MBR showed no
# partition until `blockdev --rereadpt`). And no netlink command waits for I/O under the
# generic netlink lock: while that scan waits for a block the server holds back,
# DEV_REMOVE is refused at once with EBUSY (before, it would wait for the scan, holding
# the lock that the daemon's BLOCK_READY needs, and every other generic netlink user of
# the machine with it), and an unrelated generic netlink family lookup is answered.
# Ctrl-C during such a cold attach, the server silent: attach exits 130 within seconds
# (the scan's reads are failed) and leaves no device or daemon.
# vm-timeout: 240
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

load_module

log "an MBR disk image: an ext4 partition with a file, a partition of random bytes"
mib=$((1024 * 1024))
truncate -s $((24 * mib)) /tmp/disk.img
python3 - /tmp/disk.img <<'PY'
import struct, sys
# Two primary partitions: (type, first sector, sectors); the boot signature.
entries = b"".join(struct.pack("<B3sB3sII", 0, b"\0" * 3, kind, b"\0" * 3, start, size)
                   for kind, start, size in ((0x83, 2048, 16384), (0xda, 18432, 28672)))
with open(sys.argv[1], "r+b") as disk:
    disk.seek(446)
    disk.write(entries + b"\0" * 32 + b"\x55\xaa")
PY
head -c $((3 * mib + 1234)) /dev/urandom >/tmp/file.bin
mkdir -p /tmp/p1
cp /tmp/file.bin /tmp/p1/
mkfs.ext4 -q -d /tmp/p1 /tmp/p1.img 8M
dd if=/tmp/p1.img of=/tmp/disk.img bs=512 seek=2048 conv=notrunc status=none
head -c $((28672 * 512)) /dev/urandom >/tmp/p2.bin
dd if=/tmp/p2.bin of=/tmp/disk.img bs=512 seek=18432 conv=notrunc status=none
"$HTTPCLOOP" mkimage --block-size 64K /tmp/disk.img /tmp/www/disk >/dev/null

# A server that holds back every block file until /tmp/release exists (at most 60 s).
python3 "$HTTPCLOOP_SRC/tests/vm/gated_server.py" /tmp/www 8081 &
server=$!
cleanup kill "$server"
wait_until 10 curl -sf -o /dev/null http://127.0.0.1:8081/disk/manifest

# A generic netlink request to the "nlctrl" family (CTRL_CMD_GETFAMILY "httpcloop"):
# it needs the same lock as every httpcloop command.
genl_lookup() {
	timeout 5 python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
name = b"httpcloop\0"
attr = struct.pack("HH", 4 + len(name), 2) + name + b"\0" * (-len(name) % 4)  # CTRL_ATTR_FAMILY_NAME
body = struct.pack("BBH", 3, 1, 0) + attr  # CTRL_CMD_GETFAMILY, version 1
s.send(struct.pack("IHHII", 16 + len(body), 0x10, 1, 1, 0) + body)  # GENL_ID_CTRL, NLM_F_REQUEST
reply = s.recv(65536)
assert struct.unpack_from("H", reply, 4)[0] == 0x10, "not an nlctrl answer"
PY
}

log "attach while the server holds the blocks back: add_disk's scan waits for block 0"
"$HTTPCLOOP" attach http://127.0.0.1:8081/disk/ --cache /tmp/cache --no-readahead >/tmp/attach.out 2>&1 &
attach=$!
parked_at_least() { [ -e /sys/block/httpcloop0/httpcloop/parked ] && [ "$(cat /sys/block/httpcloop0/httpcloop/parked)" -ge "$1" ]; }
wait_until 30 parked_at_least 1
start=$SECONDS
if out=$(timeout 20 "$HTTPCLOOP" detach httpcloop0 2>&1); then fail "detach succeeded during add_disk: $out"; fi
[ $((SECONDS - start)) -le 5 ] || fail "DEV_REMOVE took $((SECONDS - start)) s while the scan waited"
grep -q "still being added" <<<"$out" || fail "no clear refusal: $out"
log "refused at once: $out"
genl_lookup || fail "a generic netlink family lookup got no answer while the scan waited"
check test -e /sys/block/httpcloop0

log "the server lets the blocks go: attach returns, the partitions are there"
touch /tmp/release
wait "$attach" || fail "attach failed: $(cat /tmp/attach.out)"
dev=$(cat /tmp/attach.out)
check_eq /dev/httpcloop0 "$dev" "attach prints"
cleanup _detach_if_attached "$dev"
check test -e /sys/block/httpcloop0/httpcloop0p1
check test -e /sys/block/httpcloop0/httpcloop0p2
wait_until 10 test -b /dev/httpcloop0p1
check test -b /dev/httpcloop0p2
cmp /dev/httpcloop0p2 /tmp/p2.bin || fail "partition 2 differs from its source"
mkdir -p /mnt/p1
mount -o ro /dev/httpcloop0p1 /mnt/p1
cleanup umount /mnt/p1
cmp /mnt/p1/file.bin /tmp/file.bin || fail "the file in partition 1 differs"
umount /mnt/p1
cmp "$dev" /tmp/disk.img || fail "the device differs from the disk image"
genl_lookup || fail "generic netlink family lookup"
"$HTTPCLOOP" detach "$dev"
check test ! -e /sys/block/httpcloop0

log "Ctrl-C during a cold attach, the server silent: attach returns at once, no device and no daemon left"
rm -f /tmp/release
# The server holds the partition scan's blocks for 60 s: attach must not wait for them
# (it used to, up to the fetch deadline). timeout passes SIGINT on to attach.
timeout -k 10 40 "$HTTPCLOOP" attach http://127.0.0.1:8081/disk/ --cache /tmp/cache-interrupted >/tmp/attach2.out 2>&1 &
attach=$!
wait_until 30 parked_at_least 1
interrupted_at=$SECONDS
kill -INT "$attach"
status=0
wait "$attach" || status=$?
check_eq 130 "$status" "attach's exit status after SIGINT (124 or 137: still waiting for the server after 40 s)"
log "attach returned $((SECONDS - interrupted_at)) s after Ctrl-C"
grep -q "interrupted" /tmp/attach2.out || fail "attach said nothing about the interruption: $(cat /tmp/attach2.out)"
check test ! -e /sys/block/httpcloop0
no_daemon() { ! pgrep -f "httpcloop attach http://127.0.0.1:8081/disk/" >/dev/null; }
wait_until 10 no_daemon
log "interrupted: $(tr '\n' ' ' </tmp/attach2.out)"
