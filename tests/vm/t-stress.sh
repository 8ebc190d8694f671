#!/usr/bin/env bash
# Kill-under-load stress (issue 11), as ublk's recovery tests do: fio verifies random
# reads of 4 KiB, 64 KiB and 1 MiB at queue depth 16 (crc32c written into every block)
# over /dev/httpcloop0 while sha256sum checks every file of an ext4 file system mounted
# from /dev/httpcloop1; meanwhile device 0's daemon is SIGKILLed 20 times and device 1's
# 10 times (HTTPCLOOP_STRESS_KILLS), at random moments, and each is replaced once with `httpcloop restart`. The
# server is rate-limited so that most reads are cold misses that need a daemon. Every
# daemon comes back through its supervisor: no verify mismatch, no failed read, no I/O
# error, the restarts counted in sysfs and `status`; the guest's dmesg is checked for
# warnings and hung tasks by vm-run.
# vm-timeout: 480
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# HTTPCLOOP_STRESS_KILLS: device 0's SIGKILLs (even, at least 2; default 20); device 1 gets
# half as many, and both are restarted once halfway. scripts/run-tests asks for fewer on
# the second kernel: the same paths, in about half the time.
KILLS0=${HTTPCLOOP_STRESS_KILLS:-20}
[[ $KILLS0 =~ ^[0-9]+$ ]] && [ "$KILLS0" -ge 2 ] && [ $((KILLS0 % 2)) = 0 ] ||
	fail "HTTPCLOOP_STRESS_KILLS must be an even number, at least 2: $KILLS0"
KILLS1=$((KILLS0 / 2))
load_module
command -v fio >/dev/null || fail "fio is not installed (scripts/install-deps)"

log "the fio image: three regions written at random with 4 KiB, 64 KiB and 1 MiB blocks, crc32c in each"
cat >/tmp/verify.fio <<'EOF'
[global]
rw=randwrite
verify=crc32c
randrepeat=1
randseed=20261203
[small]
bs=4k
offset=0
size=16m
[medium]
bs=64k
offset=16m
size=48m
[large]
bs=1m
offset=64m
size=64m
EOF
fio --filename=/tmp/fio.img --ioengine=psync --do_verify=0 --output=/tmp/fio-write.log /tmp/verify.fio ||
	fail "fio could not write the image: $(cat /tmp/fio-write.log)"
"$HTTPCLOOP" mkimage --block-size 64K /tmp/fio.img /tmp/www/fio >/dev/null

log "the ext4 image: files of random sizes and their sha256"
mkdir -p /tmp/files
for i in $(seq 1 24); do
	head -c $(((RANDOM % 32 + 1) * 64 * 1024 + RANDOM)) /dev/urandom >"/tmp/files/f$i"
done
(cd /tmp/files && sha256sum f*) >/tmp/files.sha256
mkfs.ext4 -q -b 4096 -d /tmp/files /tmp/fs.img 48M
"$HTTPCLOOP" mkimage --block-size 64K /tmp/fs.img /tmp/www/fs >/dev/null

