#include "format/manifest.hpp"

#include "test_support.hpp"
#include "util/error.hpp"
#include "util/little_endian.hpp"

#include <chrono>
#include <cstring>

namespace httpcloop {
namespace {

using test::fix_manifest_checksum;

constexpr uint32_t kBlock = 64 * 1024;

// Three full blocks and a short one: text, random (raw), zeros (hole), short text.
std::vector<uint8_t> sample_image()
{
	std::vector<uint8_t> image = test::text_bytes(kBlock, 1);
	std::vector<uint8_t> noise = test::random_bytes(kBlock, 2);
	image.insert(image.end(), noise.begin(), noise.end());
	image.resize(3 * kBlock, 0);
	std::vector<uint8_t> tail = test::text_bytes(1000, 3);
	image.insert(image.end(), tail.begin(), tail.end());
	return image;
}

std::vector<uint8_t> sample_bytes()
{
	return test::manifest_for(sample_image(), kBlock).serialize();
}

// Offsets from docs/format.md.
constexpr size_t kVersionOffset = 8, kHeaderSizeOffset = 12, kImageSizeOffset = 16, kBlockSizeOffset = 24,
		 kCodecOffset = 28, kHashOffset = 29, kEntrySizeOffset = 30, kBlockCountOffset = 32, kFlagsOffset = 40,
		 kReservedOffset = 44, kEntryFlagsOffset = 68, kEntryStoredSizeOffset = 64, kEntryPackOffset = 72;

size_t entry_offset(uint64_t index)
{
	return Manifest::kHeaderSize + index * Manifest::kEntrySize;
}

void expect_rejected(std::vector<uint8_t> bytes, std::string_view needle)
{
	EXPECT_THROW_MESSAGE(Manifest::parse(bytes), FormatError, needle);
}

// Edits a field, fixes the checksum, and expects `needle` in the rejection.
template <typename T>
void expect_field_rejected(size_t offset, T value, std::string_view needle)
{
	std::vector<uint8_t> bytes = sample_bytes();
	store_le<T>(bytes.data() + offset, value);
	fix_manifest_checksum(bytes);
	expect_rejected(std::move(bytes), needle);
}

TEST(Manifest, RoundTrip)
{
	const Manifest original = test::manifest_for(sample_image(), kBlock);
	const std::vector<uint8_t> bytes = original.serialize();
	EXPECT_EQ(bytes.size(), 64u + 4 * 80 + 32);
	const Manifest parsed = Manifest::parse(bytes);
	EXPECT_EQ(parsed.image_size, original.image_size);
	EXPECT_EQ(parsed.block_size, kBlock);
	EXPECT_EQ(parsed.codec, Codec::zstd);
	ASSERT_EQ(parsed.block_count(), 4u);
	for (uint64_t i = 0; i < 4; ++i) {
		EXPECT_EQ(parsed.blocks[i].stored_hash, original.blocks[i].stored_hash);
		EXPECT_EQ(parsed.blocks[i].plain_hash, original.blocks[i].plain_hash);
		EXPECT_EQ(parsed.blocks[i].stored_size, original.blocks[i].stored_size);
		EXPECT_EQ(parsed.blocks[i].flags, original.blocks[i].flags);
	}
	EXPECT_FALSE(parsed.blocks[0].is_raw());
	EXPECT_TRUE(parsed.blocks[1].is_raw());
	EXPECT_TRUE(parsed.blocks[2].is_hole());
	EXPECT_EQ(parsed.plain_size(0), kBlock);
	EXPECT_EQ(parsed.plain_size(3), 1000u);
	EXPECT_EQ(parsed.serialize(), bytes);
}

TEST(Manifest, PackedRoundTripAndPackRules)
{
	Manifest packed = test::manifest_for(sample_image(), kBlock);
	packed.flags = Manifest::kFlagPacked;
	packed.blocks[1].pack_offset = packed.blocks[0].stored_size;
	packed.blocks[3].pack_offset = packed.blocks[1].pack_offset + packed.blocks[1].stored_size;
	const Manifest parsed = Manifest::parse(packed.serialize());
	EXPECT_TRUE(parsed.is_packed());
	EXPECT_EQ(parsed.blocks[1].pack_offset, packed.blocks[1].pack_offset);
	EXPECT_EQ(parsed.blocks[3].pack_offset, packed.blocks[3].pack_offset);

	Manifest hole_with_offset = packed;
	hole_with_offset.blocks[2].pack_offset = 10;
	EXPECT_THROW_MESSAGE(Manifest::parse(hole_with_offset.serialize()), FormatError, "a hole with a pack offset");
	Manifest far = packed;
	far.blocks[0].pack_offset = ~uint64_t{0} - 5;
	EXPECT_THROW_MESSAGE(Manifest::parse(far.serialize()), FormatError, "pack offset out of range");
}

TEST(Manifest, RejectsBadMagic)
{
	std::vector<uint8_t> bytes = sample_bytes();
	bytes[0] = 'X';
	expect_rejected(bytes, "bad magic");
}

TEST(Manifest, RejectsTruncation)
{
	const std::vector<uint8_t> bytes = sample_bytes();
	for (size_t length : {size_t{0}, size_t{5}, size_t{40}, size_t{95}})
		expect_rejected(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)),
				"truncated");
	for (size_t length : {size_t{96}, size_t{200}, bytes.size() - 1})
		expect_rejected(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)),
				"does not match block_count");
	std::vector<uint8_t> longer = bytes;
	longer.push_back(0);
	expect_rejected(longer, "does not match block_count");
}

