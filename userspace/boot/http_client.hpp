#pragma once
// A small HTTP/1.1 client for the preboot tool.
//
// Why not libcurl, as the rest of httpcloop uses: httpcloop-boot must be one statically
// linked binary that drops into any BusyBox initramfs, and Debian's libcurl cannot be
// linked statically (libcurl.a needs nghttp2, libpsl, libssh2, librtmp, OpenLDAP and
// GSSAPI, which Debian ships as shared libraries only). A one-request-at-a-time GET with
// Content-Length or chunked bodies and redirects is all the preboot needs: plain sockets
// for http://, and OpenSSL (static libssl.a/libcrypto.a) for https://.
//
// Every step is bounded: connect and stall timeouts, a minimum transfer rate, the header
// size, the number of redirects, and the body size (checked as bytes arrive).

#include "util/error.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace httpcloop {

struct ParsedUrl {
	bool https = false;
	std::string host; // without brackets for IPv6
	uint16_t port = 0;
	std::string target; // path and query, starting with '/'

	// Throws Error for anything but http(s)://HOST[:PORT][/PATH] (no user info, no fragment).
	static ParsedUrl parse(std::string_view url);
	std::string host_header() const;
};

// Resolves `relative` (an absolute URL, or a path starting with '/') against `base`, for
// redirects; throws Error for other forms.
std::string resolve_redirect(const ParsedUrl& base, std::string_view location);

// Joins a base URL and a relative path: "http://h/boot" + "kernel" = "http://h/boot/kernel".
std::string join_base_url(std::string_view base, std::string_view relative);

struct HttpOptions {
	unsigned timeout_s = 30;       // connect limit, and: fewer than 1 KiB in this long is a stall
	uint64_t max_bytes = 1 << 20;  // a longer body is an error
	std::string cafile = "/etc/ssl/certs/ca-certificates.crt"; // for https://
	unsigned max_redirects = 3;
};

// Called with each piece of the body, in order. `total` is the Content-Length if known.
using BodySink = std::function<void(std::span<const uint8_t> piece, std::optional<uint64_t> total)>;

// GETs `url` and streams the body into `sink`. Throws HttpError with the URL and the reason
// (DNS, connect, TLS, HTTP status, size, stall, truncated body). Returns the final URL
// (after redirects).
std::string http_fetch(const std::string& url, const HttpOptions& options, const BodySink& sink);

// The whole body, at most options.max_bytes.
std::string http_fetch_text(const std::string& url, const HttpOptions& options);

} // namespace httpcloop
