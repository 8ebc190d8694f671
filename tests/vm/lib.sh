# Helpers for the guest test scripts tests/vm/t-*.sh, which tests/vm/run-all runs as
# root inside a VM (scripts/vm-run). Source it first:
#   source "$(dirname "$0")/lib.sh"
# The guest sees the host's files read-only at the same paths (the repo is at
# $HTTPCLOOP_SRC); write only under /tmp (guest memory) or /out (kept on the host).
# shellcheck shell=bash
set -eEuo pipefail

# set -e alone exits silently: say which command failed, and where.
trap 'echo "ERROR: status $? from \"$BASH_COMMAND\" at ${BASH_SOURCE[0]##*/}:$LINENO" >&2' ERR

# Set by run-all; found from this file's place when a test is run with vm-run directly.
HTTPCLOOP_SRC=${HTTPCLOOP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export HTTPCLOOP_SRC

log() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# check CMD...: run CMD; fail (naming it) unless it succeeds.
check() { "$@" || fail "check failed: $*"; }

# check_eq EXPECTED ACTUAL [WHAT]
check_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"; }

# wait_until SECONDS CMD...: retry CMD every 0.1 s; fail if it never succeeds. CMD is run
# again each time, but its arguments were expanded once: wrap a "$(cat FILE)" in a function.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $*"
		sleep 0.1
	done
}

# cleanup CMD...: run CMD when the script exits, last registered first, whatever the
# exit status (which is kept). Failures of cleanup commands are ignored.
_CLEANUPS=()
cleanup() {
	_CLEANUPS+=("$(printf '%q ' "$@")")
	trap _run_cleanups EXIT
}
_run_cleanups() {
	local i
	for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${_CLEANUPS[i]}" || true
	done
	_CLEANUPS=()
}

# start_nginx ROOT_DIR PORT|free: serve ROOT_DIR on 127.0.0.1:PORT (or a free port) until
# stop_nginx (registered as a cleanup); exports NGINX_PORT. Exports NGINX_ACCESS_LOG (one line per request; its format is nginx's
# "combined" unless NGINX_LOG_FORMAT gives another, e.g. '$status $body_bytes_sent "$request"').
# NGINX_SERVER_EXTRA: more directives for the server block (e.g. "limit_rate 256k;").
# One instance at a time.
start_nginx() {
	local root=$1 port=$2 log_format="" log_name="" attempt
	if [ -n "${NGINX_LOG_FORMAT:-}" ]; then
		log_format="log_format custom '$NGINX_LOG_FORMAT';" # (no single quote in it)
		log_name=" custom"
	fi
	NGINX_DIR=$(mktemp -d /tmp/nginx.XXXXXX)
	export NGINX_ACCESS_LOG=$NGINX_DIR/access.log
	# "free": the kernel's pick, again if another process takes it before nginx binds it.
	for attempt in 1 2 3 4 5; do
		[ "$2" != free ] || port=$(free_port)
		write_nginx_conf "$root" "$port" "$log_format" "$log_name"
		nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" && break
		if [ "$2" != free ] || [ "$attempt" = 5 ] || ! grep -q 'Address already in use' "$NGINX_DIR/error.log"; then
			fail "nginx did not start: $(cat "$NGINX_DIR/error.log" 2>/dev/null)"
		fi
	done
	export NGINX_PORT=$port
	cleanup stop_nginx
	# The socket listens once nginx returns; the daemonized master writes its pid just after.
	wait_until 10 test -s "$NGINX_DIR/nginx.pid"
	log "nginx serves $root on http://127.0.0.1:$port/ (access log $NGINX_ACCESS_LOG)"
}

# free_port: a TCP port on 127.0.0.1 that no socket uses now (the kernel's pick for port
# 0; a fixed formula could pick a port a client connection already holds).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

