// Signature files and verification: the first bytes are a signature file, the rest the
// signed file. Verification against a fixed key must reject (TrustError) and never crash;
// nothing random may ever verify.
#include "trust/trust.hpp"

#include <cstdlib>

namespace {

const httpcloop::TrustOptions& trust()
{
	static const httpcloop::TrustOptions options = [] {
		httpcloop::TrustOptions made;
		httpcloop::Ed25519PublicKeyBytes raw{};
		for (size_t i = 0; i < raw.size(); ++i)
			raw[i] = static_cast<uint8_t>(i * 7 + 1);
		made.pubkey = std::make_shared<const httpcloop::Ed25519PublicKey>(httpcloop::Ed25519PublicKey::from_raw(raw));
		return made;
	}();
	return options;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	const size_t split = size < httpcloop::SignatureFile::kSize ? size : httpcloop::SignatureFile::kSize;
	const std::span<const uint8_t> signature(data, split), file(data + split, size - split);
	try {
		httpcloop::SignatureFile parsed = httpcloop::SignatureFile::parse(signature);
		if (parsed.serialize() != std::vector<uint8_t>(signature.begin(), signature.end()))
			std::abort();
	} catch (const httpcloop::FormatError&) {
	}
	try {
		httpcloop::verify_manifest_bytes(file, signature, trust());
		std::abort(); // forged an Ed25519 signature: impossible, so a bug
	} catch (const httpcloop::TrustError&) {
	}
	return 0;
}
