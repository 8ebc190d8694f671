#pragma once
// Helpers shared by the unit tests.

#include "crypto/sha256.hpp"
#include "format/manifest.hpp"

#include <cstdint>
#include <filesystem>
#include <gtest/gtest.h>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop::test {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
public:
	TempDir();
	~TempDir();
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;
	const std::filesystem::path& path() const { return path_; }

private:
	std::filesystem::path path_;
};

// Deterministic pseudo-random bytes (incompressible).
std::vector<uint8_t> random_bytes(size_t size, uint32_t seed);
// Compressible text-like bytes.
std::vector<uint8_t> text_bytes(size_t size, uint32_t seed);

void write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes);
std::vector<uint8_t> read_file(const std::filesystem::path& path);

// A valid manifest for `image` (encoded with `codec`), built through encode_block.
Manifest manifest_for(std::span<const uint8_t> image, uint32_t block_size, Codec codec = Codec::zstd);

// Every block of the image published in OUTDIR (block files), decoded with every check,
// equals `image` at its offset, and the manifest's size is image's.
void expect_image_reads_back(const std::filesystem::path& output_dir, std::span<const uint8_t> image);

// Recomputes the trailing checksum of serialized manifest bytes after a test edits them,
// so the parser reaches the check the test is aimed at.
void fix_manifest_checksum(std::vector<uint8_t>& bytes);

// Captures log messages for the lifetime of the object.
class LogCapture {
public:
	LogCapture();
	~LogCapture();
	const std::string& text() const { return text_; }

private:
	std::string text_;
};

} // namespace httpcloop::test

// Expects `statement` to throw `type` whose what() contains `needle`.
#define EXPECT_THROW_MESSAGE(statement, type, needle)                                                        \
	do {                                                                                                 \
		try {                                                                                        \
			statement;                                                                           \
			ADD_FAILURE() << "expected " #type " containing \"" << (needle) << "\", nothing thrown"; \
		} catch (const type& error_) {                                                               \
			EXPECT_NE(std::string_view(error_.what()).find(needle), std::string_view::npos)      \
				<< "message: " << error_.what();                                             \
		}                                                                                            \
	} while (0)