TEST(Manifest, RejectsHeaderFields)
{
	expect_field_rejected<uint32_t>(kVersionOffset, 2, "unsupported format version 2");
	expect_field_rejected<uint32_t>(kHeaderSizeOffset, 128, "unsupported header size 128");
	expect_field_rejected<uint16_t>(kEntrySizeOffset, 96, "unsupported entry size 96");
	expect_field_rejected<uint32_t>(kBlockSizeOffset, 100000, "block size 100000 is not a power of two");
	expect_field_rejected<uint32_t>(kBlockSizeOffset, 32768, "block size 32768 is not a power of two");
	expect_field_rejected<uint32_t>(kBlockSizeOffset, 8u << 20, "is not a power of two from");
	expect_field_rejected<uint8_t>(kCodecOffset, 3, "unknown codec 3");
	expect_field_rejected<uint8_t>(kHashOffset, 2, "unknown hash algorithm 2");
	expect_field_rejected<uint32_t>(kFlagsOffset, 2, "unknown header flags 0x2");
	expect_field_rejected<uint32_t>(kFlagsOffset, 4, "unknown header flags 0x4");
	expect_field_rejected<uint8_t>(kReservedOffset + 3, 1, "reserved header bytes are not zero");
	expect_field_rejected<uint64_t>(kImageSizeOffset, 0, "image size is zero");
	expect_field_rejected<uint64_t>(kBlockCountOffset, 5, "block_count 5 does not match image size");
}

TEST(Manifest, RejectsAbsurdSizesWithoutAllocating)
{
	// 2^40 blocks of 64 KiB: consistent header, but a 416-byte file.
	std::vector<uint8_t> bytes = sample_bytes();
	store_le<uint64_t>(bytes.data() + kImageSizeOffset, (uint64_t{1} << 40) * kBlock);
	store_le<uint64_t>(bytes.data() + kBlockCountOffset, uint64_t{1} << 40);
	fix_manifest_checksum(bytes);
	expect_rejected(bytes, "does not match block_count 1099511627776");

	// The largest image size: 2^48 blocks, still caught by the length check.
	store_le<uint64_t>(bytes.data() + kImageSizeOffset, UINT64_MAX);
	store_le<uint64_t>(bytes.data() + kBlockCountOffset, UINT64_MAX / kBlock + 1);
	fix_manifest_checksum(bytes);
	expect_rejected(bytes, "does not match block_count 281474976710656");
}

TEST(Manifest, RejectsChecksumMismatch)
{
	std::vector<uint8_t> bytes = sample_bytes();
	bytes[entry_offset(0) + 5] ^= 1;
	expect_rejected(bytes, "checksum mismatch");
	bytes = sample_bytes();
	bytes.back() ^= 1;
	expect_rejected(bytes, "checksum mismatch");
}

