#pragma once
// What every front end that serves an image takes: where it is, where to cache it, how to
// fetch it, what to trust and what to fetch before it is read. `attach` and `mount-fuse`
// share these.

#include "cache/cache_store.hpp"
#include "crypto/sha256.hpp"
#include "fetch/block_fetcher.hpp"
#include "service/block_service.hpp"
#include "trust/trust.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace httpcloop {

struct ServeOptions {
	std::string url;
	std::vector<std::string> mirrors; // more base URLs serving the same image
	std::filesystem::path cache_dir = "/var/cache/httpcloop";
	bool foreground = false;
	unsigned max_attempts = 4;
	std::chrono::seconds block_deadline{120};
	bool readahead = true;
	FetchOptions fetch;
	TrustOptions trust; // --pubkey / --sha256 (and URL#sha256=): checked before anything is used
	bool verify_cache = false;            // --verify-cache: re-check the cache before use
	bool prefetch_all = false;            // --prefetch all
	std::filesystem::path profile;        // --profile: prefetch in this order first
	std::filesystem::path record_profile; // --record-profile
	int record_profile_directory = -1;    // its directory, if held open already (borrowed)

	// The URL and the mirrors, in order.
	std::vector<std::string> urls() const;
	ServiceOptions service_options(const Sha256& image_id) const;
};

// With --verify-cache: re-checks every cached block's plaintext hash and forgets the bad
// ones (a cache on untrusted storage), logging what it found.
void verify_cache_if_asked(CacheStore& cache, const Manifest& manifest, const ServeOptions& options);

// Queues what the options ask to fetch in the background: the profile's blocks (checked to
// belong to this image), then everything.
void start_background_work(BlockService& service, const ServeOptions& options, const Sha256& image_id);

} // namespace httpcloop
