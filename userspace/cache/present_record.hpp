#pragma once
// The cache's present-block record (docs/format.md, "Client cache directory"): a 64-byte
// header naming the image, then one bit per block. It lives on local storage that we do
// not fully trust, so decoding checks every field and reports why a record is unusable.

#include "crypto/sha256.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace httpcloop {

struct PresentRecordIdentity {
	uint64_t block_count = 0;
	uint32_t block_size = 0;
	Sha256 image_id{};
};

namespace present_record {

constexpr char kMagic[8] = {'H', 'C', 'L', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;

inline size_t bitmap_size(uint64_t block_count)
{
	return static_cast<size_t>((block_count + 7) / 8);
}

inline size_t file_size(uint64_t block_count)
{
	return kHeaderSize + bitmap_size(block_count);
}

// Header followed by `bitmap`.
std::vector<uint8_t> encode(const PresentRecordIdentity& identity, std::span<const uint8_t> bitmap);

// The bitmap of a record that matches `identity`, or a string saying why it does not.
std::variant<std::vector<uint8_t>, std::string> decode(std::span<const uint8_t> bytes,
						       const PresentRecordIdentity& identity);

} // namespace present_record

} // namespace httpcloop
