#pragma once
// Reading a cloop file's layout: its header (versions 2.0 and 4.0, at the start or, for
// cloop 4's "streaming" files, at the end) and its big-endian table of block offsets, with
// each block's compressor (cloop 4 keeps it in the top 4 bits of the block's offset).
// See docs/format.md, "Importing cloop files".

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop {

// The values are cloop 4's per-block flags (cloop.h); a cloop 2 file is all zlib.
enum class CloopCodec : uint8_t {
	zlib = 0,
	none = 1,
	xz = 2,
	lz4 = 3,
	lzo1x = 4,
};
std::string_view cloop_codec_name(CloopCodec codec);

struct CloopBlock {
	uint64_t offset = 0; // in the file
	uint32_t length = 0; // stored bytes
	CloopCodec codec = CloopCodec::zlib;
};

struct CloopIndex {
	static constexpr size_t kHeaderSize = 136; // 128 bytes of preamble, block size, count
	static constexpr uint32_t kMaxBlockSize = 16u << 20;
	// 16 Mi blocks (1 TiB in 64 KiB blocks) keep the index in 256 MiB; cloop's own tools
	// make far fewer.
	static constexpr uint32_t kMaxBlocks = 1u << 24;

	int version = 2;          // 2 or 4
	bool header_first = true; // false: cloop 4's header-last ("streaming") layout
	uint32_t block_size = 0;  // plaintext bytes per block, a multiple of 512
	std::vector<CloopBlock> blocks;

	uint64_t image_size() const { return static_cast<uint64_t>(block_size) * blocks.size(); }
	// The most stored bytes a block of block_size can take with any of cloop's codecs
	// (their worst cases are a few percent above the plaintext); longer blocks are refused
	// before anything is read or allocated for them.
	uint32_t max_stored_length() const { return block_size + block_size / 16 + 4096; }
};

// Reads and checks the header and offset table of a cloop file of `file_size` bytes;
// `read_at(out, offset)` fills `out` from the file (offset + out.size() <= file_size) or
// throws. Throws FormatError naming `what` and the first thing wrong: no cloop signature at
// the start or the end, a block size that is zero, not a multiple of 512 or above 16 MiB,
// no blocks or more than kMaxBlocks, a table that does not fit in the file, offsets out of order, inside the
// header or table, or past the end, an unknown compressor, a block longer than any codec
// makes it. Memory: 16 bytes per block.
using CloopReadAt = std::function<void(std::span<uint8_t> out, uint64_t offset)>;
CloopIndex read_cloop_index(const CloopReadAt& read_at, uint64_t file_size, const std::string& what);

} // namespace httpcloop