# 8 transfers per daemon at 512 KiB/s each: a cold pass over the fio image takes ~30 s.
NGINX_SERVER_EXTRA="limit_rate 512k;" start_nginx /tmp/www 8080
dev0=$("$HTTPCLOOP" attach http://127.0.0.1:8080/fio/ --cache /tmp/cache)
cleanup _detach_if_attached "$dev0"
dev1=$("$HTTPCLOOP" attach http://127.0.0.1:8080/fs/ --cache /tmp/cache)
cleanup _detach_if_attached "$dev1"
check_eq /dev/httpcloop0 "$dev0" "first device"
mkdir -p /mnt/fs
mount -o ro "$dev1" /mnt/fs
cleanup umount /mnt/fs

daemon_pid() { cat "/sys/block/httpcloop$1/httpcloop/daemon_pid"; }
sysfs_value() { cat "/sys/block/httpcloop$1/httpcloop/$2"; }
served_by_new_daemon() { [ "$(sysfs_value "$1" daemon_alive)" = 1 ] && [ "$(daemon_pid "$1")" != "$2" ]; }

# fio: verify passes over /dev/httpcloop0 until the killer is done, then one more.
fio_loop() {
	local pass=0 last=""
	while [ -z "$last" ]; do
		[ -e /tmp/killer.done ] && last=1
		pass=$((pass + 1))
		fio --filename="$dev0" --verify_only --ioengine=libaio --direct=1 --iodepth=16 \
			--output-format=json --output="/tmp/fio-read-$pass.json" /tmp/verify.fio ||
			{ echo "fio pass $pass failed"; return 1; }
	done
	echo "$pass" >/tmp/fio.passes
}

# sha256sum: every file of the ext4 mount, caches dropped between passes.
sha_loop() {
	local pass=0 last=""
	while [ -z "$last" ]; do
		[ -e /tmp/killer.done ] && last=1
		pass=$((pass + 1))
		echo 3 >/proc/sys/vm/drop_caches
		(cd /mnt/fs && sha256sum -c --quiet /tmp/files.sha256) || { echo "sha256 pass $pass failed"; return 1; }
	done
	echo "$pass" >/tmp/sha.passes
}

log "load: fio and sha256sum; $KILLS0 SIGKILLs for device 0's daemon, $KILLS1 for device 1's, one restart each"
fio_loop >/tmp/fio-loop.log 2>&1 &
fio_job=$!
sha_loop >/tmp/sha-loop.log 2>&1 &
sha_job=$!
rm -f /tmp/killer.done
for i in $(seq 1 "$KILLS0"); do
	sleep "$((RANDOM % 20 / 10)).$((RANDOM % 10))"
	old0=$(daemon_pid 0)
	kill -KILL "$old0"
	if [ $((i % 2)) = 0 ]; then
		old1=$(daemon_pid 1)
		kill -KILL "$old1"
		wait_until 30 served_by_new_daemon 1 "$old1"
	fi
	wait_until 30 served_by_new_daemon 0 "$old0"
	if [ "$i" = "$KILLS1" ]; then
		log "restart (an upgrade in place) of both daemons, under load"
		check_eq "$dev0" "$("$HTTPCLOOP" restart "$dev0")" "restart prints"
		check_eq "$dev1" "$("$HTTPCLOOP" restart "$dev1")" "restart prints"
	fi
done
touch /tmp/killer.done
log "killer done; waiting for the last passes"
wait "$fio_job" || fail "fio: $(tail -n 20 /tmp/fio-loop.log)"
wait "$sha_job" || fail "sha256sum: $(tail -n 20 /tmp/sha-loop.log)"

reads=$(python3 - <<'PY'
import glob, json
total = 0
for name in glob.glob("/tmp/fio-read-*.json"):
    for job in json.load(open(name))["jobs"]:
        total += job["read"]["total_ios"]
print(total)
PY
)
[ "$reads" -gt 0 ] || fail "fio read nothing"
claims0=$(sysfs_value 0 claims)
claims1=$(sysfs_value 1 claims)
check_eq $((KILLS0 + 1)) "$claims0" "device 0 take-overs (kills + restart)"
check_eq $((KILLS1 + 1)) "$claims1" "device 1 take-overs (kills + restart)"
check_eq 0 "$(sysfs_value 0 io_errors)" "device 0 I/O errors"
check_eq 0 "$(sysfs_value 1 io_errors)" "device 1 I/O errors"
grep -q "restarts: taken over by a new daemon $claims0 times$" <<<"$("$HTTPCLOOP" status "$dev0")" ||
	fail "status does not count device 0's restarts: $("$HTTPCLOOP" status "$dev0")"
cmp "$dev0" /tmp/fio.img || fail "device 0 differs from its image"
requests=$(http_requests_count)
log "stress figures: fio passes $(cat /tmp/fio.passes) ($reads verified reads, 0 mismatches)," \
	"sha256 passes $(cat /tmp/sha.passes) (24 files each), take-overs $claims0 + $claims1," \
	"I/O errors 0, HTTP requests $requests"
