#include "format/block_codec.hpp"

#include "format/zero_block.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace httpcloop {
namespace {

constexpr uint32_t kBlock = 64 * 1024;

struct EncodedImage {
	std::vector<uint8_t> image;
	Manifest manifest;
	std::vector<std::vector<uint8_t>> stored; // per block
};

// Blocks: compressible text, random (raw), zeros (hole), short text tail.
EncodedImage encoded_image(Codec codec)
{
	EncodedImage result;
	result.image = test::text_bytes(kBlock, 1);
	std::vector<uint8_t> noise = test::random_bytes(kBlock, 2);
	result.image.insert(result.image.end(), noise.begin(), noise.end());
	result.image.resize(3 * kBlock, 0);
	std::vector<uint8_t> tail = test::text_bytes(5000, 3);
	result.image.insert(result.image.end(), tail.begin(), tail.end());

	result.manifest.image_size = result.image.size();
	result.manifest.block_size = kBlock;
	result.manifest.codec = codec;
	for (uint64_t index = 0; index < 4; ++index) {
		EncodedBlock block = encode_block(
			codec, default_level(codec),
			std::span(result.image).subspan(index * kBlock, std::min<size_t>(kBlock, result.image.size() - index * kBlock)));
		result.manifest.blocks.push_back(block.entry);
		result.stored.push_back(std::move(block.stored));
	}
	return result;
}

TEST(EncodeBlock, ClassifiesHoleRawAndCompressed)
{
	const EncodedImage encoded = encoded_image(Codec::zstd);
	const auto& blocks = encoded.manifest.blocks;

	EXPECT_FALSE(blocks[0].is_hole());
	EXPECT_FALSE(blocks[0].is_raw());
	EXPECT_LT(blocks[0].stored_size, kBlock);
	EXPECT_EQ(blocks[0].stored_hash, sha256(encoded.stored[0]));

	EXPECT_TRUE(blocks[1].is_raw());
	EXPECT_EQ(blocks[1].stored_size, kBlock);
	EXPECT_EQ(encoded.stored[1], std::vector<uint8_t>(encoded.image.begin() + kBlock, encoded.image.begin() + 2 * kBlock));

	EXPECT_TRUE(blocks[2].is_hole());
	EXPECT_EQ(blocks[2].stored_size, 0u);
	EXPECT_TRUE(encoded.stored[2].empty());
	EXPECT_EQ(blocks[2].stored_hash, Sha256{});
	EXPECT_EQ(blocks[2].plain_hash, zero_block_hash(kBlock));

	EXPECT_FALSE(blocks[3].is_raw());
	EXPECT_EQ(blocks[3].plain_hash, sha256(std::span(encoded.image).subspan(3 * kBlock)));
	EXPECT_EQ(encoded.manifest.plain_size(3), 5000u);

	// The result is a valid manifest.
	EXPECT_NO_THROW(Manifest::parse(encoded.manifest.serialize()));
}

TEST(DecodeBlock, RoundTripsEveryKindOfBlock)
{
	for (Codec codec : {Codec::zlib, Codec::zstd}) {
		const EncodedImage encoded = encoded_image(codec);
		for (uint64_t index = 0; index < 4; ++index) {
			std::vector<uint8_t> plain(encoded.manifest.plain_size(index), 0xee);
			decode_block(encoded.manifest, index, encoded.stored[index], plain);
			EXPECT_TRUE(std::equal(plain.begin(), plain.end(), encoded.image.begin() + static_cast<std::ptrdiff_t>(index * kBlock)))
				<< codec_name(codec) << " block " << index;
		}
	}
}

TEST(DecodeBlock, ChecksStoredHashBeforeDecompressing)
{
	const EncodedImage encoded = encoded_image(Codec::zlib);
	std::vector<uint8_t> corrupt = encoded.stored[0];
	corrupt[corrupt.size() / 2] ^= 0xff; // would be a zlib data error if it got that far
	std::vector<uint8_t> plain(kBlock);
	// IntegrityError (not CodecError) proves the decompressor never saw the bytes.
	EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, 0, corrupt, plain), IntegrityError, "block 0: hash mismatch");
}

TEST(DecodeBlock, ChecksPlaintextHash)
{
	EncodedImage encoded = encoded_image(Codec::zstd);
	encoded.manifest.blocks[0].plain_hash[0] ^= 1;
	encoded.manifest.blocks[1].plain_hash[0] ^= 1;
	std::vector<uint8_t> plain(kBlock);
	for (uint64_t index : {0, 1}) {
		// A raw block's two hashes name the same bytes, so they must be equal.
		const char* message = encoded.manifest.blocks[index].is_raw() ? "raw block whose two hashes differ"
									    : "plaintext hash mismatch";
		EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, index, encoded.stored[index], plain), IntegrityError,
				     message);
	}
}

TEST(DecodeBlock, ByStoredHashSkipsOnlyTheSecondHashOfCompressedBlocks)
{
	EncodedImage encoded = encoded_image(Codec::zstd);
	std::vector<uint8_t> plain(kBlock);
	for (uint64_t index : {0, 1}) {
		encoded.manifest.blocks[index].plain_hash[0] ^= 1;
		if (encoded.manifest.blocks[index].is_raw()) {
			EXPECT_THROW(decode_block(encoded.manifest, index, encoded.stored[index], plain,
						  PlaintextCheck::by_stored_hash),
				     IntegrityError);
		} else {
			decode_block(encoded.manifest, index, encoded.stored[index], plain, PlaintextCheck::by_stored_hash);
			EXPECT_EQ(sha256(plain), sha256(std::span(encoded.image).subspan(index * kBlock, kBlock)));
		}
	}
	// The stored hash is still checked before anything is decompressed.
	encoded.stored[0][0] ^= 1;
	EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, 0, encoded.stored[0], plain, PlaintextCheck::by_stored_hash),
			     IntegrityError, "hash mismatch");
}

TEST(DecodeBlock, RejectsWrongSizes)
{
	const EncodedImage encoded = encoded_image(Codec::zstd);
	std::vector<uint8_t> plain(kBlock);
	std::vector<uint8_t> longer = encoded.stored[0];
	longer.push_back(0);
	EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, 0, longer, plain), IntegrityError,
			     "does not match the manifest's");
	std::vector<uint8_t> wrong_output(kBlock - 1);
	EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, 0, encoded.stored[0], wrong_output), Error,
			     "output buffer");
	std::vector<uint8_t> hole_data(1);
	EXPECT_THROW(decode_block(encoded.manifest, 2, hole_data, plain), IntegrityError);
}

TEST(DecodeBlock, HashedButUndecodableStreamIsACodecError)
{
	// A stream that matches its (published) hash but is not valid zstd: the codec check
	// still catches it.
	EncodedImage encoded = encoded_image(Codec::zstd);
	std::vector<uint8_t> bogus = test::random_bytes(100, 12);
	encoded.manifest.blocks[0].stored_hash = sha256(bogus);
	encoded.manifest.blocks[0].stored_size = 100;
	std::vector<uint8_t> plain(kBlock);
	EXPECT_THROW_MESSAGE(decode_block(encoded.manifest, 0, bogus, plain), CodecError, "block 0:");
}

} // namespace
} // namespace httpcloop
