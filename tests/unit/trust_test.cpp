#include "trust/trust.hpp"

#include "test_support.hpp"
#include "fetch/load_verified.hpp"
#include "trust/signature_file.hpp"
#include "util/hex.hpp"

namespace httpcloop {
namespace {

std::vector<uint8_t> bytes_of(std::string_view text)
{
	return {text.begin(), text.end()};
}

struct Signed {
	Ed25519PrivateKey key = Ed25519PrivateKey::generate();
	std::vector<uint8_t> file = bytes_of("a manifest");
	std::vector<uint8_t> signature = sign_file(key, SignedKind::image_manifest, file);
	TrustOptions trust;
	Signed()
	{
		trust.pubkey = std::make_shared<const Ed25519PublicKey>(key.public_key());
		trust.pubkey_name = "test.pub";
	}
};

TEST(Trust, NoChecksConfiguredAcceptsAnything)
{
	EXPECT_NO_THROW(verify_manifest_bytes(bytes_of("x"), {}, TrustOptions{}));
}

TEST(Trust, GoodSignatureVerifies)
{
	Signed s;
	EXPECT_NO_THROW(verify_manifest_bytes(s.file, s.signature, s.trust));
}

TEST(Trust, EveryFailureIsAClearError)
{
	Signed s;
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, {}, s.trust), TrustError, "is not signed");
	std::vector<uint8_t> truncated(s.signature.begin(), s.signature.end() - 1);
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, truncated, s.trust), TrustError, "truncated");
	std::vector<uint8_t> bad = s.signature;
	bad.back() ^= 0x40;
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, bad, s.trust), TrustError, "BAD SIGNATURE");
	std::vector<uint8_t> other_file = s.file;
	other_file[0] ^= 1;
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(other_file, s.signature, s.trust), TrustError, "BAD SIGNATURE");
	Signed other;
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, other.signature, s.trust), TrustError, "signed by another key");
	std::vector<uint8_t> magic = s.signature;
	magic[0] = 'X';
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, magic, s.trust), TrustError, "bad magic");
}

TEST(Trust, SignatureIsBoundToItsKind)
{
	Signed s;
	std::vector<uint8_t> boot_signature = sign_file(s.key, SignedKind::boot_manifest, s.file);
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, boot_signature, s.trust), TrustError, "BAD SIGNATURE");
	EXPECT_NO_THROW(verify_signed_bytes(SignedKind::boot_manifest, s.file, boot_signature, s.trust, "boot"));
}

TEST(Trust, PinnedHash)
{
	TrustOptions trust;
	trust.pinned_sha256 = sha256(bytes_of("a manifest"));
	EXPECT_NO_THROW(verify_manifest_bytes(bytes_of("a manifest"), {}, trust));
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(bytes_of("another"), {}, trust), TrustError, "SHA-256 mismatch");
	// Key and pin: both must pass.
	Signed s;
	s.trust.pinned_sha256 = sha256(bytes_of("something else"));
	EXPECT_THROW_MESSAGE(verify_manifest_bytes(s.file, s.signature, s.trust), TrustError, "SHA-256 mismatch");
}

TEST(Trust, SignatureFileLayout)
{
	Signed s;
	ASSERT_EQ(s.signature.size(), 112u);
	EXPECT_EQ(std::string(s.signature.begin(), s.signature.begin() + 8), "HCLOOPSG");
	SignatureFile parsed = SignatureFile::parse(s.signature);
	EXPECT_EQ(parsed.key_id, key_id(s.key.public_key()));
	EXPECT_EQ(parsed.serialize(), s.signature);
	// The signed message is documented in docs/format.md: check it against the key directly.
	std::string prefix = "httpcloop signature v1\nimage-manifest\n";
	std::vector<uint8_t> message(prefix.begin(), prefix.end());
	Sha256 digest = sha256(s.file);
	message.insert(message.end(), digest.begin(), digest.end());
	EXPECT_TRUE(s.key.public_key().verify(message, parsed.signature));
}

TEST(Trust, PinnedLocations)
{
	const std::string hex(64, 'a');
	PinnedLocation plain = parse_pinned_location("http://h/img/");
	EXPECT_EQ(plain.location, "http://h/img/");
	EXPECT_FALSE(plain.pinned_sha256);
	PinnedLocation pinned = parse_pinned_location("http://h/img/#sha256=" + hex);
	EXPECT_EQ(pinned.location, "http://h/img/");
	ASSERT_TRUE(pinned.pinned_sha256);
	EXPECT_EQ(to_hex(*pinned.pinned_sha256), hex);
	EXPECT_THROW_MESSAGE(parse_pinned_location("http://h/#sha256=abc"), Error, "expected 64 hex digits");
	EXPECT_THROW_MESSAGE(parse_pinned_location("http://h/#sha1=abc"), Error, "unsupported URL fragment");
	EXPECT_THROW_MESSAGE(merge_pins(pinned.pinned_sha256, Sha256{}), Error, "differ");
	EXPECT_EQ(merge_pins(std::nullopt, pinned.pinned_sha256), pinned.pinned_sha256);
}

TEST(Trust, LoadVerifiedManifestFromADirectory)
{
	test::TempDir dir;
	Signed s;
	std::vector<uint8_t> manifest = test::manifest_for(test::random_bytes(100000, 1), 64 * 1024).serialize();
	test::write_file(dir.path() / "manifest", manifest);
	// Unsigned, with a key: refused.
	EXPECT_THROW_MESSAGE(load_verified_manifest(dir.path().string(), s.trust), TrustError, "is not signed");
	test::write_file(dir.path() / "manifest.sig", sign_file(s.key, SignedKind::image_manifest, manifest));
	VerifiedManifest verified = load_verified_manifest(dir.path().string(), s.trust);
	EXPECT_EQ(verified.bytes, manifest);
	EXPECT_EQ(verified.id, sha256(manifest));
	// A pin in the location is honoured, and the fragment does not reach the file system.
	EXPECT_NO_THROW(load_verified_manifest(dir.path().string() + "#sha256=" + to_hex(sha256(manifest)), TrustOptions{}));
	EXPECT_THROW_MESSAGE(load_verified_manifest(dir.path().string() + "#sha256=" + std::string(64, '0'), TrustOptions{}),
			     TrustError, "SHA-256 mismatch");
	// A modified manifest fails the signature.
	manifest[100] ^= 1;
	test::write_file(dir.path() / "manifest", manifest);
	EXPECT_THROW_MESSAGE(load_verified_manifest(dir.path().string(), s.trust), TrustError, "BAD SIGNATURE");
}

} // namespace
} // namespace httpcloop
