#pragma once
// Verifies, decompresses and writes downloaded blocks on worker threads, so the
// event loop keeps driving transfers while the other core does the hashing and
// inflating; and copies blocks from other images' caches, verified the same way. Results come back through an eventfd that sits in the loop's poll set.

#include "cache/cache_store.hpp"
#include "format/block_codec.hpp"
#include "format/manifest.hpp"
#include "util/bounded_queue.hpp"
#include "util/fd.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httpcloop {

struct DecodeJob {
	uint64_t block = 0;
	std::vector<uint8_t> stored;
	size_t source = 0; // the mirror it came from: blamed if it does not verify
	// Set instead of `stored`: copy the plaintext from another image's cache, checked
	// against the block's plain_hash.
	std::optional<SiblingBlocks::Source> local;
	std::chrono::steady_clock::time_point submitted{}; // set by submit()
};

// Where a job's time went (the daemon's miss-latency figures).
struct DecodeTiming {
	std::chrono::nanoseconds waited{}; // in the queue, until a worker took it
	DecodeTimes decode;                // hashing the stored bytes, decompressing
	std::chrono::nanoseconds cache_write{};
	std::chrono::steady_clock::time_point finished{}; // the result handed back
};

struct DecodeResult {
	uint64_t block = 0;
	bool ok = false;
	std::string error;
	// The bytes were right but could not be written to the cache (a full or failing
	// cache disk): the mirror is not to blame, and fetching again would not help.
	bool cache_error = false;
	size_t source = 0;
	std::vector<uint8_t> buffer; // the job's stored bytes' buffer, back for reuse
	bool local = false;          // a copy from another image's cache (DecodeJob::local)
	DecodeTiming timing;
};

class DecodePool {
public:
	// `manifest` and `cache` must outlive the pool.
	DecodePool(const Manifest& manifest, CacheStore& cache, unsigned threads);
	~DecodePool();
	DecodePool(const DecodePool&) = delete;
	DecodePool& operator=(const DecodePool&) = delete;

	void submit(DecodeJob job);
	// Readable while results are waiting.
	int notify_fd() const { return notify_fd_.get(); }
	std::vector<DecodeResult> collect();

private:
	void work();
	// `block`'s plaintext read from `from` into `plain`, if it matches plain_hash.
	std::span<const uint8_t> copy_verified(uint64_t block, const SiblingBlocks::Source& from,
					       std::span<uint8_t> plain) const;

	const Manifest& manifest_;
	CacheStore& cache_;
	BoundedQueue<DecodeJob> jobs_;
	UniqueFd notify_fd_;
	std::mutex results_mutex_;
	std::vector<DecodeResult> results_;
	std::vector<std::jthread> workers_;
};

} // namespace httpcloop
