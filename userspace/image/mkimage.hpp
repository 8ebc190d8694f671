#pragma once
// Building a published image (manifest + block files) from a file or block device.

#include "codec/codec.hpp"
#include "crypto/sha256.hpp"
#include "format/manifest.hpp"
#include "image/image_stats.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>

namespace httpcloop {

struct MkimageOptions {
	std::filesystem::path source;
	std::filesystem::path output_dir;
	uint32_t block_size = 0; // 0: Manifest::default_block_size() for the source's size
	Codec codec = Codec::zstd;
	int level = 3;
	unsigned threads = 0; // encoder threads; 0 = one per core
	bool pack = false;    // one blocks.pack instead of one file per block
};

struct MkimageProgress {
	uint64_t bytes_read = 0;
	uint64_t total_bytes = 0;
};

struct MkimageResult {
	Manifest manifest;
	Sha256 manifest_id{}; // SHA-256 of the manifest file: the image id
	ImageStats stats;
	uint64_t new_block_files = 0; // files written now (the rest already existed)
	uint64_t new_block_bytes = 0;
	uint64_t pack_size = 0; // bytes in blocks.pack (pack mode)
};

// Reads the source in block order, encodes blocks on `threads` workers with a bounded
// number of blocks in flight, writes each new block file, syncs, and writes
// OUTDIR/manifest last, atomically. `on_progress` is called from the calling thread.
// Throws Error on bad options or any I/O failure; the manifest is then not written.
MkimageResult make_image(const MkimageOptions& options,
			 const std::function<void(const MkimageProgress&)>& on_progress = {});

// The last step of building an image (mkimage, import-cloop): writes the caching hints
// for Apache (image/cache_hints.hpp), syncs OUTDIR's file system, so that every block file
// (or the pack) is on disk before the manifest that names them, then writes
// OUTDIR/manifest atomically. Returns the manifest's SHA-256, the image id.
Sha256 publish_manifest(const std::filesystem::path& output_dir, const Manifest& manifest);

} // namespace httpcloop
