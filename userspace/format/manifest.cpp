#include "format/manifest.hpp"

#include "format/zero_block.hpp"
#include "util/error.hpp"
#include "util/little_endian.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace httpcloop {

namespace {

// Field offsets, from docs/format.md.
namespace header {
constexpr size_t magic = 0;
constexpr size_t format_version = 8;
constexpr size_t header_size = 12;
constexpr size_t image_size = 16;
constexpr size_t block_size = 24;
constexpr size_t codec = 28;
constexpr size_t hash_algo = 29;
constexpr size_t entry_size = 30;
constexpr size_t block_count = 32;
constexpr size_t flags = 40;
constexpr size_t reserved = 44;
constexpr size_t reserved_size = 20;
} // namespace header

namespace entry {
constexpr size_t stored_hash = 0;
constexpr size_t plain_hash = 32;
constexpr size_t stored_size = 64;
constexpr size_t flags = 68;
constexpr size_t pack_offset = 72;
} // namespace entry

constexpr size_t kFixedBytes = Manifest::kHeaderSize + Manifest::kChecksumSize;

std::string hex32(uint32_t value)
{
	static constexpr char digits[] = "0123456789abcdef";
	std::string text = "0x";
	bool started = false;
	for (int shift = 28; shift >= 0; shift -= 4) {
		unsigned digit = (value >> shift) & 0xf;
		if (digit != 0 || started || shift == 0) {
			text += digits[digit];
			started = true;
		}
	}
	return text;
}

[[noreturn]] void reject(const std::string& message)
{
	throw FormatError("invalid manifest: " + message);
}

[[noreturn]] void reject_block(uint64_t index, const std::string& message)
{
	reject("block " + std::to_string(index) + ": " + message);
}

bool is_zero(const Sha256& hash)
{
	return std::all_of(hash.begin(), hash.end(), [](uint8_t byte) { return byte == 0; });
}

// Expected file length for `block_count` entries, or nullopt-like max on overflow.
uint64_t expected_length(uint64_t block_count)
{
	constexpr uint64_t limit = (std::numeric_limits<uint64_t>::max() - kFixedBytes) / Manifest::kEntrySize;
	if (block_count > limit)
		return std::numeric_limits<uint64_t>::max();
	return kFixedBytes + block_count * Manifest::kEntrySize;
}

// What a parse needs to know about one plaintext size (full blocks, or the short last one).
struct SizeLimits {
	uint32_t plain_size;
	size_t compress_bound;
	Sha256 zero_hash;
};

SizeLimits limits_for(Codec codec, uint32_t plain_size)
{
	return {plain_size, compress_bound(codec, plain_size), zero_block_hash(plain_size)};
}

void validate_entry(const BlockEntry& block, uint64_t index, const SizeLimits& limits, bool packed)
{
	if ((block.flags & ~BlockEntry::kKnownFlags) != 0)
		reject_block(index, "unknown entry flags " + hex32(block.flags));
	if (block.pack_offset != 0 && (!packed || block.is_hole()))
		reject_block(index, packed ? "a hole with a pack offset" : "non-zero pack offset in a manifest that is not packed");
	// A pack is at most 2^62 bytes; no offset + size may wrap around.
	if (block.pack_offset > (uint64_t{1} << 62))
		reject_block(index, "pack offset out of range");
	if (block.is_hole()) {
		if (block.is_raw())
			reject_block(index, "a hole cannot also be raw");
		if (block.stored_size != 0)
			reject_block(index, "hole with non-zero stored size " + std::to_string(block.stored_size));
		if (!is_zero(block.stored_hash))
			reject_block(index, "hole with a non-zero stored hash");
		if (block.plain_hash != limits.zero_hash)
			reject_block(index, "hole whose plaintext hash is not that of zero bytes");
		return;
	}
	if (block.stored_size == 0)
		reject_block(index, "stored size 0 for a block that is not a hole");
	if (block.is_raw()) {
		if (block.stored_size != limits.plain_size)
			reject_block(index, "raw block with stored size " + std::to_string(block.stored_size) +
						    " differs from its plaintext size " + std::to_string(limits.plain_size));
		return;
	}
	if (block.stored_size > limits.compress_bound)
		reject_block(index, "stored size " + std::to_string(block.stored_size) + " is above the compress bound " +
					    std::to_string(limits.compress_bound) + " of its block");
}

} // namespace

