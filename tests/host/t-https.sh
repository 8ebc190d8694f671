#!/usr/bin/env bash
# The fetch engine over TLS, through mount-fuse on the host: nginx on 127.0.0.1 with a
# throw-away CA serves an image and a packed image over HTTPS + HTTP/2 and plain HTTP/1.1.
# With --cacert every byte reads back right; nginx's access log shows that the block
# requests (and the pack's Range requests, 206) were HTTP/2 streams multiplexed on one or
# two connections, and that plain HTTP kept its connections alive (no more than
# --parallel for many requests). Without --cacert, mount-fuse and verify fail at once with
# a certificate error and no block is requested, and an HTTPS mirror's blocks are refused
# while a plain mirror serves them; verify --cacert and info --cacert work.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
command -v nginx >/dev/null || fail "needs nginx (with the ssl and http_v2 modules)"
work=$(mktemp -d /tmp/httpcloop-https-test.XXXXXX)
cleanup rm -rf "$work"

bs=$((64 * 1024))
source_image=$work/source.img
head -c $((40 * bs)) /dev/urandom >"$source_image"
{ seq 1 300000 || true; } | head -c $((16 * bs + 1000)) >>"$source_image" # compressible, short last block
"$HTTPCLOOP" mkimage --block-size 64K "$source_image" "$work/www/img" >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K --pack "$source_image" "$work/www/pimg" >/dev/null

log "a throw-away CA and a certificate for IP 127.0.0.1"
tls=$work/tls
mkdir -p "$tls"
ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec_key[@]}" -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 \
	-subj "/CN=httpcloop test CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tls/openssl.log" || fail "CA: $(cat "$tls/openssl.log")"
openssl req "${ec_key[@]}" -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=127.0.0.1" \
	2>"$tls/openssl.log" || fail "server key: $(cat "$tls/openssl.log")"
printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
	"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
	-days 2 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>"$tls/openssl.log" ||
	fail "server certificate: $(cat "$tls/openssl.log")"
openssl verify -CAfile "$tls/ca.pem" "$tls/server.pem" >/dev/null || fail "the server certificate does not verify"

# nginx: one server block with TLS + HTTP/2, one with plain HTTP/1.1; each logs its own
# requests with the protocol, the connection's serial number and the status.
ngx=$work/nginx
mkdir -p "$ngx"
write_nginx_conf() {
	cat >"$ngx/nginx.conf" <<-EOF
		user root;
		daemon on;
		master_process on;
		worker_processes 1;
		pid $ngx/nginx.pid;
		error_log $ngx/error.log;
		events { worker_connections 256; }
		http {
			client_body_temp_path $ngx/body;
			proxy_temp_path $ngx/proxy;
			fastcgi_temp_path $ngx/fastcgi;
			uwsgi_temp_path $ngx/uwsgi;
			scgi_temp_path $ngx/scgi;
			log_format proto '\$server_protocol \$connection \$status \$request_method \$uri';
			default_type application/octet-stream;
			keepalive_timeout 60s;
			keepalive_requests 10000;
			root $work/www;
			add_header Accept-Ranges bytes always;
			server {
				listen 127.0.0.1:$https_port ssl http2;
				ssl_certificate $tls/server.pem;
				ssl_certificate_key $tls/server.key;
				access_log $ngx/https.log proto;
			}
			server {
				listen 127.0.0.1:$http_port;
				access_log $ngx/http.log proto;
			}
		}
	EOF
}
# Another process may take a port between free_port and nginx's bind: then try new ones.
started=false
for attempt in 1 2 3 4 5; do
	https_port=$(free_port)
	http_port=$(free_port)
	[ "$https_port" != "$http_port" ] || continue
	write_nginx_conf
	if nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" 2>"$ngx/start.log"; then
		started=true
		break
	fi
	grep -q "Address already in use" "$ngx/start.log" "$ngx/error.log" ||
		fail "nginx did not start: $(cat "$ngx/start.log" "$ngx/error.log" 2>/dev/null)"
	log "port taken (attempt $attempt), trying others"
