#pragma once
// `httpcloop prefetch URL --cache DIR`: fill an image's cache without serving it, so that
// a later attach or mount-fuse works with the network gone.

#include "service/serve_options.hpp"

#include <cstdint>
#include <functional>

namespace httpcloop {

struct PrefetchOutcome {
	uint64_t blocks_total = 0;
	uint64_t blocks_cached = 0;
	uint64_t blocks_failed = 0;
};

// Runs until every block is cached or has failed; `on_progress(cached, total)` is called
// as blocks arrive.
PrefetchOutcome prefetch_into_cache(const ServeOptions& options,
				    const std::function<void(uint64_t cached, uint64_t total)>& on_progress);

} // namespace httpcloop
