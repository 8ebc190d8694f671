#include "crypto/sha256.hpp"

#include "test_support.hpp"

namespace httpcloop {
namespace {

std::span<const uint8_t> as_bytes(std::string_view text)
{
	return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(Sha256, KnownVectors)
{
	EXPECT_EQ(to_hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_EQ(to_hex(sha256(as_bytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalMatchesOneShotAndResets)
{
	const std::vector<uint8_t> data = test::random_bytes(100000, 7);
	Sha256Hasher hasher;
	hasher.update(std::span(data).first(1));
	hasher.update(std::span(data).subspan(1, 50000));
	hasher.update(std::span(data).subspan(50001));
	EXPECT_EQ(hasher.final(), sha256(data));
	hasher.update(as_bytes("abc"));
	EXPECT_EQ(hasher.final(), sha256(as_bytes("abc")));
}

} // namespace
} // namespace httpcloop
