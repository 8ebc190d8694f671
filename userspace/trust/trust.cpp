#include "trust/trust.hpp"

#include "util/hex.hpp"

#include <cstring>

namespace httpcloop {

void TrustOptions::load_pubkey(const std::string& path)
{
	pubkey = std::make_shared<const Ed25519PublicKey>(Ed25519PublicKey::load(path));
	pubkey_name = path;
}

void verify_signed_bytes(SignedKind kind, std::span<const uint8_t> bytes, std::span<const uint8_t> signature,
			 const TrustOptions& options, const std::string& what)
{
	if (!options.any())
		return;
	const Sha256 digest = sha256(bytes);
	if (options.pinned_sha256 && digest != *options.pinned_sha256)
		throw TrustError(what + ": SHA-256 mismatch: got " + to_hex(digest) + ", pinned " +
				 to_hex(*options.pinned_sha256) +
				 " (the file changed on the server, or a mirror or proxy altered it; check the pin)");
	if (!options.pubkey)
		return;

	const std::string key_name = options.pubkey_name.empty() ? std::string("the configured key") : options.pubkey_name;
	if (signature.empty())
		throw TrustError(what + " is not signed (no signature file) but a public key (" + key_name +
				 ") is configured; sign it (mkimage --sign, mkboot --sign or httpcloop sign) or check the URL");
	SignatureFile parsed;
	try {
		parsed = SignatureFile::parse(signature);
	} catch (const FormatError& error) {
		throw TrustError(what + ": " + error.what());
	}
	const Sha256 expected_key = key_id(*options.pubkey);
	if (parsed.key_id != expected_key)
		throw TrustError(what + " is signed by another key (key id " + to_hex(parsed.key_id).substr(0, 16) +
				 "…, " + key_name + " has " + to_hex(expected_key).substr(0, 16) +
				 "…); check that --pubkey is the signer's key");
	if (!options.pubkey->verify(signed_message(kind, digest), parsed.signature))
		throw TrustError(what + ": BAD SIGNATURE: the signature does not match the " +
				 std::string(signed_kind_name(kind)) + " (modified or corrupted in transit)");
}

Sha256 parse_sha256_hex(std::string_view text, std::string_view what)
{
	std::optional<std::vector<uint8_t>> bytes = text.size() == 64 ? from_hex(text) : std::nullopt;
	if (!bytes)
		throw Error("invalid " + std::string(what) + " '" + std::string(text.substr(0, 80)) +
			    "': expected 64 hex digits (a SHA-256)");
	Sha256 digest{};
	std::memcpy(digest.data(), bytes->data(), digest.size());
	return digest;
}

PinnedLocation parse_pinned_location(std::string_view location)
{
	size_t hash = location.find('#');
	if (hash == std::string_view::npos)
		return {std::string(location), std::nullopt};
	std::string_view fragment = location.substr(hash + 1);
	constexpr std::string_view kPrefix = "sha256=";
	if (!fragment.starts_with(kPrefix))
		throw Error("unsupported URL fragment '#" + std::string(fragment.substr(0, 80)) +
			    "' (only #sha256=HEX is understood)");
	return {std::string(location.substr(0, hash)), parse_sha256_hex(fragment.substr(kPrefix.size()), "#sha256= pin")};
}

std::optional<Sha256> merge_pins(const std::optional<Sha256>& from_location, const std::optional<Sha256>& from_option)
{
	if (from_location && from_option && *from_location != *from_option)
		throw Error("the URL's #sha256= pin and --sha256 differ: " + to_hex(*from_location) + " vs " +
			    to_hex(*from_option));
	return from_location ? from_location : from_option;
}

} // namespace httpcloop
