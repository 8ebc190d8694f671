#pragma once

#include "format/manifest.hpp"

#include <cstdint>

namespace httpcloop {

// What a manifest says about its image, for people (`info`, the mkimage summary).
struct ImageStats {
	uint64_t blocks = 0;
	uint64_t holes = 0;
	uint64_t raw_blocks = 0;            // stored uncompressed (counted per block, not per file)
	uint64_t unique_stored_blocks = 0;  // distinct block files
	uint64_t unique_stored_bytes = 0;   // bytes of those files: what a mirror holds
	uint64_t total_stored_bytes = 0;    // bytes a full download would fetch without dedup

	// image_size / unique_stored_bytes (0 when nothing is stored).
	double compression_ratio(uint64_t image_size) const;
};

ImageStats compute_stats(const Manifest& manifest);

} // namespace httpcloop
