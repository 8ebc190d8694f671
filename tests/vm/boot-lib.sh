# Helpers for the preboot tests (t-boot-*.sh). Source after lib.sh.
# shellcheck shell=bash

HCBOOT=$HTTPCLOOP_SRC/build/userspace/httpcloop-boot
# The kernel this guest runs: what the tests publish and kexec into.
GUEST_KERNEL=/boot/vmlinuz-$(uname -r)

require_boot_tools() {
	check test -x "$HCBOOT"
	file -b "$HCBOOT" | grep -q 'statically linked' || fail "$HCBOOT is not statically linked: $(file -b "$HCBOOT")"
	check test -r "$GUEST_KERNEL"
	check test -r /sys/kernel/kexec_loaded
}

# make_marker_initrd OUT TEXT_CMD: a BusyBox initramfs whose /init prints the output of the
# shell snippet TEXT_CMD on the console and powers off. The snippet computes the marker at
# run time, so the marker's text appears nowhere before that init runs.
make_marker_initrd() {
	local out=$1 snippet=$2 tree
	tree=$(mktemp -d /tmp/initrd-b.XXXXXX)
	mkdir -p "$tree"/{bin,proc,dev}
	mknod -m 600 "$tree/dev/console" c 5 1
	cp /bin/busybox "$tree/bin/busybox"
	ln -s busybox "$tree/bin/sh"
	cat >"$tree/init" <<-INIT
		#!/bin/sh
		/bin/busybox mount -t proc proc /proc
		$snippet
		/bin/busybox poweroff -f
	INIT
	chmod 755 "$tree/init"
	(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out"
	rm -rf "$tree"
}

# The base64 body of a PEM public key: what httpcloop.pubkey= takes on a command line.
pubkey_base64() { grep -v -- '-----' "$1" | tr -d '\n'; }

kexec_loaded() { cat /sys/kernel/kexec_loaded; }

# expect_boot_failure NAME NEEDLE ARGS...: httpcloop-boot ARGS must fail (status 1), print
# NEEDLE, and leave no kernel loaded for kexec.
expect_boot_failure() {
	local name=$1 needle=$2 out rc=0
	shift 2
	log "bad input: $name"
	out=$(timeout 120 "$HCBOOT" --on-fail exit "$@" 2>&1) || rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	[ "$rc" -eq 1 ] || fail "$name: expected status 1, got $rc"
	grep -qF -- "$needle" <<<"$out" || fail "$name: no '$needle' in the output"
	grep -q 'kexec: loaded' <<<"$out" && fail "$name: a kernel was loaded"
	check_eq 0 "$(kexec_loaded)" "$name: /sys/kernel/kexec_loaded"
}