uint64_t Manifest::block_count_for(uint64_t image_size, uint32_t block_size)
{
	return image_size / block_size + (image_size % block_size != 0 ? 1 : 0);
}

uint32_t Manifest::default_block_size(uint64_t image_size)
{
	uint32_t block_size = kDefaultBlockSize;
	while (block_size < kMaxBlockSize && block_count_for(image_size, block_size) > kDefaultMaxEntries)
		block_size *= 2;
	return block_size;
}

bool Manifest::is_valid_block_size(uint64_t block_size)
{
	return block_size >= kMinBlockSize && block_size <= kMaxBlockSize && (block_size & (block_size - 1)) == 0;
}

uint32_t Manifest::plain_size(uint64_t index) const
{
	if (index >= blocks.size())
		throw Error("block index " + std::to_string(index) + " is out of range (" +
			    std::to_string(blocks.size()) + " blocks)");
	uint64_t offset = block_offset(index);
	return static_cast<uint32_t>(std::min<uint64_t>(block_size, image_size - offset));
}

Manifest Manifest::parse(std::span<const uint8_t> bytes)
{
	const uint8_t* data = bytes.data();
	if (bytes.size() < sizeof kMagic)
		reject("truncated: " + std::to_string(bytes.size()) + " bytes");
	if (std::memcmp(data + header::magic, kMagic, sizeof kMagic) != 0)
		reject("bad magic (not an httpcloop manifest)");
	if (bytes.size() < kFixedBytes)
		reject("truncated: " + std::to_string(bytes.size()) + " bytes is shorter than a header and checksum (" +
		       std::to_string(kFixedBytes) + " bytes)");

	uint32_t version = load_le<uint32_t>(data + header::format_version);
	if (version != kFormatVersion)
		reject("unsupported format version " + std::to_string(version) + " (this httpcloop reads version " +
		       std::to_string(kFormatVersion) + ")");
	uint32_t header_size = load_le<uint32_t>(data + header::header_size);
	if (header_size != kHeaderSize)
		reject("unsupported header size " + std::to_string(header_size) + " (expected " +
		       std::to_string(kHeaderSize) + ")");
	uint16_t entry_size = load_le<uint16_t>(data + header::entry_size);
	if (entry_size != kEntrySize)
		reject("unsupported entry size " + std::to_string(entry_size) + " (expected " +
		       std::to_string(kEntrySize) + ")");

	Manifest manifest;
	manifest.image_size = load_le<uint64_t>(data + header::image_size);
	manifest.block_size = load_le<uint32_t>(data + header::block_size);
	if (!is_valid_block_size(manifest.block_size))
		reject("block size " + std::to_string(manifest.block_size) + " is not a power of two from " +
		       std::to_string(kMinBlockSize) + " to " + std::to_string(kMaxBlockSize));
	uint8_t codec_id = data[header::codec];
	std::optional<Codec> codec = codec_from_id(codec_id);
	if (!codec)
		reject("unknown codec " + std::to_string(codec_id));
	manifest.codec = *codec;
	uint8_t hash_algo = data[header::hash_algo];
	if (hash_algo != kHashSha256)
		reject("unknown hash algorithm " + std::to_string(hash_algo));
	manifest.flags = load_le<uint32_t>(data + header::flags);
	if ((manifest.flags & ~kFlagPacked) != 0)
		reject("unknown header flags " + hex32(manifest.flags));
	if (!std::all_of(data + header::reserved, data + header::reserved + header::reserved_size,
			 [](uint8_t byte) { return byte == 0; }))
		reject("reserved header bytes are not zero");
	if (manifest.image_size == 0)
		reject("image size is zero");

	uint64_t block_count = load_le<uint64_t>(data + header::block_count);
	uint64_t expected_count = block_count_for(manifest.image_size, manifest.block_size);
	if (block_count != expected_count)
		reject("block_count " + std::to_string(block_count) + " does not match image size " +
		       std::to_string(manifest.image_size) + " and block size " + std::to_string(manifest.block_size) +
		       " (expected " + std::to_string(expected_count) + ")");
	uint64_t expected_bytes = expected_length(block_count);
	if (bytes.size() != expected_bytes)
		reject("file length " + std::to_string(bytes.size()) + " does not match block_count " +
		       std::to_string(block_count) + " (expected " +
		       (expected_bytes == std::numeric_limits<uint64_t>::max() ? std::string("more than 2^64")
									       : std::to_string(expected_bytes)) +
		       " bytes)");
	if (block_count > kMaxBlockCount)
		reject("block_count " + std::to_string(block_count) + " exceeds the limit of " +
		       std::to_string(kMaxBlockCount));

	const size_t checked_length = bytes.size() - kChecksumSize;
	Sha256 checksum = sha256(bytes.first(checked_length));
	if (std::memcmp(checksum.data(), data + checked_length, kChecksumSize) != 0)
		reject("checksum mismatch (the file is corrupt or was modified)");

	const SizeLimits full = limits_for(manifest.codec, manifest.block_size);
	const SizeLimits last = limits_for(manifest.codec, static_cast<uint32_t>(
		manifest.image_size - (block_count - 1) * manifest.block_size));

	manifest.blocks.resize(block_count);
	const uint8_t* cursor = data + kHeaderSize;
	for (uint64_t index = 0; index < block_count; ++index, cursor += kEntrySize) {
		BlockEntry& block = manifest.blocks[index];
		std::memcpy(block.stored_hash.data(), cursor + entry::stored_hash, block.stored_hash.size());
		std::memcpy(block.plain_hash.data(), cursor + entry::plain_hash, block.plain_hash.size());
		block.stored_size = load_le<uint32_t>(cursor + entry::stored_size);
		block.flags = load_le<uint32_t>(cursor + entry::flags);
		block.pack_offset = load_le<uint64_t>(cursor + entry::pack_offset);
		validate_entry(block, index, index + 1 == block_count ? last : full, manifest.is_packed());
	}
	return manifest;
}