write_nginx_conf() {
	local root=$1 port=$2 log_format=$3 log_name=$4
	cat >"$NGINX_DIR/nginx.conf" <<-EOF
		user root;
		daemon on;
		master_process on;
		worker_processes 1;
		pid $NGINX_DIR/nginx.pid;
		error_log $NGINX_DIR/error.log;
		events { worker_connections 256; }
		http {
			$log_format
			access_log $NGINX_ACCESS_LOG$log_name;
			default_type application/octet-stream;
			server {
				listen 127.0.0.1:$port;
				root $root;
				autoindex off;
				# nginx sends it only on 200 replies by default; range clients want it on 206 too.
				add_header Accept-Ranges bytes always;
				${NGINX_SERVER_EXTRA:-}
			}
		}
	EOF
}

stop_nginx() {
	[ -s "${NGINX_DIR:-}/nginx.pid" ] || return 0
	local pid
	pid=$(cat "$NGINX_DIR/nginx.pid")
	kill "$pid" 2>/dev/null || true
	local i
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$NGINX_DIR/nginx.pid"
}

# Requests nginx has logged so far.
http_requests_count() { wc -l <"$NGINX_ACCESS_LOG" | tr -d ' '; }

# wait_requests N: nginx logs a request only after sending the last byte, so a client
# can be done before the line is written: wait (up to 5 s) until N requests are logged.
wait_requests() {
	local deadline=$((SECONDS + 5))
	until [ "$(http_requests_count)" -eq "$1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || fail "expected $1 HTTP requests, nginx logged $(http_requests_count)"
		sleep 0.1
	done
}

# The freshly built program and module (make all builds both). A module built for
# another kernel than the tree's (scripts/run-tests builds one per VM kernel) is passed
# in HTTPCLOOP_KO.
HTTPCLOOP=$HTTPCLOOP_SRC/build/userspace/httpcloop
HTTPCLOOP_KO=${HTTPCLOOP_KO:-$HTTPCLOOP_SRC/kernel/httpcloop.ko}

# load_module [PARAM=VALUE...]: insmod the built module; rmmod at exit.
load_module() {
	check test -x "$HTTPCLOOP"
	check test -f "$HTTPCLOOP_KO"
	# The guest kernel does not autoload filesystems here (no modprobe helper in the initramfs boot).
	modprobe ext4 || true
	insmod "$HTTPCLOOP_KO" "$@" || fail "insmod $HTTPCLOOP_KO failed"
	cleanup rmmod httpcloop
}

# sha256 FILE: the hex digest alone.
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# stored_block_file IMAGE_DIR BLOCK: path of the block file that holds block BLOCK, read
# straight from the manifest as docs/format.md lays it out (so the test checks the doc).
stored_block_file() {
	python3 - "$1" "$2" <<-'PY'
		import struct, sys
		d, i = sys.argv[1], int(sys.argv[2])
		m = open(d + "/manifest", "rb").read()
		header_size, = struct.unpack_from("<I", m, 12)
		entry_size, = struct.unpack_from("<H", m, 30)
		entry = m[header_size + i * entry_size:header_size + (i + 1) * entry_size]
		stored_hash = entry[:32].hex()
		flags, = struct.unpack_from("<I", entry, 68)
		if flags & 1:
		    sys.exit("block %d is a hole" % i)
		print("%s/blocks/%s/%s" % (d, stored_hash[:2], stored_hash))
	PY
}

# cmp_range A B OFFSET LENGTH: the LENGTH bytes at OFFSET are the same in A and B (reads
# with O_DIRECT so that a block device is really read, not its page cache).
cmp_range() {
	local a=$1 b=$2 off=$3 len=$4
	cmp <(dd if="$a" bs=64K iflag=skip_bytes,count_bytes,direct skip="$off" count="$len" status=none 2>/dev/null ||
		dd if="$a" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none) \
		<(dd if="$b" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none)
}

_detach_if_attached() { [ ! -e "/sys/block/${1#/dev/}" ] || "$HTTPCLOOP" detach "$1"; }

# attach_smoke: the module as a system would use it (loaded, or loadable on demand):
# publish a small random image with nginx on 127.0.0.1:8080, attach it, check the queue
# is set up as meant (read-only, non-rotational, no entropy, no I/O scheduler), compare every byte read
# through the device with the source, cold and then warm, and detach.
attach_smoke() {
	local src=/tmp/smoke.img www=/tmp/smoke-www dev name pid anon
	head -c $((3 * 1024 * 1024 + 4096)) /dev/urandom >"$src"
	"$HTTPCLOOP" mkimage --block-size 64K "$src" "$www/img" >/dev/null
	start_nginx "$www" 8080
	dev=$("$HTTPCLOOP" attach http://127.0.0.1:8080/img/ --cache /tmp/smoke-cache)
	cleanup _detach_if_attached "$dev"
	check test -b "$dev"
	name=${dev#/dev/}
	check_eq 1 "$(cat "/sys/block/$name/ro")" "$name/ro"
	check_eq 0 "$(cat "/sys/block/$name/queue/rotational")" "$name/queue/rotational"
	check_eq 0 "$(cat "/sys/block/$name/queue/add_random")" "$name/queue/add_random"
	# No I/O scheduler unless one is chosen (as loop); mq-deadline cost half the rate
	# of 4 KiB reads at queue depth 16.
	grep -q '\[none\]' "/sys/block/$name/queue/scheduler" ||
		fail "$name's I/O scheduler is $(cat "/sys/block/$name/queue/scheduler"), not none"
	cmp "$dev" "$src" || fail "$dev differs from the image (cold)"
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$dev" "$src" || fail "$dev differs from the image (warm)"
	# The daemon's own memory, all of it locked, stays small: thread stacks of glibc's
	# default size were locked whole, 8 MiB each (19 MiB anonymous in all here; now under 4).
	pid=$("$HTTPCLOOP" status --json "$dev" | jq -r '.[0].daemon.pid')
	anon=$(awk '/^Anonymous:/ { print $2 }' "/proc/$pid/smaps_rollup")
	log "the daemon's anonymous memory: $anon KiB"
	[ "$anon" -le 12288 ] || fail "the daemon's anonymous memory is $anon KiB, over 12 MiB: thread stacks locked whole?"
	"$HTTPCLOOP" detach "$dev"
	check test ! -e "/sys/block/$name"
	stop_nginx
}

# check_modinfo MODULE: modinfo of MODULE (a .ko file, or a name modprobe resolves) shows a
# description, author, version, the GPL and the generic netlink family alias; and every
# parameter's description ends "Default: VALUE" (kept in MODULE_DEFAULTS, by name).
declare -A MODULE_DEFAULTS=()
check_modinfo() {
	local module=$1 field parm name
	modinfo "$module"
	for field in description author version; do
		[ -n "$(modinfo -F "$field" "$module")" ] || fail "modinfo shows no $field"
	done
	check_eq GPL "$(modinfo -F license "$module")" "license"
	modinfo -F alias "$module" | grep -qx 'net-pf-16-proto-16-family-httpcloop' ||
		fail "no generic netlink family alias: $(modinfo -F alias "$module")"
	MODULE_DEFAULTS=()
	# "name:description (type)", each description ending in "Default: VALUE".
	while IFS= read -r parm; do
		name=${parm%%:*}
		[[ $parm =~ Default:\ ([^ ]+)\ \([a-z]+\)$ ]] || fail "parameter $name has no default in its description: $parm"
		MODULE_DEFAULTS[$name]=${BASH_REMATCH[1]}
	done < <(modinfo -F parm "$module")
	[ ${#MODULE_DEFAULTS[@]} -gt 0 ] || fail "modinfo shows no parameters"
}

# check_parameter_defaults: every parameter of the loaded module is in sysfs at the
# default check_modinfo read, and modinfo describes no parameter the module lacks.
check_parameter_defaults() {
	local path name
	declare -A unseen=()
	for name in "${!MODULE_DEFAULTS[@]}"; do unseen[$name]=1; done
	for path in /sys/module/httpcloop/parameters/*; do
		name=${path##*/}
		[ -n "${MODULE_DEFAULTS[$name]:-}" ] || fail "parameter $name is not described by modinfo"
		check_eq "${MODULE_DEFAULTS[$name]}" "$(cat "$path")" "parameter $name"
		unset "unseen[$name]"
	done
	[ ${#unseen[@]} -eq 0 ] || fail "modinfo describes parameters the module lacks: ${!unseen[*]}"
}

# notify_listener SOCKET FILE: a stand-in for systemd's notification socket (sd_notify(3))
# at SOCKET, appending each message to FILE followed by a line "--"; stopped at exit.
notify_listener() {
	rm -f "$1" "$2"
	python3 -c '
import socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(listener.recv(4096) + b"\n--\n")
' "$1" "$2" &
	cleanup kill $!
	wait_until 10 test -S "$1"
}

# notified FILE FIELD=VALUE: a message in FILE (from notify_listener) has that line.
notified() { [ -f "$1" ] && grep -qx -- "$2" "$1"; }

# notified_by_now SOCKET FILE FIELD=VALUE: a message sent to SOCKET before this call has
# that line. The listener writes FILE when it gets round to it; a datagram socket keeps
# order, so once a marker sent now is in FILE, everything sent before it is too, and a
# line after the marker was sent later.
notified_by_now() {
	local marker
	marker="X-HTTPCLOOP-TEST-MARKER=$$.$RANDOM"
	python3 -c '
import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])
' "$1" "$marker" || return 1
	wait_until 10 notified "$2" "$marker"
	sed "/^$marker\$/q" "$2" | grep -qx -- "$3"
}

# small_module_tree: put a module tree that holds only the modules loaded now, the ones the
# tests load (ext4, loop, fuse) and their dependencies over the running kernel's
# /lib/modules/$(uname -r) (a tmpfs copy, bind-mounted; the guest is thrown away after the
# test), with every index file and the build and source links. depmod reads every module
# of its tree: Debian's few thousand, over 9p and under TCG, cost 60-160 s per run, and
# installing the module runs it (twice for DKMS). The install, depmod and modprobe stay
# the real ones; only the number of modules depmod reads changes.
small_module_tree() {
	local dir tree m path
	dir=/lib/modules/$(uname -r)
	tree=$(mktemp -d /tmp/modules.XXXXXX)
	find "$dir" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) -exec cp -a {} "$tree/" \;
	for m in $({ cut -d' ' -f1 /proc/modules; printf '%s\n' ext4 loop fuse; } | sort -u); do
		# "insmod PATH" for each module to load, dependencies first; "builtin NAME" otherwise.
		modprobe --show-depends "$m" 2>/dev/null | while read -r what path _; do
			[ "$what" = insmod ] || continue
			[ -e "$tree/${path#"$dir"/}" ] || (cd "$dir" && cp --parents "${path#"$dir"/}" "$tree/")
		done
	done
	[ -n "$(find "$tree" -name '*.ko*' -print -quit)" ] || fail "no module copied into $tree"
	mount --bind "$tree" "$dir"
	cleanup umount -l "$dir"
	log "module tree $dir: $(find "$dir" -name '*.ko*' | wc -l) modules (a copy in $tree)"
}

# unique_block IMAGE_DIR FROM: the first block at or after FROM whose stored bytes no other
# block shares (so its block file is downloaded for it alone) and that is not a hole.
unique_block() {
	python3 - "$1" "$2" <<-'PY'
		import collections, struct, sys
		m = open(sys.argv[1] + "/manifest", "rb").read()
		header_size, = struct.unpack_from("<I", m, 12)
		entry_size, = struct.unpack_from("<H", m, 30)
		count, = struct.unpack_from("<Q", m, 32)
		entries = [m[header_size + i * entry_size:header_size + (i + 1) * entry_size] for i in range(count)]
		uses = collections.Counter(e[:32] for e in entries)
		for i in range(int(sys.argv[2]), count):
		    flags, = struct.unpack_from("<I", entries[i], 68)
		    if not flags & 1 and uses[entries[i][:32]] == 1:
		        print(i)
		        sys.exit(0)
		sys.exit("no unique block")
	PY
}
