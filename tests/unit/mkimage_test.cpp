#include "image/mkimage.hpp"

#include "format/block_codec.hpp"
#include "format/block_name.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

namespace httpcloop {
namespace {

constexpr uint32_t kBlock = 64 * 1024;

// 8 blocks: text, random, two zero blocks left as a sparse hole in the file, a repeat
// of block 0, new random, a repeat of block 1, and a short text tail.
std::vector<uint8_t> write_source(const std::filesystem::path& path)
{
	const std::vector<uint8_t> text = test::text_bytes(kBlock, 1);
	const std::vector<uint8_t> noise = test::random_bytes(kBlock, 2);
	const std::vector<uint8_t> other_noise = test::random_bytes(kBlock, 3);
	const std::vector<uint8_t> tail = test::text_bytes(777, 4);

	std::vector<uint8_t> image;
	auto append = [&](const std::vector<uint8_t>& part) { image.insert(image.end(), part.begin(), part.end()); };
	append(text);
	append(noise);
	image.resize(4 * kBlock, 0);
	append(text);
	append(other_noise);
	append(noise);
	append(tail);

	// Write it with a real hole for blocks 2-3.
	UniqueFd fd = open_or_throw(path.string(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pwrite_all(fd.get(), std::span(image).first(2 * kBlock), 0, "source");
	pwrite_all(fd.get(), std::span(image).subspan(4 * kBlock), 4 * kBlock, "source");
	return image;
}

class MkimageTest : public ::testing::TestWithParam<Codec> {
protected:
	MkimageOptions options() const
	{
		MkimageOptions options;
		options.source = dir_.path() / "source.img";
		options.output_dir = dir_.path() / "out";
		options.block_size = kBlock;
		options.codec = GetParam();
		options.level = default_level(GetParam());
		options.threads = 2;
		return options;
	}
	test::TempDir dir_;
};

TEST_P(MkimageTest, BuildsAnImageThatReadsBackExactly)
{
	const std::vector<uint8_t> image = write_source(dir_.path() / "source.img");
	uint64_t last_progress = 0;
	const MkimageResult result = make_image(options(), [&](const MkimageProgress& progress) {
		EXPECT_GE(progress.bytes_read, last_progress);
		last_progress = progress.bytes_read;
		EXPECT_EQ(progress.total_bytes, image.size());
	});
	EXPECT_EQ(last_progress, image.size());

	EXPECT_EQ(result.manifest.block_count(), 8u);
	EXPECT_EQ(result.stats.holes, 2u);
	EXPECT_EQ(result.stats.unique_stored_blocks, 4u); // text, noise, other noise, tail
	EXPECT_EQ(result.stats.raw_blocks, 3u);           // noise twice, other noise
	EXPECT_EQ(result.new_block_files, 4u);
	EXPECT_EQ(result.manifest.plain_size(7), 777u);
	EXPECT_EQ(result.manifest_id, sha256(test::read_file(dir_.path() / "out" / "manifest")));

	size_t block_files = 0;
	for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() / "out" / "blocks"))
		if (entry.is_regular_file())
			++block_files;
	EXPECT_EQ(block_files, 4u); // deduplicated, and no temporary files left behind

	test::expect_image_reads_back(dir_.path() / "out", image);
}

TEST_P(MkimageTest, SecondRunReusesExistingBlockFiles)
{
	write_source(dir_.path() / "source.img");
	const MkimageResult first = make_image(options());
	const MkimageResult second = make_image(options());
	EXPECT_EQ(second.new_block_files, 0u);
	EXPECT_EQ(second.manifest_id, first.manifest_id);
}

TEST_P(MkimageTest, ReplacesATruncatedBlockFile)
{
	const std::vector<uint8_t> image = write_source(dir_.path() / "source.img");
	const MkimageResult first = make_image(options());
	const std::filesystem::path damaged = dir_.path() / "out" / block_relpath(first.manifest.blocks[0].stored_hash);
	std::filesystem::resize_file(damaged, 0);
	test::LogCapture log;
	const MkimageResult second = make_image(options());
	EXPECT_EQ(second.new_block_files, 1u);
	test::expect_image_reads_back(dir_.path() / "out", image);
}

// Bytes this process has read with read(2)/pread(2) so far (/proc/self/io, rchar).
uint64_t bytes_read_by_this_process()
{
	std::ifstream io("/proc/self/io");
	std::string key;
	uint64_t value = 0;
	while (io >> key >> value)
		if (key == "rchar:")
			return value;
	ADD_FAILURE() << "no rchar in /proc/self/io";
	return 0;
}

// The holes of a sparse source are not read: a 64 MiB file with one 64 KiB extent of
// data (and one block of zeros written as data, found by looking) costs a few blocks of
// reading, not 64 MiB. Failed before (every block was read and found zero).
TEST_P(MkimageTest, ReadsOnlyTheDataOfASparseSource)
{
	const std::filesystem::path source = dir_.path() / "source.img";
	constexpr uint64_t kSize = 64ull << 20;
	std::vector<uint8_t> image(kSize, 0);
	const std::vector<uint8_t> data = test::text_bytes(kBlock, 9);
	std::copy(data.begin(), data.end(), image.begin() + (40 << 20));
	{
		UniqueFd fd = open_or_throw(source.string(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_EQ(::ftruncate(fd.get(), kSize), 0);
		pwrite_all(fd.get(), data, 40 << 20, "source");
		pwrite_all(fd.get(), std::span(image).first(kBlock), 50 << 20, "source"); // zeros, as data
		ASSERT_EQ(::fsync(fd.get()), 0);
		if (::lseek(fd.get(), 0, SEEK_DATA) < (40 << 20))
			GTEST_SKIP() << "this file system does not report holes (SEEK_DATA)";
	}
	const uint64_t read_before = bytes_read_by_this_process();
	const MkimageResult result = make_image(options());
	const uint64_t read_by_mkimage = bytes_read_by_this_process() - read_before;
	EXPECT_LE(read_by_mkimage, 8u * kBlock);
	EXPECT_EQ(result.stats.holes, kSize / kBlock - 1);
	EXPECT_EQ(result.stats.unique_stored_blocks, 1u);
	test::expect_image_reads_back(dir_.path() / "out", image);
}

// Without --block-size the block size follows the source's size
// (Manifest::default_block_size): 128 KiB for a small image, 256 KiB for 60 GiB (sparse:
// its holes are not read).
TEST(Mkimage, BlockSizeFollowsTheSourceSizeByDefault)
{
	test::TempDir dir;
	for (const auto& [size, expected] : {std::pair<uint64_t, uint32_t>{1ull << 20, 128u * 1024},
					     std::pair<uint64_t, uint32_t>{60ull << 30, 256u * 1024}}) {
		const std::filesystem::path source = dir.path() / ("source" + std::to_string(size));
		{
			UniqueFd fd = open_or_throw(source.string(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
			const std::vector<uint8_t> data = test::text_bytes(4096, 5);
			pwrite_all(fd.get(), data, 0, "source");
		}
		MkimageOptions options;
		options.source = source;
		options.output_dir = dir.path() / ("out" + std::to_string(size));
		const MkimageResult result = make_image(options);
		EXPECT_EQ(result.manifest.block_size, expected) << size;
		EXPECT_EQ(result.manifest.image_size, size);
	}
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, MkimageTest, ::testing::Values(Codec::zlib, Codec::zstd),
			 [](const ::testing::TestParamInfo<Codec>& info) { return std::string(codec_name(info.param)); });

TEST(Mkimage, WritesCacheHintsButKeepsASitesOwnHtaccess)
{
	test::TempDir dir;
	test::write_file(dir.path() / "source.img", test::text_bytes(kBlock, 1));
	MkimageOptions options;
	options.source = dir.path() / "source.img";
	options.output_dir = dir.path() / "out";
	make_image(options);
	const std::vector<uint8_t> hints = test::read_file(dir.path() / "out" / ".htaccess");
	const std::string text(hints.begin(), hints.end());
	EXPECT_NE(text.find("max-age=31536000, immutable"), std::string::npos) << text;
	EXPECT_NE(text.find("manifest|manifest\\.sig|blocks\\.pack"), std::string::npos) << text;

	const std::string own = "Header set X-Site yes\n";
	test::write_file(dir.path() / "out" / ".htaccess", std::span(reinterpret_cast<const uint8_t*>(own.data()), own.size()));
	make_image(options);
	const std::vector<uint8_t> kept = test::read_file(dir.path() / "out" / ".htaccess");
	EXPECT_EQ(std::string(kept.begin(), kept.end()), own);
}

TEST(Mkimage, ClearErrors)
{
	test::TempDir dir;
	MkimageOptions options;
	options.source = dir.path() / "missing.img";
	options.output_dir = dir.path() / "out";
	EXPECT_THROW_MESSAGE(make_image(options), IoError, "missing.img");

	test::write_file(dir.path() / "empty.img", std::vector<uint8_t>{});
	options.source = dir.path() / "empty.img";
	EXPECT_THROW_MESSAGE(make_image(options), Error, "empty.img is empty");

	options.source = dir.path();
	EXPECT_THROW_MESSAGE(make_image(options), Error, "not a regular file or a block device");

	test::write_file(dir.path() / "one.img", test::text_bytes(100, 1));
	options.source = dir.path() / "one.img";
	options.block_size = 3 * 65536;
	EXPECT_THROW_MESSAGE(make_image(options), Error, "not a power of two");
	options.block_size = 65536;
	options.level = 99;
	EXPECT_THROW_MESSAGE(make_image(options), Error, "level 99 is out of range");
	options.level = 3;

	options.output_dir = dir.path() / "one.img" / "out"; // under a regular file
	EXPECT_THROW_MESSAGE(make_image(options), IoError, "cannot create output directory");
	EXPECT_FALSE(std::filesystem::exists(dir.path() / "out" / "manifest"));
}

} // namespace
} // namespace httpcloop

namespace httpcloop {
namespace {

TEST(MkimagePack, OnePackInBlockOrderWithDedupAndNoBlockFiles)
{
	test::TempDir dir;
	const std::vector<uint8_t> image = write_source(dir.path() / "source");
	MkimageOptions options;
	options.source = dir.path() / "source";
	options.output_dir = dir.path() / "out";
	options.block_size = kBlock;
	options.pack = true;
	options.threads = 3; // blocks finish out of order; the pack must still be in order
	const MkimageResult result = make_image(options);
	EXPECT_FALSE(std::filesystem::exists(options.output_dir / "blocks"));

	const Manifest manifest = Manifest::parse(test::read_file(options.output_dir / "manifest"));
	ASSERT_TRUE(manifest.is_packed());
	const std::vector<uint8_t> pack = test::read_file(options.output_dir / "blocks.pack");
	EXPECT_EQ(pack.size(), result.pack_size);
	uint64_t expected_offset = 0;
	for (uint64_t index = 0; index < manifest.block_count(); ++index) {
		const BlockEntry& entry = manifest.blocks[index];
		std::vector<uint8_t> plain(manifest.plain_size(index));
		std::span<const uint8_t> stored;
		if (!entry.is_hole()) {
			ASSERT_LE(entry.pack_offset + entry.stored_size, pack.size()) << "block " << index;
			stored = std::span(pack).subspan(entry.pack_offset, entry.stored_size);
			// New stored blocks are appended in block order; repeats point back.
			if (entry.pack_offset >= expected_offset) {
				EXPECT_EQ(entry.pack_offset, expected_offset) << "block " << index;
				expected_offset += entry.stored_size;
			}
		}
		decode_block(manifest, index, stored, plain);
		EXPECT_TRUE(std::equal(plain.begin(), plain.end(),
				       image.begin() + static_cast<std::ptrdiff_t>(manifest.block_offset(index))))
			<< "block " << index;
	}
	EXPECT_EQ(manifest.blocks[4].pack_offset, manifest.blocks[0].pack_offset); // a repeat of block 0
	EXPECT_EQ(expected_offset, pack.size());
}

} // namespace
} // namespace httpcloop
