#pragma once
// Deciding whether downloaded bytes may be used: a pinned SHA-256 and/or an Ed25519
// signature (docs/format.md, "Signature file" and "Trust"). Pure functions over bytes, so
// the preboot tool (no libcurl) and the CLI (libcurl) share them.
//
// The rule: with a key or a pin configured, bytes are used only if every configured check
// passes; an absent, truncated or foreign signature is a failure, never a warning.

#include "crypto/ed25519.hpp"
#include "crypto/sha256.hpp"
#include "trust/signature_file.hpp"
#include "util/error.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace httpcloop {

// Bytes that failed a configured trust check. The message says which check and what to do.
struct TrustError : Error {
	using Error::Error;
};

struct TrustOptions {
	// Shared so that options stay copyable (EVP keys are not).
	std::shared_ptr<const Ed25519PublicKey> pubkey;
	std::string pubkey_name; // for messages: the key file's path
	std::optional<Sha256> pinned_sha256;
	// --cacert: the CAs trusted for https:// downloads of the manifest and its signature
	// (a transport setting, not a check on the bytes: any() ignores it). For attach,
	// mount-fuse and prefetch, ServeOptions::service_options passes it on to the fetcher.
	std::string ca_file;

	bool any() const { return pubkey || pinned_sha256; }
	// Loads `path` as the key (throws Error naming the file if it is not an Ed25519 PEM key).
	void load_pubkey(const std::string& path);
};

// Checks `bytes` against `options`. `signature` is the content of the signature file, or
// empty when there was none (not published). Throws TrustError on any failed check; does
// nothing when no check is configured. `what` names the bytes in messages ("manifest
// http://host/img/manifest").
void verify_signed_bytes(SignedKind kind, std::span<const uint8_t> bytes, std::span<const uint8_t> signature,
			 const TrustOptions& options, const std::string& what);

// verify_signed_bytes for an image manifest.
inline void verify_manifest_bytes(std::span<const uint8_t> bytes, std::span<const uint8_t> signature,
				  const TrustOptions& options, const std::string& what = "manifest")
{
	verify_signed_bytes(SignedKind::image_manifest, bytes, signature, options, what);
}

// 64 hex digits (either case) -> digest; throws Error naming `what` otherwise.
Sha256 parse_sha256_hex(std::string_view text, std::string_view what);

// "URL#sha256=HEX" -> URL without the fragment, and the pin. A URL with no fragment comes
// back unchanged with no pin; any other fragment is an error (it would be silently
// ignored otherwise, and a typo in a pin must not turn verification off).
struct PinnedLocation {
	std::string location;
	std::optional<Sha256> pinned_sha256;
};
PinnedLocation parse_pinned_location(std::string_view location);

// Merges a pin from the location with one from an option: both present must agree.
std::optional<Sha256> merge_pins(const std::optional<Sha256>& from_location, const std::optional<Sha256>& from_option);

} // namespace httpcloop
