#include "codec/codec.hpp"

#include "test_support.hpp"
#include "util/error.hpp"

namespace httpcloop {
namespace {

class CodecTest : public ::testing::TestWithParam<Codec> {
protected:
	Codec codec() const { return GetParam(); }
	std::vector<uint8_t> compress_default(std::span<const uint8_t> plain) const
	{
		return compress(codec(), default_level(codec()), plain);
	}
};

TEST_P(CodecTest, RoundTripsTextRandomAndZeros)
{
	for (const std::vector<uint8_t>& plain :
	     {test::text_bytes(256 * 1024, 1), test::random_bytes(65536, 2), std::vector<uint8_t>(4 << 20, 0),
	      test::text_bytes(1, 3)}) {
		const std::vector<uint8_t> stored = compress_default(plain);
		EXPECT_LE(stored.size(), compress_bound(codec(), plain.size()));
		std::vector<uint8_t> decoded(plain.size());
		decompress(codec(), stored, decoded);
		EXPECT_EQ(decoded, plain);
	}
}

TEST_P(CodecTest, EveryLevelRoundTrips)
{
	const std::vector<uint8_t> plain = test::text_bytes(65536, 4);
	for (int level = min_level(codec()); level <= max_level(codec()); ++level) {
		std::vector<uint8_t> decoded(plain.size());
		decompress(codec(), compress(codec(), level, plain), decoded);
		EXPECT_EQ(decoded, plain) << "level " << level;
	}
	EXPECT_THROW(compress(codec(), max_level(codec()) + 1, plain), CodecError);
	EXPECT_THROW(compress(codec(), 0, plain), CodecError);
}

TEST_P(CodecTest, RejectsTruncatedStreams)
{
	const std::vector<uint8_t> plain = test::text_bytes(65536, 5);
	const std::vector<uint8_t> stored = compress_default(plain);
	std::vector<uint8_t> out(plain.size());
	for (size_t length : {size_t{0}, size_t{1}, size_t{4}, stored.size() / 2, stored.size() - 1}) {
		std::span<const uint8_t> truncated = std::span(stored).first(length);
		EXPECT_THROW(decompress(codec(), truncated, out), CodecError) << "length " << length;
	}
}

TEST_P(CodecTest, RejectsCorruptStreams)
{
	const std::vector<uint8_t> plain = test::text_bytes(65536, 6);
	const std::vector<uint8_t> stored = compress_default(plain);
	std::vector<uint8_t> out(plain.size());
	// Flip one byte at a time across the stream: every flip must be detected or yield the
	// exact size (a flip inside a literal can decode "successfully" to other bytes; the
	// SHA-256 checks above the codec catch those), and nothing may crash.
	size_t rejected = 0;
	for (size_t position = 0; position < stored.size(); position += 7) {
		std::vector<uint8_t> corrupt = stored;
		corrupt[position] ^= 0x5a;
		try {
			decompress(codec(), corrupt, out);
		} catch (const CodecError&) {
			++rejected;
		}
	}
	EXPECT_GT(rejected, 0u);
	std::vector<uint8_t> garbage = test::random_bytes(1000, 7);
	EXPECT_THROW(decompress(codec(), garbage, out), CodecError);
}

TEST_P(CodecTest, RejectsOversizedOutput)
{
	const std::vector<uint8_t> plain = test::text_bytes(65537, 8);
	const std::vector<uint8_t> stored = compress_default(plain);
	std::vector<uint8_t> too_small(65536);
	EXPECT_THROW_MESSAGE(decompress(codec(), stored, too_small), CodecError, "65536");
	std::vector<uint8_t> too_large(65538);
	EXPECT_THROW_MESSAGE(decompress(codec(), stored, too_large), CodecError, "65538");
}

TEST_P(CodecTest, RejectsTrailingGarbage)
{
	const std::vector<uint8_t> plain = test::text_bytes(65536, 9);
	std::vector<uint8_t> stored = compress_default(plain);
	stored.push_back(0);
	std::vector<uint8_t> out(plain.size());
	EXPECT_THROW_MESSAGE(decompress(codec(), stored, out), CodecError, "trailing");
}

TEST_P(CodecTest, RejectsTwoConcatenatedStreams)
{
	const std::vector<uint8_t> half = test::text_bytes(32768, 10);
	std::vector<uint8_t> stored = compress_default(half);
	const std::vector<uint8_t> second = compress_default(half);
	stored.insert(stored.end(), second.begin(), second.end());
	std::vector<uint8_t> out(2 * half.size());
	EXPECT_THROW_MESSAGE(decompress(codec(), stored, out), CodecError, "trailing");
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::Values(Codec::zlib, Codec::zstd),
			 [](const ::testing::TestParamInfo<Codec>& info) { return std::string(codec_name(info.param)); });

TEST(Codec, Names)
{
	EXPECT_EQ(codec_from_name("zlib"), Codec::zlib);
	EXPECT_EQ(codec_from_name("zstd"), Codec::zstd);
	EXPECT_EQ(codec_from_name("lz4"), std::nullopt);
	EXPECT_EQ(codec_name(Codec::zstd), "zstd");
	EXPECT_EQ(codec_from_id(1), Codec::zlib);
	EXPECT_EQ(codec_from_id(0), std::nullopt);
	EXPECT_EQ(default_level(Codec::zlib), 6);
	EXPECT_EQ(default_level(Codec::zstd), 3);
}

TEST(Codec, ZstdFrameDeclaringAnotherSizeIsRejectedUpFront)
{
	const std::vector<uint8_t> stored = compress(Codec::zstd, 3, test::text_bytes(1000, 11));
	std::vector<uint8_t> out(2000);
	EXPECT_THROW_MESSAGE(decompress(Codec::zstd, stored, out), CodecError, "declares 1000 bytes, expected 2000");
}

} // namespace
} // namespace httpcloop
