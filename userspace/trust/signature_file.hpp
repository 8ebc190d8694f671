#pragma once
// Detached signature files (BASE/manifest.sig, BASE/boot.manifest.sig, SCRIPT.sig):
// docs/format.md, "Signature file". 112 bytes: magic, version, algorithm, the signer's
// key id and an Ed25519 signature over a message that names what was signed (so a
// signature of a boot manifest can never pass as one of an image manifest) and the
// SHA-256 of the signed file.

#include "crypto/ed25519.hpp"
#include "crypto/sha256.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace httpcloop {

// What a signature is for; part of the signed message.
enum class SignedKind { image_manifest, boot_manifest, boot_script };
std::string_view signed_kind_name(SignedKind kind);

struct SignatureFile {
	static constexpr char kMagic[8] = {'H', 'C', 'L', 'O', 'O', 'P', 'S', 'G'};
	static constexpr uint32_t kVersion = 1;
	static constexpr uint32_t kAlgorithmEd25519 = 1;
	static constexpr size_t kSize = 112;

	Sha256 key_id{}; // SHA-256 of the signer's raw 32-byte public key
	Ed25519Signature signature{};

	// Throws FormatError naming the first problem (length, magic, version, algorithm).
	static SignatureFile parse(std::span<const uint8_t> bytes);
	std::vector<uint8_t> serialize() const;
};

Sha256 key_id(const Ed25519PublicKey& key);

// The bytes that are signed: "httpcloop signature v1\n" KIND "\n" then the 32-byte
// SHA-256 of the file.
std::vector<uint8_t> signed_message(SignedKind kind, const Sha256& file_digest);

// A complete signature file for `file` (the bytes of the manifest or script).
std::vector<uint8_t> sign_file(const Ed25519PrivateKey& key, SignedKind kind, std::span<const uint8_t> file);

} // namespace httpcloop
