#pragma once
// The fetch / verify / decompress / cache core that both front ends serve from: the
// kernel daemon (`attach`) and the FUSE variant (`mount-fuse`).
//
// request(block) makes a block present in the cache: at once if it is cached, else by
// downloading its block file (libcurl multi, retries with backoff), verifying and
// decompressing it on the decode pool, and writing the plaintext into the cache file.
// The completion callback then reports the block ready or failed, exactly once per
// fetch however often it was requested meanwhile.
//
// Single-threaded: every method but wakeup() belongs to the thread that runs the loop
// (poll + process). Other threads hand it work through their own queue and wakeup().

#include "cache/cache_store.hpp"
#include "fetch/block_fetcher.hpp"
#include "format/manifest.hpp"
#include "service/decode_pool.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

namespace httpcloop {

struct ServiceOptions {
	std::string url;          // the image's base URL
	unsigned max_attempts = 4; // per block, before it is reported failed
	FetchOptions fetch;
};

struct ServiceStats {
	uint64_t requests = 0;         // request() calls
	uint64_t blocks_fetched = 0;   // downloaded, verified and cached
	uint64_t blocks_failed = 0;    // given up after max_attempts
	uint64_t integrity_errors = 0; // downloads that failed verification or decoding
	uint64_t in_flight = 0;        // blocks being fetched now
	FetchCounters http;
};

class BlockService {
public:
	// `error` is empty when the block is present.
	using Completion = std::function<void(uint64_t block, std::string_view error)>;

	// `manifest` and `cache` must outlive the service.
	BlockService(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache,
		     Completion on_complete);
	BlockService(const BlockService&) = delete;
	BlockService& operator=(const BlockService&) = delete;

	// Makes `block` present; completes at once (inside this call) if it already is.
	void request(uint64_t block);

	// Waits up to max_timeout_ms for the network, the decode pool, a retry timer or one
	// of `extra` (whose revents are filled in).
	void poll(curl_waitfd* extra, unsigned extra_count, int max_timeout_ms);
	// Handles whatever poll() found: finished downloads and decodes, due retries, and
	// the periodic commit of the cache record.
	void process();
	// Records every written block durably now (at shutdown).
	void flush();
	// Interrupts poll() from any thread.
	void wakeup();

	ServiceStats stats() const;
	const Manifest& manifest() const { return manifest_; }
	CacheStore& cache() { return cache_; }

private:
	using Clock = std::chrono::steady_clock;

	void start_download(uint64_t block);
	void attempt_failed(uint64_t block, const std::string& error, bool retryable);
	void commit_if_due(bool force);

	ServiceOptions options_;
	const Manifest& manifest_;
	CacheStore& cache_;
	Completion on_complete_;
	BlockFetcher fetcher_;
	DecodePool decoder_;

	std::unordered_map<uint64_t, unsigned> attempts_; // blocks being fetched: attempts so far
	std::multimap<Clock::time_point, uint64_t> retries_;
	Clock::time_point last_commit_ = Clock::now();
	std::mt19937 random_;
	ServiceStats stats_;
};

} // namespace httpcloop
