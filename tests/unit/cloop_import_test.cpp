// import-cloop: cloop files of both versions and layouts, every compressor, and every way
// a cloop file can be malformed. The cloop files are written here (cloop-utils makes only
// version 2 with zlib; tests/host/t-import-cloop.sh and tests/vm/t-import-cloop.sh use it).

#include "cloop/cloop_block.hpp"
#include "cloop/cloop_index.hpp"
#include "cloop/import_cloop.hpp"
#include "format/block_codec.hpp"
#include "format/block_name.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>

#include <cstring>
#include <filesystem>

namespace httpcloop {
namespace {

std::vector<uint8_t> compress_for_cloop(CloopCodec codec, std::span<const uint8_t> plain)
{
	std::vector<uint8_t> out;
	switch (codec) {
	case CloopCodec::zlib: return compress(Codec::zlib, 9, plain);
	case CloopCodec::none: return {plain.begin(), plain.end()};
	case CloopCodec::xz: {
		out.resize(lzma_stream_buffer_bound(plain.size()));
		size_t position = 0;
		EXPECT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, nullptr, plain.data(), plain.size(), out.data(),
						  &position, out.size()),
			  LZMA_OK);
		out.resize(position);
		return out;
	}
	case CloopCodec::lz4: {
		out.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(plain.size()))));
		const int size = LZ4_compress_default(reinterpret_cast<const char*>(plain.data()),
						      reinterpret_cast<char*>(out.data()), static_cast<int>(plain.size()),
						      static_cast<int>(out.size()));
		EXPECT_GT(size, 0);
		out.resize(static_cast<size_t>(size));
		return out;
	}
	case CloopCodec::lzo1x: {
		EXPECT_EQ(lzo_init(), LZO_E_OK);
		out.resize(plain.size() + plain.size() / 16 + 64 + 3);
		std::vector<uint8_t> work(LZO1X_1_MEM_COMPRESS);
		lzo_uint size = out.size();
		EXPECT_EQ(lzo1x_1_compress(plain.data(), plain.size(), out.data(), &size, work.data()), LZO_E_OK);
		out.resize(size);
		return out;
	}
	}
	return out;
}