std::vector<uint8_t> Manifest::serialize() const
{
	if (!is_valid_block_size(block_size))
		throw Error("cannot serialize manifest: invalid block size " + std::to_string(block_size));
	if (image_size == 0)
		throw Error("cannot serialize manifest: image size is zero");
	uint64_t expected_count = block_count_for(image_size, block_size);
	if (blocks.size() != expected_count)
		throw Error("cannot serialize manifest: " + std::to_string(blocks.size()) + " entries for " +
			    std::to_string(expected_count) + " blocks");
	if (expected_count > kMaxBlockCount)
		throw Error("cannot serialize manifest: " + std::to_string(expected_count) +
			    " blocks exceed the limit of " + std::to_string(kMaxBlockCount));

	std::vector<uint8_t> bytes(expected_length(expected_count));
	uint8_t* data = bytes.data();
	std::memcpy(data + header::magic, kMagic, sizeof kMagic);
	store_le<uint32_t>(data + header::format_version, kFormatVersion);
	store_le<uint32_t>(data + header::header_size, kHeaderSize);
	store_le<uint64_t>(data + header::image_size, image_size);
	store_le<uint32_t>(data + header::block_size, block_size);
	data[header::codec] = static_cast<uint8_t>(codec);
	data[header::hash_algo] = kHashSha256;
	store_le<uint16_t>(data + header::entry_size, kEntrySize);
	store_le<uint64_t>(data + header::block_count, expected_count);
	store_le<uint32_t>(data + header::flags, flags);

	uint8_t* cursor = data + kHeaderSize;
	for (const BlockEntry& block : blocks) {
		std::memcpy(cursor + entry::stored_hash, block.stored_hash.data(), block.stored_hash.size());
		std::memcpy(cursor + entry::plain_hash, block.plain_hash.data(), block.plain_hash.size());
		store_le<uint32_t>(cursor + entry::stored_size, block.stored_size);
		store_le<uint32_t>(cursor + entry::flags, block.flags);
		store_le<uint64_t>(cursor + entry::pack_offset, block.pack_offset);
		cursor += kEntrySize;
	}
	const size_t checked_length = bytes.size() - kChecksumSize;
	Sha256 checksum = sha256(std::span(bytes).first(checked_length));
	std::memcpy(data + checked_length, checksum.data(), checksum.size());
	return bytes;
}

} // namespace httpcloop
