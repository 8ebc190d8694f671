#pragma once
// The fetch / verify / decompress / cache core that both front ends serve from: the
// kernel daemon (`attach`) and the FUSE variant (`mount-fuse`).
//
// request(block) makes a block present in the cache: at once if it is cached, else by
// fetching its stored bytes from one of the mirrors, verifying and decompressing them on
// the decode pool, and writing the plaintext into the cache file. The completion callback
// then reports the block ready or failed, exactly once per fetch however often it was
// requested meanwhile.
//
// Three kinds of work share the transfers, in strict order of priority:
//   demand     blocks a reader waits for;
//   readahead  blocks after a sequential run of demand reads, fetched before they are read;
//   background prefetch (all blocks, or a boot profile's, in order), for offline use.
// A few transfers are always kept free for demand reads, so readahead and prefetch never
// delay a reader. With a packed image, neighbouring blocks are fetched with one Range
// request. Failed transfers go to another mirror at once, or are retried after an
// exponential backoff with jitter, until a block runs out of attempts or of its deadline.
//
// Single-threaded: every method but wakeup() belongs to the thread that runs the loop
// (poll + process). Other threads hand it work through their own queue and wakeup().

#include "cache/cache_store.hpp"
#include "fetch/block_fetcher.hpp"
#include "format/manifest.hpp"
#include "service/decode_pool.hpp"
#include "service/mirror_set.hpp"
#include "util/atomic_file.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace httpcloop {

struct ServiceOptions {
	std::vector<std::string> urls;        // the image's base URL, then its mirrors
	unsigned max_attempts = 4;            // per block (more when there are more mirrors)
	std::chrono::seconds block_deadline{120}; // a block that is not in by then has failed
	FetchOptions fetch;
	unsigned readahead_max_bytes = 8 * 1024 * 1024; // 0: no readahead
	uint64_t max_range_bytes = 4 * 1024 * 1024;     // longest coalesced Range request
	std::filesystem::path record_profile;  // write the order of first reads here
	int record_profile_directory = -1;     // its directory, if held open already (borrowed)
	bool continue_profile = false;         // a daemon taking over: extend the profile there
	std::string image_id_hex;              // goes into the profile
};

// Where the time of reads that missed the cache went: sums over the demand misses that
// were downloaded in one attempt, each a read's own (not joined to a readahead or a
// prefetch already under way). The rest of such a read's latency is the round trip
// between the reader and the daemon (the kernel's netlink, or FUSE).
struct MissTimes {
	uint64_t count = 0;
	std::chrono::nanoseconds queued{};      // waiting for a free transfer
	std::chrono::nanoseconds http{};        // the request until its body was in the event loop
	std::chrono::nanoseconds decode_wait{}; // waiting for a decode worker
	std::chrono::nanoseconds hash{};        // SHA-256 of the stored bytes
	std::chrono::nanoseconds decompress{};
	std::chrono::nanoseconds cache_write{};
	std::chrono::nanoseconds completion{}; // the worker's result to the reader told
};

// What the core takes from its surroundings. Empty members mean the real thing; the
// fetch core's unit tests put a scripted network and a clock they move by hand here.
struct ServiceEnvironment {
	std::unique_ptr<Transport> transport; // default: a BlockFetcher with ServiceOptions::fetch
	std::function<std::chrono::steady_clock::time_point()> now; // default: steady_clock::now
	std::optional<uint32_t> random_seed; // the backoff's jitter; default: random_device
};

struct ServiceStats {
	uint64_t requests = 0;          // demand requests
	uint64_t blocks_fetched = 0;    // downloaded, verified and cached
	uint64_t blocks_reused = 0;     // copied from another image's cache, verified
	uint64_t local_mismatches = 0;  // such copies that did not verify (then downloaded)
	uint64_t blocks_failed = 0;     // given up
	uint64_t integrity_errors = 0;  // downloads that failed verification or decoding
	uint64_t cache_errors = 0;      // verified blocks the cache could not take (disk full, I/O error)
	uint64_t in_flight = 0;         // blocks being fetched now
	uint64_t readahead_blocks = 0;  // fetched by readahead
	uint64_t readahead_joined = 0;  // demanded while readahead was already fetching them
	uint64_t background_blocks = 0; // fetched by prefetch or a profile
	bool prefetching = false;       // background work left
	std::string cache_failure;      // why the cache failed for good (a lost write), or empty
	FetchCounters http;
	MissTimes misses;
	std::vector<std::pair<std::string, MirrorStats>> mirrors;
};

class BlockService {
public:
	// `error` is empty when the block is present.
	using Completion = std::function<void(uint64_t block, std::string_view error)>;

