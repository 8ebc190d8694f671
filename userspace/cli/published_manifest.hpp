#pragma once
// What mkimage and import-cloop do to a manifest they have just published.

#include "crypto/ed25519.hpp"

#include <filesystem>

namespace httpcloop::cli {

// Signs OUTDIR/manifest as written (read back, so the signature covers exactly the
// published bytes) into OUTDIR/manifest.sig, or, without a key, removes a signature left
// by an earlier build: a stale one would fail every client with "bad signature" rather
// than the clearer "not signed".
void sign_published_manifest(const std::filesystem::path& output_dir, const Ed25519PrivateKey* key);

} // namespace httpcloop::cli
