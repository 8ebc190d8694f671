#pragma once
// What every front end that serves an image takes: where it is, where to cache it, how to
// fetch it and what to trust. `attach` and `mount-fuse` share these.

#include "fetch/block_fetcher.hpp"
#include "service/block_service.hpp"
#include "trust/trust.hpp"

#include <filesystem>
#include <string>

namespace httpcloop {

struct ServeOptions {
	std::string url;
	std::filesystem::path cache_dir = "/var/cache/httpcloop";
	bool foreground = false;
	unsigned max_attempts = 4;
	FetchOptions fetch;
	TrustOptions trust; // --pubkey / --sha256 (and URL#sha256=): checked before anything is used

	ServiceOptions service_options() const { return {url, max_attempts, fetch}; }
};

} // namespace httpcloop