	// `manifest` and `cache` must outlive the service.
	BlockService(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache,
		     Completion on_complete, ServiceEnvironment environment = {});
	BlockService(const BlockService&) = delete;
	BlockService& operator=(const BlockService&) = delete;

	// Makes `block` present; completes at once (inside this call) if it already is.
	void request(uint64_t block);
	// Fetches every missing block in the background, in order.
	void prefetch_all();
	// Fetches these blocks in the background, in this order, before prefetch_all's.
	void prefetch(std::span<const uint64_t> blocks);

	// Waits up to max_timeout_ms for the network, the decode pool, a retry timer or one
	// of `extra` (whose revents are filled in).
	void poll(curl_waitfd* extra, unsigned extra_count, int max_timeout_ms);
	// Handles whatever poll() found: finished downloads and decodes, due retries, new
	// transfers, and the periodic commit of the cache record.
	void process();
	// Records every written block durably now, and the profile if one is recorded.
	void flush();
	// Interrupts poll() from any thread.
	void wakeup();

	ServiceStats stats() const;
	const Manifest& manifest() const { return manifest_; }
	CacheStore& cache() { return cache_; }

private:
	using Clock = std::chrono::steady_clock;
	enum class Priority : uint8_t { demand = 0, readahead = 1, background = 2 };
	enum class Phase : uint8_t { queued, transferring, decoding, waiting_retry };

	struct BlockState {
		Priority priority = Priority::demand;
		Phase phase = Phase::queued;
		bool demanded = false; // someone waits: report a failure
		unsigned attempts = 0;
		Clock::time_point deadline;
		std::vector<bool> failed_on;  // mirrors that failed it since the last round
		std::vector<bool> missing_on; // mirrors that do not have it (404, 410)
		std::string last_error;
		// Its bytes failed verification once: every later request asks the caches on
		// the way (a proxy, a CDN) for a fresh copy instead of the one they keep.
		bool bypass_caches = false;
		// A read's own miss (enqueued as demand): its stages count in ServiceStats::misses.
		bool own_miss = false;
		Clock::time_point enqueued;
		Clock::time_point transfer_started;
		Clock::time_point fetched;
	};
	struct Transfer {
		size_t mirror = 0;
		std::vector<uint64_t> blocks;
		uint64_t offset = 0; // in the pack, for a Range request
	};

	bool enqueue(uint64_t block, Priority priority);
	void follow_sequential_reads(uint64_t block);
	std::optional<uint64_t> next_queued(Priority priority);
	std::optional<uint64_t> next_background();
	void dispatch();
	void start_transfer(uint64_t block);
	void start_local_copy(uint64_t block, const SiblingBlocks::Source& source);
	void on_fetched(FetchResult& result);
	void on_decoded(DecodeResult& result);
	void attempt_failed(uint64_t block, size_t mirror, const std::string& error, bool not_found);
	void finish(uint64_t block, const std::string& error);
	void fail_unstarted();
	void record_first_read(uint64_t block);
	void save_profile();
	void continue_profile();
	void commit_if_due(bool force);

	ServiceOptions options_;
	const Manifest& manifest_;
	CacheStore& cache_;
	Completion on_complete_;
	MirrorSet mirrors_;
	std::unique_ptr<Transport> fetcher_;
	std::function<Clock::time_point()> now_;
	DecodePool decoder_;
	unsigned max_attempts_;
	unsigned demand_reserve_; // transfers only demand reads may use

	std::unordered_map<uint64_t, BlockState> blocks_; // blocks being fetched
	std::array<std::deque<uint64_t>, 3> queues_;     // by priority; stale entries skipped
	std::deque<uint64_t> profile_queue_;
	bool prefetch_all_ = false;
	uint64_t prefetch_cursor_ = 0;
	std::unordered_map<uint64_t, Transfer> transfers_;
	uint64_t next_tag_ = 1;
	std::multimap<Clock::time_point, uint64_t> retries_;
	unsigned local_copies_ = 0; // on the decode pool, from other images' caches

	uint64_t readahead_next_ = UINT64_MAX; // the block a sequential reader asks for next
	uint64_t readahead_window_ = 0;        // blocks to read ahead now
	uint64_t readahead_max_ = 0;

	std::vector<uint64_t> profile_;        // first reads, in order
	std::vector<bool> profiled_;
	AnchoredFile profile_file_; // where record_profile goes, its directory opened at start
	bool profile_dirty_ = false;

	Clock::time_point last_commit_; // set by the constructor, from now_
	std::mt19937 random_;
	ServiceStats stats_;
	std::string cache_failure_; // CacheStore::failure() once a commit found it failed
};

} // namespace httpcloop
