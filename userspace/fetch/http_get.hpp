#pragma once
// Small blocking HTTP helpers for one-off downloads (the manifest, `info URL`). Block
// fetching goes through the parallel engine, not through this.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop {

// GETs `url` and returns the body. Follows up to 3 redirects (http and https only).
// Throws HttpError naming the URL on a transport error, an HTTP status >= 400, or a body
// larger than `max_bytes` (checked while receiving, so a hostile server cannot make us
// buffer more than that). `ca_file` (--cacert), if not empty, holds the CAs trusted for
// https:// instead of the system's.
std::vector<uint8_t> http_get(const std::string& url, size_t max_bytes, const std::string& ca_file = {});

// `base` + "/" + `relative`, without doubling a trailing slash. A "#fragment" on `base`
// (such as "#sha256=…") is dropped: fragments name nothing on the server.
std::string join_url(std::string_view base, std::string_view relative);

// True for http:// and https:// URLs (case-insensitive scheme).
bool is_http_url(std::string_view location);

// The manifest bytes of an image at `location`: an http(s) base URL (fetches
// BASE/manifest), a local image directory (reads DIR/manifest), a file:// URL of either,
// or the path of a manifest file itself. At most Manifest::kMaxManifestBytes. `ca_file` as
// for http_get.
std::vector<uint8_t> load_manifest_bytes(const std::string& location, const std::string& ca_file = {});

} // namespace httpcloop
