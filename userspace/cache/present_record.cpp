#include "cache/present_record.hpp"

#include "util/little_endian.hpp"

#include <algorithm>
#include <cstring>

namespace httpcloop::present_record {

namespace {

namespace field {
constexpr size_t magic = 0;
constexpr size_t version = 8;
constexpr size_t header_size = 12;
constexpr size_t block_count = 16;
constexpr size_t block_size = 24;
constexpr size_t reserved = 28;
constexpr size_t image_id = 32;
} // namespace field

} // namespace

std::vector<uint8_t> encode(const PresentRecordIdentity& identity, std::span<const uint8_t> bitmap)
{
	std::vector<uint8_t> bytes(kHeaderSize + bitmap.size());
	uint8_t* data = bytes.data();
	std::memcpy(data + field::magic, kMagic, sizeof kMagic);
	store_le<uint32_t>(data + field::version, kVersion);
	store_le<uint32_t>(data + field::header_size, static_cast<uint32_t>(kHeaderSize));
	store_le<uint64_t>(data + field::block_count, identity.block_count);
	store_le<uint32_t>(data + field::block_size, identity.block_size);
	store_le<uint32_t>(data + field::reserved, 0);
	std::memcpy(data + field::image_id, identity.image_id.data(), identity.image_id.size());
	std::copy(bitmap.begin(), bitmap.end(), data + kHeaderSize);
	return bytes;
}

std::variant<std::vector<uint8_t>, std::string> decode(std::span<const uint8_t> bytes,
						       const PresentRecordIdentity& identity)
{
	const size_t expected = file_size(identity.block_count);
	if (bytes.size() != expected)
		return "length " + std::to_string(bytes.size()) + ", expected " + std::to_string(expected);
	const uint8_t* data = bytes.data();
	if (std::memcmp(data + field::magic, kMagic, sizeof kMagic) != 0)
		return std::string("bad magic");
	if (load_le<uint32_t>(data + field::version) != kVersion)
		return "unknown version " + std::to_string(load_le<uint32_t>(data + field::version));
	if (load_le<uint32_t>(data + field::header_size) != kHeaderSize)
		return "unknown header size " + std::to_string(load_le<uint32_t>(data + field::header_size));
	if (std::memcmp(data + field::image_id, identity.image_id.data(), identity.image_id.size()) != 0)
		return std::string("it belongs to another image");
	if (load_le<uint64_t>(data + field::block_count) != identity.block_count)
		return "block count " + std::to_string(load_le<uint64_t>(data + field::block_count)) +
		       " does not match the manifest's " + std::to_string(identity.block_count);
	if (load_le<uint32_t>(data + field::block_size) != identity.block_size)
		return "block size " + std::to_string(load_le<uint32_t>(data + field::block_size)) +
		       " does not match the manifest's " + std::to_string(identity.block_size);
	if (load_le<uint32_t>(data + field::reserved) != 0)
		return std::string("reserved field is not zero");

	std::vector<uint8_t> bitmap(bytes.begin() + kHeaderSize, bytes.end());
	const unsigned used_bits_in_last_byte = identity.block_count % 8;
	if (used_bits_in_last_byte != 0 && (bitmap.back() >> used_bits_in_last_byte) != 0)
		return std::string("bits are set beyond the last block");
	return bitmap;
}

} // namespace httpcloop::present_record
