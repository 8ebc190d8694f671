#pragma once
// An image ready to serve: its verified, parsed manifest and its id.

#include "crypto/sha256.hpp"
#include "format/manifest.hpp"
#include "trust/trust.hpp"

#include <string>

namespace httpcloop {

struct LoadedImage {
	Manifest manifest;
	Sha256 id{}; // SHA-256 of the manifest file: names the image's cache
};

// Fetches the manifest at `location` (an http(s) base URL or a local directory), checks it
// against `trust` (pin, signature), parses it and refuses what this version cannot serve.
LoadedImage load_image(const std::string& location, const TrustOptions& trust);

} // namespace httpcloop
