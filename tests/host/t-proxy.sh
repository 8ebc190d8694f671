#!/usr/bin/env bash
# Publishing behind shared caches: nginx on 127.0.0.1 is the origin, served with
# docs/examples/nginx-httpcloop.conf, and a caching reverse proxy in front of it, run with
# docs/examples/nginx-proxy-cache.conf (proxy_cache; slice for packs). Through the proxy:
# two clients with empty caches read the whole image (block files, then a pack) right, and
# the second causes no request for a block at the origin; a proxy that keeps a damaged
# copy of a block makes the client ask past it ("Pragma: no-cache") and read right bytes.
# A forward proxy from http_proxy is used, and reads right too.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts)"
work=$(mktemp -d /tmp/httpcloop-proxy-test.XXXXXX)
cleanup rm -rf "$work"
head -c $((24 * 65536)) /dev/urandom >"$work/src.img"
{ seq 1 300000 || true; } | head -c $((16 * 65536 + 4096)) >>"$work/src.img"
"$HTTPCLOOP" mkimage --block-size 64K "$work/src.img" "$work/www/img" >/dev/null
"$HTTPCLOOP" mkimage --block-size 64K --pack "$work/src.img" "$work/www/pimg" >/dev/null
grep -q 'immutable' "$work/www/img/.htaccess" || fail "mkimage wrote no caching hints for Apache"

origin=$(free_port)
proxy=$(free_port)
forward=$(free_port)
ngx=$work/nginx
mkdir -p "$ngx/cache"
cat >"$ngx/nginx.conf" <<EOF
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
	log_format req '\$status \$request_method \$uri range=\$http_range pragma=\$http_pragma';
	default_type application/octet-stream;
	proxy_cache_path $ngx/cache keys_zone=httpcloop:10m max_size=1g inactive=1h use_temp_path=off;
	server {
		listen 127.0.0.1:$origin;
		root $work/www;
		access_log $ngx/origin.log req;
		include $HTTPCLOOP_SRC/docs/examples/nginx-httpcloop.conf;
	}
	server {
		listen 127.0.0.1:$proxy;
		access_log $ngx/proxy.log req;
		set \$httpcloop_origin http://127.0.0.1:$origin;
		include $HTTPCLOOP_SRC/docs/examples/nginx-proxy-cache.conf;
	}
	# A forward proxy (for http_proxy=): the request line names the origin.
	server {
		listen 127.0.0.1:$forward;
		access_log $ngx/forward.log req;
		location / { proxy_pass http://\$http_host\$request_uri; }
	}
}
EOF
nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" || fail "nginx: $(cat "$ngx/error.log")"
cleanup kill "$(cat "$ngx/nginx.pid")"
wait_until 10 test -s "$ngx/nginx.pid"

log "the origin sends what the example configuration says"
block=$(find "$work/www/img/blocks" -type f -print -quit)
block_url=http://127.0.0.1:$origin/img/${block#"$work/www/img/"}
curl -fsS -D - -o /dev/null "$block_url" | grep -qi '^Cache-Control: public, max-age=31536000, immutable' ||
	fail "no immutable Cache-Control on a block file"
curl -fsS -D - -o /dev/null "http://127.0.0.1:$origin/img/manifest" | grep -qi '^Cache-Control: public, max-age=60' ||
	fail "no short Cache-Control on the manifest"

# read_through NAME URL [ENV...]: a client with an empty cache reads the whole image.
read_through() {
	local name=$1 url=$2
	shift 2
	mkdir -p "$work/$name"
	env "$@" "$HTTPCLOOP" mount-fuse "$url" "$work/$name" --cache "$work/cache-$name"
	cleanup umount -q -l "$work/$name"
	cmp "$work/$name/image" "$work/src.img" || fail "$name: the image read through the proxy differs"
	umount "$work/$name"
}
# origin_requests PATTERN: requests the origin has logged for URIs matching PATTERN.
origin_requests() { grep -c -- "$1" "$ngx/origin.log" || true; }

log "block files: the second client's blocks all come from the proxy's cache"
read_through a "http://127.0.0.1:$proxy/img/"
first=$(origin_requests ' /img/blocks/')
[ "$first" -gt 0 ] || fail "the first client's blocks did not come from the origin"
read_through b "http://127.0.0.1:$proxy/img/"
check_eq "$first" "$(origin_requests ' /img/blocks/')" "block requests at the origin after the second client"

log "a pack, through the slice module"
read_through pa "http://127.0.0.1:$proxy/pimg/"
first=$(origin_requests ' /pimg/blocks.pack')
[ "$first" -gt 0 ] || fail "the pack did not come from the origin"
read_through pb "http://127.0.0.1:$proxy/pimg/"
check_eq "$first" "$(origin_requests ' /pimg/blocks.pack')" "pack requests at the origin after the second client"

log "a damaged copy in the proxy's cache: the client asks past it"
# The proxy keeps a damaged copy of one block file: the origin's, for a moment.
damaged=$(find "$work/www/img/blocks" -type f -size +1k | sort | sed -n 3p || true)
path=${damaged#"$work/www/img/"}
cp "$damaged" "$work/good-block"
printf 'x' | dd of="$damaged" bs=1 seek=100 conv=notrunc status=none
rm -rf "${ngx:?}/cache/"*
curl -fsS -o /dev/null "http://127.0.0.1:$proxy/img/$path"
cp "$work/good-block" "$damaged"
curl -fsS -o "$work/from-proxy" "http://127.0.0.1:$proxy/img/$path"
cmp -s "$work/from-proxy" "$damaged" && fail "the proxy did not keep the damaged copy"
read_through c "http://127.0.0.1:$proxy/img/"
grep -q "^200 GET /img/$path range=- pragma=no-cache" "$ngx/proxy.log" ||
	fail "the client did not ask the proxy past its cache for the damaged block: $(grep -F "$path" "$ngx/proxy.log")"

log "a forward proxy from http_proxy"
read_through f "http://127.0.0.1:$origin/img/" "http_proxy=http://127.0.0.1:$forward"
[ "$(grep -c ' /img/blocks/' "$ngx/forward.log" || true)" -gt 0 ] || fail "http_proxy was not used"
log "proxy OK"
