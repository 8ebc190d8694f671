#include "crypto/ed25519.hpp"

#include "test_support.hpp"
#include "util/error.hpp"

#include <fstream>

namespace httpcloop {
namespace {

std::vector<uint8_t> bytes_of(std::string_view text)
{
	return {text.begin(), text.end()};
}

TEST(Ed25519, SignVerifyRoundTripThroughPem)
{
	Ed25519PrivateKey key = Ed25519PrivateKey::generate();
	Ed25519PrivateKey reloaded = Ed25519PrivateKey::from_pem(key.to_pem(), "test key");
	Ed25519PublicKey public_key = Ed25519PublicKey::from_pem(reloaded.public_key().to_pem(), "test pub");
	const std::vector<uint8_t> message = bytes_of("boot me");
	Ed25519Signature signature = key.sign(message);
	EXPECT_TRUE(public_key.verify(message, signature));
	EXPECT_FALSE(public_key.verify(bytes_of("boot me!"), signature));
	signature[10] ^= 1;
	EXPECT_FALSE(public_key.verify(message, signature));
	EXPECT_EQ(key.public_key().raw(), public_key.raw());
}

TEST(Ed25519, PemFormatsAreTheStandardOnes)
{
	Ed25519PrivateKey key = Ed25519PrivateKey::generate();
	EXPECT_TRUE(key.to_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
	EXPECT_TRUE(key.public_key().to_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
}

TEST(Ed25519, RejectsGarbageAndOtherKeyTypes)
{
	EXPECT_THROW_MESSAGE(Ed25519PublicKey::from_pem("hello", "k.pub"), FormatError, "k.pub is not a PEM public key");
	EXPECT_THROW_MESSAGE(Ed25519PrivateKey::from_pem("", "k"), FormatError, "k is not an unencrypted PEM private key");
	// A private key where a public one is expected, and the other way round.
	Ed25519PrivateKey key = Ed25519PrivateKey::generate();
	EXPECT_THROW(Ed25519PublicKey::from_pem(key.to_pem(), "x"), FormatError);
	EXPECT_THROW(Ed25519PrivateKey::from_pem(key.public_key().to_pem(), "x"), FormatError);
	// An EC (P-256) public key is a valid PEM key but not Ed25519.
	const char* ec_public =
		"-----BEGIN PUBLIC KEY-----\n"
		"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
		"q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
		"-----END PUBLIC KEY-----\n";
	EXPECT_THROW_MESSAGE(Ed25519PublicKey::from_pem(ec_public, "ec.pub"), FormatError, "not an Ed25519 key");
}

TEST(Ed25519, KeyFilesAreBounded)
{
	test::TempDir dir;
	std::string big(70 * 1024, 'A');
	test::write_file(dir.path() / "big", std::vector<uint8_t>(big.begin(), big.end()));
	EXPECT_THROW_MESSAGE(Ed25519PublicKey::load((dir.path() / "big").string()), FormatError, "not a key file");
	EXPECT_THROW(Ed25519PublicKey::load((dir.path() / "missing").string()), IoError);
}

} // namespace
} // namespace httpcloop
