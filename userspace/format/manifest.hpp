#pragma once
// The binary image manifest, format version 1 (docs/format.md, "Manifest, version 1").

#include "codec/codec.hpp"
#include "crypto/sha256.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace httpcloop {

struct BlockEntry {
	static constexpr uint32_t kFlagZero = 1u << 0; // hole: plaintext all zero, no block file
	static constexpr uint32_t kFlagRaw = 1u << 1;  // stored bytes are the plaintext
	static constexpr uint32_t kKnownFlags = kFlagZero | kFlagRaw;

	Sha256 stored_hash{}; // SHA-256 of the stored bytes (block file name); zero for a hole
	Sha256 plain_hash{};  // SHA-256 of the plaintext block
	uint32_t stored_size = 0;
	uint32_t flags = 0;
	uint64_t pack_offset = 0;

	bool is_hole() const { return (flags & kFlagZero) != 0; }
	bool is_raw() const { return (flags & kFlagRaw) != 0; }
};

class Manifest {
public:
	static constexpr char kMagic[8] = {'H', 'C', 'L', 'O', 'O', 'P', 'M', 'F'};
	static constexpr uint32_t kFormatVersion = 1;
	static constexpr uint32_t kHeaderSize = 64;
	static constexpr uint16_t kEntrySize = 80;
	static constexpr size_t kChecksumSize = 32;
	static constexpr uint8_t kHashSha256 = 1;
	static constexpr uint32_t kFlagPacked = 1u << 0; // blocks live in BASE/blocks.pack

	static constexpr uint32_t kMinBlockSize = 64 * 1024;
	static constexpr uint32_t kMaxBlockSize = 4 * 1024 * 1024;
	static constexpr uint32_t kDefaultBlockSize = 128 * 1024;

	// Upper bound on a manifest file we are willing to load or download: 512 MiB holds
	// 6.7 million entries (400 GiB at 64 KiB blocks, 1.6 TiB at 256 KiB blocks).
	static constexpr size_t kMaxManifestBytes = 512u * 1024 * 1024;
	static constexpr uint64_t kMaxBlockCount = (kMaxManifestBytes - kHeaderSize - kChecksumSize) / kEntrySize;

	// Parses and fully validates untrusted bytes; throws FormatError naming the first
	// problem. Allocates only after the length has been checked against block_count.
	static Manifest parse(std::span<const uint8_t> bytes);

	// Throws Error if the manifest is inconsistent (wrong entry count, bad block size).
	std::vector<uint8_t> serialize() const;

	uint64_t block_count() const { return blocks.size(); }
	// Plaintext bytes in block `index`: block_size, except for a short last block.
	uint32_t plain_size(uint64_t index) const;
	uint64_t block_offset(uint64_t index) const { return index * block_size; }
	bool is_packed() const { return (flags & kFlagPacked) != 0; }

	// ceil(image_size / block_size) without overflow.
	static uint64_t block_count_for(uint64_t image_size, uint32_t block_size);
	// mkimage's block size when none is asked for: kDefaultBlockSize, the best of 64, 128
	// and 256 KiB over every workload and link in `make bench-sweep` (smaller blocks make a
	// random miss cheaper, larger ones sequential reads over a slow round trip), or for a
	// larger image the smallest size that keeps the manifest within kDefaultMaxEntries
	// entries (32 MiB, all of it in the daemon's locked memory): 128 KiB up to 50 GiB,
	// twice that for each doubling of the image, 4 MiB from 800 GiB on (beyond 1.6 TiB the
	// manifest grows past kDefaultMaxEntries: 4 MiB is the format's largest block).
	static constexpr uint64_t kDefaultMaxEntries = 400 * 1024;
	static uint32_t default_block_size(uint64_t image_size);
	static bool is_valid_block_size(uint64_t block_size);

	uint64_t image_size = 0;
	uint32_t block_size = kDefaultBlockSize;
	Codec codec = Codec::zstd;
	uint32_t flags = 0;
	std::vector<BlockEntry> blocks;
};

} // namespace httpcloop
