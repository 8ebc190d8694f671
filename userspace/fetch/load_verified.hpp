#pragma once
// The one call that `info`, `attach`, `verify` and `mount-fuse` make to get a manifest
// they may use: fetch it (and its signature when a key is configured) from an http(s)
// URL or a local image directory, check it, and return the verified bytes.

#include "trust/trust.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace httpcloop {

struct VerifiedManifest {
	std::string location;       // the image location without any #sha256= fragment
	std::vector<uint8_t> bytes; // the manifest file, checked against `trust`
	Sha256 id{};                // its SHA-256 (the image id)
};

// `location`: an http(s) base URL, a local image directory or manifest file, optionally
// with "#sha256=HEX" (merged with trust.pinned_sha256; both must agree). With a public key,
// BASE/manifest.sig (or MANIFEST.sig beside a manifest file) is fetched and must verify.
// Throws TrustError for a failed check, Error/HttpError/IoError when something cannot be
// read. The bytes are only verified, not parsed: Manifest::parse is the caller's.
VerifiedManifest load_verified_manifest(const std::string& location, const TrustOptions& trust);

} // namespace httpcloop
