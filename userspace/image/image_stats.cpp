#include "image/image_stats.hpp"

#include <algorithm>

namespace httpcloop {

double ImageStats::compression_ratio(uint64_t image_size) const
{
	return unique_stored_bytes == 0 ? 0.0 : static_cast<double>(image_size) / static_cast<double>(unique_stored_bytes);
}

ImageStats compute_stats(const Manifest& manifest)
{
	ImageStats stats;
	stats.blocks = manifest.block_count();
	// Sorting pointers finds the distinct names without a hash table of 32-byte keys.
	std::vector<const BlockEntry*> stored;
	stored.reserve(manifest.blocks.size());
	for (const BlockEntry& block : manifest.blocks) {
		if (block.is_hole()) {
			++stats.holes;
			continue;
		}
		if (block.is_raw())
			++stats.raw_blocks;
		stats.total_stored_bytes += block.stored_size;
		stored.push_back(&block);
	}
	std::sort(stored.begin(), stored.end(),
		  [](const BlockEntry* a, const BlockEntry* b) { return a->stored_hash < b->stored_hash; });
	for (size_t i = 0; i < stored.size(); ++i) {
		if (i > 0 && stored[i]->stored_hash == stored[i - 1]->stored_hash)
			continue;
		++stats.unique_stored_blocks;
		stats.unique_stored_bytes += stored[i]->stored_size;
	}
	return stats;
}

} // namespace httpcloop
