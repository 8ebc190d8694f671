#include "trust/signature_file.hpp"

#include "util/error.hpp"
#include "util/little_endian.hpp"

#include <cstring>
#include <string>

namespace httpcloop {

namespace {
namespace field {
constexpr size_t magic = 0;
constexpr size_t version = 8;
constexpr size_t algorithm = 12;
constexpr size_t key_id = 16;
constexpr size_t signature = 48;
} // namespace field
} // namespace

std::string_view signed_kind_name(SignedKind kind)
{
	switch (kind) {
	case SignedKind::image_manifest: return "image-manifest";
	case SignedKind::boot_manifest: return "boot-manifest";
	case SignedKind::boot_script: return "boot-script";
	}
	return "unknown";
}

SignatureFile SignatureFile::parse(std::span<const uint8_t> bytes)
{
	if (bytes.size() != kSize)
		throw FormatError("invalid signature file: " + std::to_string(bytes.size()) + " bytes, expected " +
				  std::to_string(kSize) + (bytes.size() < kSize ? " (truncated?)" : ""));
	if (std::memcmp(bytes.data() + field::magic, kMagic, sizeof kMagic) != 0)
		throw FormatError("invalid signature file: bad magic (not an httpcloop signature)");
	uint32_t version = load_le<uint32_t>(bytes.data() + field::version);
	if (version != kVersion)
		throw FormatError("invalid signature file: unsupported version " + std::to_string(version));
	uint32_t algorithm = load_le<uint32_t>(bytes.data() + field::algorithm);
	if (algorithm != kAlgorithmEd25519)
		throw FormatError("invalid signature file: unknown algorithm " + std::to_string(algorithm));
	SignatureFile file;
	std::memcpy(file.key_id.data(), bytes.data() + field::key_id, file.key_id.size());
	std::memcpy(file.signature.data(), bytes.data() + field::signature, file.signature.size());
	return file;
}

std::vector<uint8_t> SignatureFile::serialize() const
{
	std::vector<uint8_t> bytes(kSize);
	std::memcpy(bytes.data() + field::magic, kMagic, sizeof kMagic);
	store_le<uint32_t>(bytes.data() + field::version, kVersion);
	store_le<uint32_t>(bytes.data() + field::algorithm, kAlgorithmEd25519);
	std::memcpy(bytes.data() + field::key_id, key_id.data(), key_id.size());
	std::memcpy(bytes.data() + field::signature, signature.data(), signature.size());
	return bytes;
}

Sha256 key_id(const Ed25519PublicKey& key)
{
	Ed25519PublicKeyBytes raw = key.raw();
	return sha256(raw);
}

std::vector<uint8_t> signed_message(SignedKind kind, const Sha256& file_digest)
{
	std::string prefix = "httpcloop signature v1\n" + std::string(signed_kind_name(kind)) + "\n";
	std::vector<uint8_t> message(prefix.begin(), prefix.end());
	message.insert(message.end(), file_digest.begin(), file_digest.end());
	return message;
}

std::vector<uint8_t> sign_file(const Ed25519PrivateKey& key, SignedKind kind, std::span<const uint8_t> file)
{
	SignatureFile signature;
	signature.key_id = key_id(key.public_key());
	signature.signature = key.sign(signed_message(kind, sha256(file)));
	return signature.serialize();
}

} // namespace httpcloop
