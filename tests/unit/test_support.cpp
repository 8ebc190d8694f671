#include "test_support.hpp"

#include "format/block_codec.hpp"
#include "format/block_name.hpp"
#include "util/log.hpp"

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace httpcloop::test {

TempDir::TempDir()
{
	const char* base = std::getenv("TMPDIR");
	std::string pattern = std::string(base && *base ? base : "/tmp") + "/httpcloop-test-XXXXXX";
	if (!::mkdtemp(pattern.data()))
		throw std::runtime_error("mkdtemp failed");
	path_ = pattern;
}

TempDir::~TempDir()
{
	std::error_code ignored;
	std::filesystem::remove_all(path_, ignored);
}

std::vector<uint8_t> random_bytes(size_t size, uint32_t seed)
{
	std::mt19937 generator(seed);
	std::vector<uint8_t> bytes(size);
	for (uint8_t& byte : bytes)
		byte = static_cast<uint8_t>(generator());
	return bytes;
}

std::vector<uint8_t> text_bytes(size_t size, uint32_t seed)
{
	static constexpr std::string_view words[] = {"block ", "device ", "http ", "cache ", "manifest ",
						     "zstd ", "zlib ", "kernel ", "\n"};
	std::mt19937 generator(seed);
	std::vector<uint8_t> bytes;
	bytes.reserve(size + 16);
	while (bytes.size() < size) {
		std::string_view word = words[generator() % std::size(words)];
		bytes.insert(bytes.end(), word.begin(), word.end());
	}
	bytes.resize(size);
	return bytes;
}

void write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
	if (!out)
		throw std::runtime_error("cannot write " + path.string());
}

std::vector<uint8_t> read_file(const std::filesystem::path& path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path.string());
	return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Manifest manifest_for(std::span<const uint8_t> image, uint32_t block_size, Codec codec)
{
	Manifest manifest;
	manifest.image_size = image.size();
	manifest.block_size = block_size;
	manifest.codec = codec;
	manifest.blocks.resize(Manifest::block_count_for(image.size(), block_size));
	for (uint64_t index = 0; index < manifest.block_count(); ++index)
		manifest.blocks[index] =
			encode_block(codec, default_level(codec),
				     image.subspan(manifest.block_offset(index), manifest.plain_size(index)))
				.entry;
	return manifest;
}

void expect_image_reads_back(const std::filesystem::path& output_dir, std::span<const uint8_t> image)
{
	const Manifest manifest = Manifest::parse(read_file(output_dir / "manifest"));
	ASSERT_EQ(manifest.image_size, image.size());
	for (uint64_t index = 0; index < manifest.block_count(); ++index) {
		const BlockEntry& entry = manifest.blocks[index];
		std::vector<uint8_t> stored;
		if (!entry.is_hole())
			stored = read_file(output_dir / block_relpath(entry.stored_hash));
		std::vector<uint8_t> plain(manifest.plain_size(index));
		decode_block(manifest, index, stored, plain);
		ASSERT_TRUE(std::equal(plain.begin(), plain.end(),
				       image.begin() + static_cast<std::ptrdiff_t>(manifest.block_offset(index))))
			<< "block " << index;
	}
}

void fix_manifest_checksum(std::vector<uint8_t>& bytes)
{
	const size_t body = bytes.size() - Manifest::kChecksumSize;
	Sha256 checksum = sha256(std::span(bytes).first(body));
	std::copy(checksum.begin(), checksum.end(), bytes.begin() + static_cast<std::ptrdiff_t>(body));
}

LogCapture::LogCapture()
{
	set_log_sink([this](LogLevel, std::string_view message) {
		text_ += message;
		text_ += '\n';
	});
}

LogCapture::~LogCapture()
{
	set_log_sink({});
}

} // namespace httpcloop::test
