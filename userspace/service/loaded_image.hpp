#pragma once
// An image ready to serve: its verified, parsed manifest and its id.

#include "crypto/sha256.hpp"
#include "format/manifest.hpp"
#include "trust/trust.hpp"

#include <string>
#include <vector>

namespace httpcloop {

struct LoadedImage {
	Manifest manifest;
	Sha256 id{}; // SHA-256 of the manifest file: names the image's cache
};

// Fetches the manifest from the first of `locations` (http(s) base URLs or local
// directories: the image's URL, then its mirrors) that answers, checks it against `trust`
// (pin, signature) and parses it.
LoadedImage load_image(const std::vector<std::string>& locations, const TrustOptions& trust);

} // namespace httpcloop