void store_be32(std::vector<uint8_t>& out, size_t at, uint32_t value)
{
	for (int i = 0; i < 4; ++i)
		out[at + static_cast<size_t>(i)] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

void store_be64(std::vector<uint8_t>& out, size_t at, uint64_t value)
{
	store_be32(out, at, static_cast<uint32_t>(value >> 32));
	store_be32(out, at + 4, static_cast<uint32_t>(value));
}

struct CloopLayout {
	int version = 2;
	bool header_first = true;
	uint32_t block_size = 64 * 1024;
	std::vector<CloopCodec> codecs; // per block, cycled; default zlib
};

struct CloopFile {
	std::vector<uint8_t> bytes;
	size_t table_at = 0;                  // where the offset table starts
	std::vector<std::vector<uint8_t>> streams; // each block's stored bytes
};

// A cloop file of `image` (a whole number of blocks), as cloop's tools lay it out.
CloopFile make_cloop(const CloopLayout& layout, std::span<const uint8_t> image)
{
	const size_t count = image.size() / layout.block_size;
	CloopFile file;
	std::vector<uint64_t> flags;
	for (size_t i = 0; i < count; ++i) {
		const CloopCodec codec = layout.codecs.empty() ? CloopCodec::zlib : layout.codecs[i % layout.codecs.size()];
		file.streams.push_back(compress_for_cloop(codec, image.subspan(i * layout.block_size, layout.block_size)));
		flags.push_back(static_cast<uint64_t>(codec));
	}
	std::vector<uint8_t> header(CloopIndex::kHeaderSize, 0);
	const std::string preamble = layout.version == 4 ? "#!/bin/sh\n#V4.0 Format\n" : "#!/bin/sh\n#V2.0 Format\n";
	std::memcpy(header.data(), preamble.data(), preamble.size());
	store_be32(header, 128, layout.block_size);
	store_be32(header, 132, static_cast<uint32_t>(count));
	std::vector<uint8_t> table((count + 1) * 8);

	uint64_t offset = layout.header_first ? header.size() + table.size() : 0;
	for (size_t i = 0; i <= count; ++i) {
		const uint64_t bits = i < count && layout.version == 4 ? flags[i] << 60 : 0;
		store_be64(table, i * 8, offset | bits);
		if (i < count)
			offset += file.streams[i].size();
	}
	auto append = [&](std::span<const uint8_t> part) { file.bytes.insert(file.bytes.end(), part.begin(), part.end()); };
	if (layout.header_first) {
		append(header);
		file.table_at = file.bytes.size();
		append(table);
	}
	for (const auto& stream : file.streams)
		append(stream);
	if (!layout.header_first) {
		file.table_at = file.bytes.size();
		append(table);
		append(header);
	}
	return file;
}

// Text, noise, zeros and text again, `blocks` blocks of `block_size`.
std::vector<uint8_t> sample_image(size_t blocks, uint32_t block_size)
{
	std::vector<uint8_t> image;
	for (size_t i = 0; i < blocks; ++i) {
		std::vector<uint8_t> part;
		switch (i % 4) {
		case 0: part = test::text_bytes(block_size, static_cast<uint32_t>(i)); break;
		case 1: part = test::random_bytes(block_size, static_cast<uint32_t>(i)); break;
		case 2: part.assign(block_size, 0); break;
		default: part = test::text_bytes(block_size, 7); break;
		}
		image.insert(image.end(), part.begin(), part.end());
	}
	return image;
}

class ImportCloopTest : public ::testing::Test {
protected:
	ImportCloopOptions options(const CloopFile& file)
	{
		test::write_file(dir_.path() / "image.cloop", file.bytes);
		ImportCloopOptions options;
		options.source = dir_.path() / "image.cloop";
		options.output_dir = dir_.path() / "out";
		return options;
	}
	test::TempDir dir_;
};

TEST_F(ImportCloopTest, Version2KeepsTheZlibBlocksByteForByte)
{
	const std::vector<uint8_t> image = sample_image(8, 64 * 1024);
	const CloopFile file = make_cloop({}, image);
	const ImportCloopResult result = import_cloop(options(file));
	EXPECT_EQ(result.cloop_version, 2);
	EXPECT_EQ(result.manifest.block_size, 64u * 1024);
	EXPECT_EQ(result.manifest.codec, Codec::zlib);
	EXPECT_EQ(result.stats.holes, 2u);
	EXPECT_EQ(result.reencoded_blocks, 0u);
	EXPECT_EQ(result.kept_streams, 4u); // the text blocks; noise is stored raw, zeros are holes
	for (size_t i = 0; i < file.streams.size(); ++i) {
		const BlockEntry& entry = result.manifest.blocks[i];
		if (!entry.is_hole() && !entry.is_raw()) {
			EXPECT_EQ(test::read_file(dir_.path() / "out" / block_relpath(entry.stored_hash)), file.streams[i])
				<< "block " << i;
		}
	}
	EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out" / "blocks.pack"));
	test::expect_image_reads_back(dir_.path() / "out", image);
}

TEST_F(ImportCloopTest, Version4EveryCompressorBothLayouts)
{
	const std::vector<uint8_t> image = sample_image(10, 128 * 1024);
	for (const bool header_first : {true, false}) {
		SCOPED_TRACE(header_first ? "header first" : "header last");
		CloopLayout layout;
		layout.version = 4;
		layout.header_first = header_first;
		layout.block_size = 128 * 1024;
		layout.codecs = {CloopCodec::xz, CloopCodec::lz4, CloopCodec::lzo1x, CloopCodec::zlib, CloopCodec::none};
		const ImportCloopResult result = import_cloop(options(make_cloop(layout, image)));
		EXPECT_EQ(result.cloop_version, 4);
		EXPECT_EQ(result.cloop_blocks, 10u);
		EXPECT_GT(result.reencoded_blocks, 0u);
		test::expect_image_reads_back(dir_.path() / "out", image);
		std::filesystem::remove_all(dir_.path() / "out");
	}
}

TEST_F(ImportCloopTest, RegroupsBlocksOfASizeTheFormatLacks)
{
	// 40 blocks of 24 KiB (960 KiB): seven 128 KiB blocks (the default for its size) and a
	// 64 KiB one.
	CloopLayout layout;
	layout.block_size = 24 * 1024;
	const std::vector<uint8_t> image = sample_image(40, layout.block_size);
	const ImportCloopResult result = import_cloop(options(make_cloop(layout, image)));
	EXPECT_EQ(result.manifest.block_size, Manifest::default_block_size(image.size()));
	EXPECT_EQ(result.manifest.block_size, 128u * 1024);
	EXPECT_EQ(result.manifest.block_count(), 8u);
	EXPECT_EQ(result.manifest.plain_size(7), 64u * 1024);
	EXPECT_EQ(result.kept_streams, 0u);
	test::expect_image_reads_back(dir_.path() / "out", image);
}

TEST_F(ImportCloopTest, AnotherCodecOrBlockSizeCompressesAnew)
{
	const std::vector<uint8_t> image = sample_image(8, 64 * 1024);
	const CloopFile file = make_cloop({}, image);
	ImportCloopOptions zstd = options(file);
	zstd.codec = Codec::zstd;
	zstd.level = 3;
	ImportCloopResult result = import_cloop(zstd);
	EXPECT_EQ(result.manifest.codec, Codec::zstd);
	EXPECT_EQ(result.kept_streams, 0u);
	test::expect_image_reads_back(dir_.path() / "out", image);

	std::filesystem::remove_all(dir_.path() / "out");
	ImportCloopOptions larger = options(file);
	larger.block_size = 256 * 1024;
	result = import_cloop(larger);
	EXPECT_EQ(result.manifest.block_count(), 2u);
	EXPECT_EQ(result.kept_streams, 0u);
	test::expect_image_reads_back(dir_.path() / "out", image);
}

// A malformed file gives an error that says what is wrong, and no manifest.
class MalformedCloopTest : public ImportCloopTest {
protected:
	void expect_refused(const std::vector<uint8_t>& bytes, const std::string& message)
	{
		CloopFile file;
		file.bytes = bytes;
		EXPECT_THROW_MESSAGE(import_cloop(options(file)), Error, message);
		EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out" / "manifest"));
	}
	std::vector<uint8_t> image_ = sample_image(4, 64 * 1024);
	CloopFile good_ = make_cloop({}, image_);
};

TEST_F(MalformedCloopTest, NoSignature)
{
	std::vector<uint8_t> bytes = good_.bytes;
	bytes[11] = 'X';
	expect_refused(bytes, "no cloop signature");
	expect_refused(std::vector<uint8_t>(100, 0), "fewer than a cloop header");
}

TEST_F(MalformedCloopTest, BadHeaderFields)
{
	std::vector<uint8_t> bytes = good_.bytes;
	store_be32(bytes, 128, 1000);
	expect_refused(bytes, "block size 1000 is not a multiple of 512");
	bytes = good_.bytes;
	store_be32(bytes, 132, 0);
	expect_refused(bytes, "no blocks");
	store_be32(bytes, 132, CloopIndex::kMaxBlocks + 1);
	expect_refused(bytes, "more than import-cloop reads");
}

TEST_F(MalformedCloopTest, TruncatedTable)
{
	std::vector<uint8_t> bytes = good_.bytes;
	store_be32(bytes, 132, 0x100000); // far more blocks than the file holds offsets for
	expect_refused(bytes, "truncated");
	bytes.resize(good_.table_at + 12); // the table itself cut short
	store_be32(bytes, 132, 4);
	expect_refused(bytes, "truncated");
}

TEST_F(MalformedCloopTest, OffsetsOutOfOrderOrOutside)
{
	std::vector<uint8_t> bytes = good_.bytes;
	// Block 2 starting before block 1.
	std::vector<uint8_t> entry(bytes.begin() + static_cast<ptrdiff_t>(good_.table_at + 8),
				   bytes.begin() + static_cast<ptrdiff_t>(good_.table_at + 16));
	std::memcpy(bytes.data() + good_.table_at + 16, entry.data(), 8);
	store_be64(bytes, good_.table_at + 8, 0);
	expect_refused(bytes, "outside its data");
	bytes = good_.bytes;
	store_be64(bytes, good_.table_at + 16, good_.table_at); // inside the table
	expect_refused(bytes, "outside its data");
	bytes = good_.bytes;
	store_be64(bytes, good_.table_at + 4 * 8, bytes.size() + 1); // the end past the file
	expect_refused(bytes, "outside its data");
	bytes = good_.bytes;
	const uint64_t second = good_.table_at + 8 + 4 * 8 + good_.streams[0].size() + 10;
	store_be64(bytes, good_.table_at + 16, second);
	store_be64(bytes, good_.table_at + 24, second - 20);
	expect_refused(bytes, "offsets out of order");
}

TEST_F(MalformedCloopTest, UnknownCompressorAndOversizedBlock)
{
	CloopLayout v4;
	v4.version = 4;
	CloopFile file = make_cloop(v4, image_);
	std::vector<uint8_t> bytes = file.bytes;
	bytes[file.table_at + 8] |= 0x70; // block 1: compressor 7
	expect_refused(bytes, "block 1 has unknown compressor 7");

	// A version 2 file whose block would be larger than any compressor makes it.
	CloopLayout noise;
	const std::vector<uint8_t> big = test::random_bytes(2 * 64 * 1024, 9);
	file = make_cloop(noise, big);
	bytes = file.bytes;
	bytes.resize(bytes.size() + 64 * 1024);
	store_be64(bytes, file.table_at + 8, file.table_at + 24); // block 0 empty ...
	store_be64(bytes, file.table_at + 16, bytes.size());      // ... block 1 huge
	expect_refused(bytes, "more than any compressor makes");
}

TEST_F(MalformedCloopTest, BlocksThatDoNotDecodeToTheBlockSize)
{
	// Block 1's stream is of a shorter plaintext.
	CloopLayout layout;
	const std::vector<uint8_t> short_plain = test::text_bytes(60000, 3);
	const std::vector<uint8_t> short_stream = compress(Codec::zlib, 9, short_plain);
	CloopFile file = make_cloop(layout, image_);
	// Rebuild the file with block 1 replaced, keeping the offsets consistent.
	std::vector<uint8_t> bytes(file.bytes.begin(), file.bytes.begin() + static_cast<ptrdiff_t>(file.table_at));
	uint64_t offset = file.table_at + 5 * 8;
	std::vector<uint8_t> table(5 * 8);
	std::vector<uint8_t> data;
	for (size_t i = 0; i < 4; ++i) {
		store_be64(table, i * 8, offset);
		const std::vector<uint8_t>& stream = i == 1 ? short_stream : file.streams[i];
		data.insert(data.end(), stream.begin(), stream.end());
		offset += stream.size();
	}
	store_be64(table, 4 * 8, offset);
	bytes.insert(bytes.end(), table.begin(), table.end());
	bytes.insert(bytes.end(), data.begin(), data.end());
	expect_refused(bytes, "cloop block 1 (zlib");

	// A damaged stream.
	bytes = file.bytes;
	bytes[file.table_at + 5 * 8 + 10] ^= 0xff;
	expect_refused(bytes, "cloop block 0");
}

TEST(CloopBlock, EveryCompressorChecksItsLength)
{
	const std::vector<uint8_t> plain = test::text_bytes(64 * 1024, 5);
	for (CloopCodec codec : {CloopCodec::zlib, CloopCodec::none, CloopCodec::xz, CloopCodec::lz4, CloopCodec::lzo1x}) {
		SCOPED_TRACE(std::string(cloop_codec_name(codec)));
		const std::vector<uint8_t> stored = compress_for_cloop(codec, plain);
		std::vector<uint8_t> out(plain.size());
		decode_cloop_block(codec, stored, out);
		EXPECT_EQ(out, plain);
		std::vector<uint8_t> too_small(plain.size() - 1);
		EXPECT_THROW(decode_cloop_block(codec, stored, too_small), CodecError);
		std::vector<uint8_t> too_large(plain.size() + 1);
		EXPECT_THROW(decode_cloop_block(codec, stored, too_large), CodecError);
		std::vector<uint8_t> garbage = test::random_bytes(stored.size(), 11);
		if (codec != CloopCodec::none) {
			EXPECT_THROW(decode_cloop_block(codec, garbage, out), CodecError);
		}
	}
}

} // namespace
} // namespace httpcloop