TEST(Manifest, RejectsBadEntries)
{
	expect_field_rejected<uint32_t>(entry_offset(0) + kEntryFlagsOffset, 4, "block 0: unknown entry flags 0x4");
	expect_field_rejected<uint32_t>(entry_offset(2) + kEntryFlagsOffset, 3, "block 2: a hole cannot also be raw");
	expect_field_rejected<uint32_t>(entry_offset(2) + kEntryStoredSizeOffset, 10,
					"block 2: hole with non-zero stored size 10");
	expect_field_rejected<uint8_t>(entry_offset(2) + 7, 1, "block 2: hole with a non-zero stored hash");
	expect_field_rejected<uint8_t>(entry_offset(2) + 32, 1, "block 2: hole whose plaintext hash");
	expect_field_rejected<uint32_t>(entry_offset(0) + kEntryStoredSizeOffset, 0,
					"block 0: stored size 0 for a block that is not a hole");
	expect_field_rejected<uint32_t>(entry_offset(1) + kEntryStoredSizeOffset, kBlock - 1,
					"block 1: raw block with stored size");
	expect_field_rejected<uint32_t>(entry_offset(0) + kEntryStoredSizeOffset, 1u << 30,
					"block 0: stored size 1073741824 is above the compress bound");
	expect_field_rejected<uint32_t>(entry_offset(3) + kEntryStoredSizeOffset, 2000,
					"block 3: stored size 2000 is above the compress bound");
	expect_field_rejected<uint64_t>(entry_offset(0) + kEntryPackOffset, 4096, "block 0: non-zero pack offset");
}

TEST(Manifest, SerializeRejectsInconsistentManifest)
{
	Manifest manifest = test::manifest_for(sample_image(), kBlock);
	manifest.blocks.pop_back();
	EXPECT_THROW_MESSAGE(manifest.serialize(), Error, "3 entries for 4 blocks");
}

TEST(Manifest, ParsesAHundredGibibyteImageQuickly)
{
	// 409600 entries of 256 KiB blocks, each a distinct compressed block.
	Manifest manifest;
	manifest.block_size = 256 * 1024;
	manifest.image_size = uint64_t{100} << 30;
	manifest.blocks.resize(Manifest::block_count_for(manifest.image_size, manifest.block_size));
	for (uint64_t i = 0; i < manifest.block_count(); ++i) {
		BlockEntry& block = manifest.blocks[i];
		std::memcpy(block.stored_hash.data(), &i, sizeof i);
		block.stored_size = 1000;
	}
	const std::vector<uint8_t> bytes = manifest.serialize();
	ASSERT_EQ(manifest.block_count(), 409600u);

	const auto start = std::chrono::steady_clock::now();
	const Manifest parsed = Manifest::parse(bytes);
	const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	EXPECT_EQ(parsed.block_count(), 409600u);
	EXPECT_LT(seconds, 2.0) << "parse is one pass over ~33 MB; it should take well under a second";
	RecordProperty("parse_seconds", std::to_string(seconds));
}

} // namespace
} // namespace httpcloop

namespace httpcloop {
namespace {

// The default block size: 128 KiB while the manifest stays within kDefaultMaxEntries
// entries, then the smallest power of two that keeps it there.
TEST(Manifest, DefaultBlockSizeKeepsTheManifestSmall)
{
	constexpr uint64_t GiB = 1ull << 30;
	EXPECT_EQ(Manifest::default_block_size(1), 128u * 1024);
	EXPECT_EQ(Manifest::default_block_size(128ull << 20), 128u * 1024);
	EXPECT_EQ(Manifest::default_block_size(50 * GiB), 128u * 1024); // exactly 409600 blocks
	EXPECT_EQ(Manifest::default_block_size(50 * GiB + 1), 256u * 1024);
	EXPECT_EQ(Manifest::default_block_size(64 * GiB), 256u * 1024);
	EXPECT_EQ(Manifest::default_block_size(1024 * GiB), 4u * 1024 * 1024);
	EXPECT_EQ(Manifest::default_block_size(100 * 1024 * GiB), Manifest::kMaxBlockSize); // capped
	for (uint64_t size = 1; size < 4096 * GiB; size = size * 3 + 7) {
		const uint32_t block_size = Manifest::default_block_size(size);
		EXPECT_TRUE(Manifest::is_valid_block_size(block_size)) << size;
		if (block_size < Manifest::kMaxBlockSize) {
			EXPECT_LE(Manifest::block_count_for(size, block_size), Manifest::kDefaultMaxEntries) << size;
		}
	}
}

} // namespace
} // namespace httpcloop