done
$started || fail "nginx found no free port in 5 attempts: $(cat "$ngx/start.log")"
stop_test_nginx() {
	local pid i
	[ -s "$ngx/nginx.pid" ] || return 0
	pid=$(cat "$ngx/nginx.pid")
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
cleanup stop_test_nginx
wait_until 10 test -s "$ngx/nginx.pid"
https=https://127.0.0.1:$https_port
http=http://127.0.0.1:$http_port
log "nginx serves $work/www on $https/ (TLS, HTTP/2) and $http/"
# The test's own client agrees that the server speaks HTTP/2 with this CA.
check_eq 2 "$(curl -sS --max-time 10 --cacert "$tls/ca.pem" --http2 -o /dev/null -w '%{http_version}' "$https/img/manifest")" \
	"HTTP version curl negotiated"

mkdir -p "$work/fuse"
cleanup umount -q -l "$work/fuse"
n_mount=0
# mount_image URL ARGS...: mount-fuse with a fresh cache.
mount_image() {
	n_mount=$((n_mount + 1))
	timeout 30 "$HTTPCLOOP" mount-fuse "$@" "$work/fuse" --cache "$work/cache$n_mount" ||
		fail "mount-fuse $* failed"
}
status_field() { "$HTTPCLOOP" status --json "$work/fuse" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['daemon']['$1'])"; }
# unmount_image: unmount and wait for the server to exit.
unmount_image() {
	local pid
	pid=$(status_field pid)
	umount "$work/fuse"
	wait_until 10 bash -c "! kill -0 $pid 2>/dev/null"
}
# check_all: the whole image reads back right, within 60 s.
check_all() { timeout 60 cmp "$work/fuse/image" "$source_image" || fail "image differs or took over 60s"; }
# settle LOG: nginx writes a line once it has sent a response, which may be just after
# the client got it: wait (bounded) until LOG stops growing.
settle() {
	local last=-1 now i
	for ((i = 0; i < 50; i++)); do
		now=$(wc -l <"$1")
		[ "$now" != "$last" ] || return 0
		last=$now
		sleep 0.1
	done
	fail "$1 is still growing after 5 s"
}
# since LOG LINE: the lines of LOG after the first LINE ones.
since() { tail -n +$(($2 + 1)) "$1"; }
# check_requests LINES WHAT PROTOCOL STATUS MIN MAX_CONNECTIONS: LINES (log lines of one
# kind of request) are at least MIN, all with PROTOCOL and STATUS, on at most
# MAX_CONNECTIONS distinct connections.
check_requests() {
	local lines=$1 what=$2 protocol=$3 status=$4 min=$5 max_connections=$6 count others connections
	count=$(grep -c . <<<"$lines" || true)
	[ "$count" -ge "$min" ] || fail "$what: $count requests, expected at least $min"
	others=$(awk -v p="$protocol" -v s="$status" '$1 != p || $3 != s' <<<"$lines")
	[ -z "$others" ] || fail "$what: requests that are not $protocol $status: $(head -3 <<<"$others")"
	connections=$(awk '{print $2}' <<<"$lines" | sort -u | wc -l)
	[ "$connections" -le "$max_connections" ] ||
		fail "$what: $count requests on $connections connections, expected at most $max_connections"
	log "$what: $count requests, $protocol $status, on $connections connection(s)"
}

log "HTTPS + HTTP/2: the whole image, every byte"
before=$(wc -l <"$ngx/https.log")
mount_image "$https/img/" --cacert "$tls/ca.pem"
check_all
check_eq 0 "$(status_field blocks_failed)" "blocks failed"
unmount_image
settle "$ngx/https.log"
lines=$(since "$ngx/https.log" "$before")
grep -q " GET /img/manifest$" <<<"$lines" || fail "no manifest request over HTTPS"
check_requests "$(grep " GET /img/blocks/" <<<"$lines")" "HTTPS blocks" HTTP/2.0 200 20 2

log "HTTPS + HTTP/2, packed image: Range requests (206), scattered and concurrent reads"
before=$(wc -l <"$ngx/https.log")
mount_image "$https/pimg/" --cacert "$tls/ca.pem" --no-readahead
# Blocks far apart, four readers at once: separate Range requests, in flight together.
for start in 0 1 2 3; do
	(for ((b = start; b < 56; b += 8)); do
		dd if="$work/fuse/image" of=/dev/null bs=$bs skip=$b count=1 status=none
	done) &
done
wait
check_all
unmount_image
settle "$ngx/https.log"
lines=$(since "$ngx/https.log" "$before")
check_requests "$(grep " GET /pimg/blocks.pack$" <<<"$lines")" "HTTPS pack ranges" HTTP/2.0 206 20 2

log "plain HTTP/1.1: keep-alive, no more connections than --parallel"
parallel=4
before=$(wc -l <"$ngx/http.log")
mount_image "$http/img/" --parallel $parallel
check_all
unmount_image
settle "$ngx/http.log"
lines=$(since "$ngx/http.log" "$before")
check_requests "$(grep " GET /img/blocks/" <<<"$lines")" "HTTP blocks" HTTP/1.1 200 20 $parallel

log "without --cacert: a certificate error at once, no data"
n_mount=$((n_mount + 1))
before=$(wc -l <"$ngx/https.log")
start=$SECONDS
if timeout 30 "$HTTPCLOOP" mount-fuse "$https/img/" "$work/fuse" --cache "$work/cache$n_mount" 2>"$work/err"; then
	fail "mount-fuse succeeded without the CA"
fi
[ $((SECONDS - start)) -le 20 ] || fail "mount-fuse without the CA took $((SECONDS - start))s"
grep -qi "certificate" "$work/err" || fail "mount-fuse without the CA: no certificate error in: $(cat "$work/err")"
log "mount-fuse said: $(head -1 "$work/err")"
if mountpoint -q "$work/fuse"; then fail "mounted without the CA"; fi
if timeout 30 "$HTTPCLOOP" verify "$https/img/" >"$work/out" 2>"$work/err"; then
	fail "verify succeeded without the CA"
fi
grep -qi "certificate" "$work/err" || fail "verify without the CA: no certificate error in: $(cat "$work/err")"
grep -q "blocks checked" "$work/out" && fail "verify checked blocks without the CA: $(cat "$work/out")"
[ $((SECONDS - start)) -le 40 ] || fail "the failures without the CA took $((SECONDS - start))s"
sleep 0.3
check_eq "$before" "$(wc -l <"$ngx/https.log")" "requests served without the CA"

log "without --cacert, the HTTPS server first and a plain mirror: TLS refused for the blocks too"
mount_image "$https/img/" --mirror "$http/img/"
check_all
[ "$(status_field mirror.0.errors)" -ge 1 ] || fail "the HTTPS mirror shows no errors"
check_eq 0 "$(status_field mirror.0.bytes)" "bytes from the HTTPS mirror without the CA"
unmount_image
sleep 0.3
check_eq "$before" "$(wc -l <"$ngx/https.log")" "requests served without the CA"

if "$HTTPCLOOP" verify --help | grep -q -- "--cacert"; then
	log "verify --cacert over HTTPS"
	timeout 60 "$HTTPCLOOP" verify --cacert "$tls/ca.pem" "$https/img/" >"$work/out" ||
		fail "verify --cacert failed: $(cat "$work/out")"
	grep -q " 0 bad$" "$work/out" || fail "verify: $(cat "$work/out")"
	timeout 30 "$HTTPCLOOP" info --cacert "$tls/ca.pem" "$https/img/" >"$work/out" ||
		fail "info --cacert failed: $(cat "$work/out")"
else
	log "verify has no --cacert: its HTTPS success case skipped"
fi
log "https OK"
