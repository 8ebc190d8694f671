#pragma once
// `httpcloop import-cloop`: a cloop file (the compressed images of KNOPPIX and of
// HTTP-FUSE CLOOP) turned into a published httpcloop image, one cloop block at a time,
// without writing the uncompressed image anywhere.

#include "codec/codec.hpp"
#include "format/manifest.hpp"
#include "image/image_stats.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>

namespace httpcloop {

struct ImportCloopOptions {
	std::filesystem::path source;
	std::filesystem::path output_dir;
	// Default: the cloop file's block size when the format allows it (a power of two from
	// 64K to 4M), else Manifest::default_block_size() for the image's size.
	std::optional<uint32_t> block_size;
	Codec codec = Codec::zlib;
	int level = 6;
	bool pack = false;
};

struct ImportCloopProgress {
	uint64_t bytes_decoded = 0; // of the image
	uint64_t image_size = 0;
};

struct ImportCloopResult {
	int cloop_version = 2;
	uint32_t cloop_block_size = 0;
	uint64_t cloop_blocks = 0;
	uint64_t kept_streams = 0;     // cloop zlib blocks stored as they were (not holes, not raw)
	uint64_t reencoded_blocks = 0; // image blocks compressed anew
	Manifest manifest;
	Sha256 manifest_id{};
	ImageStats stats;
	uint64_t new_block_files = 0;
	uint64_t pack_size = 0;
};

// Reads the cloop file's index (every offset checked before anything is written), then
// each block in order: decoded (and so checked) with its compressor, and stored. A zlib
// block keeps its bytes when the image's codec is zlib and its block size is the cloop
// file's; every other block is compressed anew, and with another block size the blocks'
// plaintext is regrouped in memory, one image block at a time. The image is
// block_size * block count bytes, as cloop serves it. OUTDIR/manifest is written last:
// on any error (FormatError for the index, CodecError naming the block that does not
// decode) there is no image; block files written before the error stay, unnamed by any
// manifest, as after an interrupted mkimage.
ImportCloopResult import_cloop(const ImportCloopOptions& options,
			       const std::function<void(const ImportCloopProgress&)>& on_progress = {});

} // namespace httpcloop
