# Helpers for the root-boot tests tests/boot/t-*.sh, which run on the host: each boots a
# whole Debian 12 system in QEMU whose root file system comes over HTTP from nginx on the
# host's 127.0.0.1, reached from the guest only through a restricted user network
# (../shared/VM-NOTES.md: restrict=on, one guestfwd to that server, nothing else).
# Source it first; it sources tests/vm/lib.sh for log/fail/check/cleanup/start_nginx.
# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

# This checkout (scripts, initramfs-tools files); the build under test is HTTPCLOOP_SRC's
# (the same, or make bench's snapshot of the program and module).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HTTPCLOOP=$HTTPCLOOP_SRC/build/userspace/httpcloop
MODULE=$HTTPCLOOP_SRC/kernel/httpcloop.ko
# What the tests share: the root image, its initramfs, keys. Rebuilt when an input changes.
# HTTPCLOOP_ROOT_BLOCK_SIZE: the image's block size (mkroot --block-size; default mkroot's).
ROOT_BLOCK_SIZE=${HTTPCLOOP_ROOT_BLOCK_SIZE:-}
BOOT_BUILD=${HTTPCLOOP_BOOT_BUILD:-$ROOT/build/root-boot${ROOT_BLOCK_SIZE:+-$ROOT_BLOCK_SIZE}}
# Each test's console logs and notes (run-all sets it).
RESULTS=${HTTPCLOOP_BOOT_RESULTS:-$(mktemp -d "${TMPDIR:-/var/tmp}/httpcloop-boot.XXXXXX")}
mkdir -p "$RESULTS"
# The address the guest knows the server by; it exists only inside QEMU's network.
SERVER_IP=10.0.2.100
IMAGE_URL=http://$SERVER_IP/root/
# The marker unit's file of random bytes, and where the guest prints its findings.
TEST_FILE=/srv/httpcloop-test/random.bin
# Read by the marker only after it killed the daemon (kernel parameter hctest.restart).
AFTER_RESTART_FILE=/srv/httpcloop-test/after-restart.bin
BAD_KERNEL_LOG='WARNING:|BUG:|Oops|general protection|blocked for more than|Kernel panic|I/O error, dev|Buffer I/O error|Call Trace'

# Debian 12's newest kernel: the one the module was built for (scripts/run-tests).
VMLINUZ=$("$ROOT/scripts/debian12-kernel" || true)
KVER=${VMLINUZ#/boot/vmlinuz-}

# The script the marker unit runs in the booted system: what the tests look for on the
# console, every line prefixed HCMARK, then a clean power-off.
write_marker() {
	cat <<-'EOF'
	#!/bin/sh
	# httpcloop root-boot test marker: report how / is mounted, read a file, power off.
	exec >/dev/console 2>&1
	m() { echo "HCMARK $*"; }
	m "multi-user: $(systemctl is-active multi-user.target)"
	# Bytes each disk-like device has read so far: what the boot read (bench/boot.sh).
	m "device reads: $(for d in /sys/block/vd* /sys/block/httpcloop* /sys/block/loop*; do
		[ -r "$d/stat" ] && read -r _ _ sectors _ <"$d/stat" && [ "$sectors" -gt 0 ] && printf '%s=%s ' "${d##*/}" $((sectors * 512))
	done)"
	m "root: $(findmnt -n -o SOURCE,FSTYPE /)"
	m "read_ahead_kb: $(cat /sys/block/httpcloop0/queue/read_ahead_kb 2>/dev/null)"
	m "image: $(findmnt -n -r -o SOURCE,FSTYPE,OPTIONS /run/initramfs/httpcloop/image 2>/dev/null || findmnt -n -r -o SOURCE,FSTYPE,OPTIONS /)"
	m "sha256: $(sha256sum /srv/httpcloop-test/random.bin | cut -d' ' -f1)"
	pid=$(cat /sys/block/httpcloop0/httpcloop/daemon_pid 2>/dev/null)
	m "daemon: pid=$pid argv0=$(tr '\0' '\n' </proc/$pid/cmdline 2>/dev/null | head -n1) comm=$(cat /proc/$pid/comm 2>/dev/null)"
	m "failed units: $(systemctl list-units --state=failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
	if grep -qw hctest.restart /proc/cmdline; then
		# The daemon comes back by itself after switch_root: killed, its supervisor
		# starts another, which fetches a file nothing has read yet.
		sys=/sys/block/httpcloop0/httpcloop
		kill -KILL "$pid"
		i=0
		while [ $i -lt 300 ]; do
			new=$(cat $sys/daemon_pid)
			[ "$(cat $sys/daemon_alive)" = 1 ] && [ "$new" != "$pid" ] && break
			sleep 0.1
			i=$((i + 1))
		done
		m "restarted: old=$pid new=$new claims=$(cat $sys/claims) argv0=$(tr '\0' '\n' </proc/$new/cmdline 2>/dev/null | head -n1)"
		m "after-restart sha256: $(sha256sum /srv/httpcloop-test/after-restart.bin | cut -d' ' -f1)"
	fi
	/usr/local/bin/httpcloop status /dev/httpcloop0 | sed 's/^/HCMARK status: /'
	m "writable: $(touch /var/tmp/hc-written && echo yes)"
	m "done"
	# (poweroff.target directly: "systemctl poweroff" asks logind first, and there is no D-Bus)
	systemctl start --no-block poweroff.target
	EOF
}

write_marker_unit() {
	cat <<-'EOF'
	[Unit]
	Description=httpcloop root-boot test marker
	After=multi-user.target

	[Service]
	Type=oneshot
	ExecStart=/usr/local/sbin/httpcloop-marker

	[Install]
	WantedBy=multi-user.target
	EOF
}

# The inputs of the shared build, hashed: anything that changes the image or initramfs.
_build_key() {
	{
		echo "$1 $ROOT_BLOCK_SIZE"
		sha256sum "$HTTPCLOOP" "$MODULE" "$ROOT"/initramfs-tools/hooks/* \
			"$ROOT"/initramfs-tools/scripts/httpcloop "$ROOT"/initramfs-tools/scripts/init-top/* \
			"$ROOT/scripts/mkroot" "${BASH_SOURCE[0]}" "$VMLINUZ"
	} | sha256sum | cut -c1-16
}

# prepare_root: makes (or reuses) $BOOT_BUILD: tree/ (a copy of the cached Debian tree
# with httpcloop and the marker), out/ (scripts/mkroot's output, signed with key.pem),
# other.pem (a key that did not sign it). Sets IMAGE_SHA, PUBKEY_B64, OTHER_B64.
prepare_root() {
	local tree key
	check test -x "$HTTPCLOOP"
	check test -f "$MODULE"
	tree=$("$ROOT/tests/boot/root-tree")
	key=$(_build_key "$tree")
	if [ "$(cat "$BOOT_BUILD/.key" 2>/dev/null)" != "$key" ]; then
		log "building the root image and its initramfs in $BOOT_BUILD"
		rm -rf "$BOOT_BUILD"
		mkdir -p "$BOOT_BUILD"
		cp -a "$tree" "$BOOT_BUILD/tree"
		rm -f "$BOOT_BUILD/tree/.httpcloop-complete"
		install -D -m 0755 /dev/stdin "$BOOT_BUILD/tree/usr/local/sbin/httpcloop-marker" < <(write_marker)
		write_marker_unit >"$BOOT_BUILD/tree/etc/systemd/system/httpcloop-marker.service"
		ln -s ../httpcloop-marker.service "$BOOT_BUILD/tree/etc/systemd/system/multi-user.target.wants/httpcloop-marker.service"
		mkdir -p "$BOOT_BUILD/tree$(dirname "$TEST_FILE")"
		head -c $((3 * 1024 * 1024)) /dev/urandom >"$BOOT_BUILD/tree$TEST_FILE"
		head -c $((2 * 1024 * 1024)) /dev/urandom >"$BOOT_BUILD/tree$AFTER_RESTART_FILE"
		"$HTTPCLOOP" keygen "$BOOT_BUILD/key.pem" >/dev/null
		"$HTTPCLOOP" keygen "$BOOT_BUILD/other.pem" >/dev/null
		"$ROOT/scripts/mkroot" --install --httpcloop "$HTTPCLOOP" --module "$MODULE" --kernel "$VMLINUZ" \
			--sign "$BOOT_BUILD/key.pem" --url "$IMAGE_URL" ${ROOT_BLOCK_SIZE:+--block-size "$ROOT_BLOCK_SIZE"} \
			"$BOOT_BUILD/tree" "$BOOT_BUILD/out" >"$BOOT_BUILD/mkroot.out" ||
			fail "scripts/mkroot failed"
		echo "$key" >"$BOOT_BUILD/.key"
	fi
	IMAGE_SHA=$(sha256sum "$BOOT_BUILD/out/www/root/manifest" | cut -d' ' -f1)
	PUBKEY_B64=$(grep -v -- '-----' "$BOOT_BUILD/key.pem.pub" | tr -d '\n')
	OTHER_B64=$(grep -v -- '-----' "$BOOT_BUILD/other.pem.pub" | tr -d '\n')
	TEST_FILE_SHA=$(sha256sum "$BOOT_BUILD/tree$TEST_FILE" | cut -d' ' -f1)
	AFTER_RESTART_SHA=$(sha256sum "$BOOT_BUILD/tree$AFTER_RESTART_FILE" | cut -d' ' -f1)
}

# prepare_ordered_root: makes (or reuses) $BOOT_BUILD/ordered: the same tree as a
# boot-ordered image (README, "A boot-ordered image"): a copy of out/root.ext4 booted once
# from a local disk with rootflags=strictatime, scripts/boot-order's list of the files that
# boot read (boot-order.txt), and `scripts/mkroot --image-only --boot-order` with it
# (root.ext4, www/root/, signed with key.pem). Needs serve_www first (the guest's network).
# Sets ORDERED, ORDERED_SHA.
prepare_ordered_root() {
	ORDERED=$BOOT_BUILD/ordered
	if [ "$(cat "$ORDERED/.key" 2>/dev/null)" != "$(cat "$BOOT_BUILD/.key")" ]; then
		log "the boot-ordered image in $ORDERED"
		rm -rf "$ORDERED"
		mkdir -p "$ORDERED"
		cp --sparse=always "$BOOT_BUILD/out/root.ext4" "$ORDERED/booted.ext4"
		boot_guest order-boot 400 "root=/dev/vda rw rootflags=strictatime" \
			-drive "file=$ORDERED/booted.ext4,if=virtio,format=raw" ||
			{ tail -n 40 "$CONSOLE"; fail "the strictatime boot did not power off cleanly"; }
		console_has 'HCMARK done' || fail "the strictatime boot never reached its marker ($CONSOLE)"
		"$ROOT/scripts/boot-order" "$ORDERED/booted.ext4" >"$ORDERED/boot-order.txt" || fail "scripts/boot-order failed"
		rm -f "$ORDERED/booted.ext4"
		cp "$BOOT_BUILD/out/vmlinuz" "$BOOT_BUILD/out/initrd.img" "$ORDERED/"
		"$ROOT/scripts/mkroot" --image-only --boot-order "$ORDERED/boot-order.txt" --httpcloop "$HTTPCLOOP" \
			--kernel "$BOOT_BUILD/out/vmlinuz" --sign "$BOOT_BUILD/key.pem" --url "$IMAGE_URL" \
			${ROOT_BLOCK_SIZE:+--block-size "$ROOT_BLOCK_SIZE"} "$BOOT_BUILD/tree" "$ORDERED" \
			>"$ORDERED/mkroot.out" 2>&1 || { tail -n 20 "$ORDERED/mkroot.out"; fail "mkroot --boot-order failed"; }
		cp "$BOOT_BUILD/.key" "$ORDERED/.key"
	fi
	ORDERED_SHA=$(sha256sum "$ORDERED/www/root/manifest" | cut -d' ' -f1)
}

# serve_www [DIR]: nginx on the host's 127.0.0.1 (a free port, SERVER_PORT) for DIR
# (default $BOOT_BUILD/out/www); the guest's 10.0.2.100:80 leads there.
serve_www() {
	SERVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	NGINX_LOG_FORMAT='$status $body_bytes_sent "$request"'
	start_nginx "${1:-$BOOT_BUILD/out/www}" "$SERVER_PORT"
}

# Block files fetched by the guest so far (each a GET of /root/blocks/...).
block_requests() { grep -c '"GET /root/blocks/' "$NGINX_ACCESS_LOG" || true; }
# Bytes of block files sent so far.
block_bytes() { awk '/"GET \/root\/blocks\// { n += $2 } END { print n + 0 }' "$NGINX_ACCESS_LOG"; }

# boot_guest NAME TIMEOUT APPEND [QEMU ARGS...]: boots the root image's kernel and
# initramfs with kernel parameters APPEND (after the console and test settings), or with
# APPEND empty whatever the QEMU ARGS' disks boot, with the restricted network, until it powers off or TIMEOUT seconds pass. The console goes to
# $RESULTS/NAME.console (CONSOLE). Status: QEMU's, 124 on timeout. BOOT_INITRD replaces
# the initramfs; BOOT_TIMING_FILE, if set, receives the seconds to the marker.
boot_guest() {
	local name=$1 timeout=$2 append=$3 rc=0 lock_dir
	shift 3
	CONSOLE=$RESULTS/$name.console
	: >"$CONSOLE"
	# One VM at a time on this machine (the lock scripts/vm-run takes).
	lock_dir=${XDG_CACHE_HOME:-/var/tmp}/httpcloop-vm
	mkdir -p "$lock_dir"
	exec {vm_lock}>"$lock_dir/vm.lock"
	flock "$vm_lock"
	log "boot $name: ${append:-(from its disks: $*)}"
	local direct=()
	# An empty APPEND boots from the disks given (a boot loader), not a kernel we pass.
	[ -z "$append" ] || direct=(-kernel "$BOOT_BUILD/out/vmlinuz" -initrd "${BOOT_INITRD:-$BOOT_BUILD/out/initrd.img}"
		-append "console=ttyS0 panic=-1 mitigations=off sysctl.kernel.hung_task_timeout_secs=20 $append")
	local attempt watcher=""
	for attempt in 1 2; do
		rc=0
		: >"$CONSOLE"
		# BOOT_TIMING_FILE: the seconds from QEMU's start to the marker's first line go there.
		if [ -n "${BOOT_TIMING_FILE:-}" ]; then
			[ -z "$watcher" ] || { kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; }
			rm -f "$BOOT_TIMING_FILE"
			(
				start=$(date +%s%N)
				until grep -aq 'HCMARK multi-user' "$CONSOLE"; do sleep 0.05; done
				echo "$(($(date +%s%N) - start))" | awk '{ printf "%.2f\n", $1 / 1e9 }' >"$BOOT_TIMING_FILE"
			) &
			watcher=$!
		fi
		timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
			-accel tcg,thread=multi -cpu max -smp 2 -m 1536 \
			-nodefaults -no-user-config -display none -monitor none -no-reboot \
			-serial "file:$CONSOLE" "${direct[@]}" \
			-nic "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:$SERVER_IP:80-cmd:socat STDIO TCP:127.0.0.1:$SERVER_PORT" \
			"$@" </dev/null || rc=$?
		# As scripts/vm-run does: QEMU's multi-threaded TCG occasionally breaks the guest
		# kernel's own boot; if it died before our module was even loaded, boot once more.
		if [ "$attempt" -eq 1 ] && grep -Eq 'Kernel panic|Oops' "$CONSOLE" && ! grep -q 'httpcloop' <(grep -v 'Command line' "$CONSOLE"); then
			log "boot $name: the guest kernel crashed during its own boot ($(grep -Em1 'Oops|Kernel panic' "$CONSOLE" | tr -d '\r')); booting it once more"
			cp "$CONSOLE" "$CONSOLE.first-boot"
			continue
		fi
		break
	done
	exec {vm_lock}>&-
	[ -z "$watcher" ] || { kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true; }
	log "boot $name ended with status $rc after the console's last line: $(tail -n1 "$CONSOLE" | tr -d '\r')"
	return "$rc"
}

# console_has REGEX: the console shows it (grep -E).
console_has() { grep -Eq -- "$1" "$CONSOLE"; }
# marker NAME: the value the marker printed as "HCMARK NAME: VALUE".
marker() { sed -n "s/^.*HCMARK $1: //p" "$CONSOLE" | tr -d '\r' | head -n1; }

# check_console_clean: no kernel warning, oops, hung task or I/O error in the guest's log.
check_console_clean() {
	if grep -v 'Kernel command line' "$CONSOLE" | grep -E -A12 "$BAD_KERNEL_LOG"; then
		fail "the guest's console shows a kernel problem (above; $CONSOLE)"
	fi
}

# check_booted_from_http: the marker ran in a system whose root is the overlay over
# /dev/httpcloop0, read the test file correctly, and the system powered off.
check_booted_from_http() {
	console_has 'HCMARK done' || { tail -n 40 "$CONSOLE"; fail "the marker never finished ($CONSOLE)"; }
	check_eq active "$(marker multi-user)" "multi-user.target"
	check_eq "httpcloop-root overlay" "$(marker root)" "findmnt /"
	[[ $(marker image) == "/dev/httpcloop0 ext4 ro,"* ]] || fail "image mount: $(marker image)"
	check_eq "$TEST_FILE_SHA" "$(marker sha256)" "sha256 of $TEST_FILE read in the booted system"
	[[ $(marker daemon) == *"argv0=@"*"comm=httpcloop" ]] || fail "the daemon is not marked for systemd: $(marker daemon)"
	check_eq "" "$(marker 'failed units' | tr -d ' ')" "failed units"
	check_eq yes "$(marker writable)" "the root is writable"
	console_has 'reboot: Power down' || fail "the system did not power off"
	check_console_clean
}
