#pragma once
// Downloads block files in parallel on one libcurl multi handle, driven by the
// daemon's event loop: start() queues a transfer, the loop waits in poll(),
// and collect() returns the transfers that finished. Connections are kept
// alive and reused across blocks. Bodies are bounded by the size the manifest
// promises, so a hostile server cannot make the daemon buffer more.
//
// Not thread-safe: one thread (the event loop) owns a BlockFetcher.

#include "fetch/curl_handle.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace httpcloop {

struct FetchOptions {
	unsigned max_parallel = 8;
	long connect_timeout_s = 10;
	long transfer_timeout_s = 60;
	// A transfer slower than low_speed_bytes/s for low_speed_time_s is a stall.
	long low_speed_bytes = 1024;
	long low_speed_time_s = 15;
};

struct FetchResult {
	uint64_t block = 0;
	bool ok = false;
	// For a failure: whether another attempt can help (a 404 or 410 cannot).
	bool retryable = true;
	std::string error;
	std::vector<uint8_t> body;
};

struct FetchCounters {
	uint64_t requests = 0; // transfers started
	uint64_t bytes = 0;    // body bytes received
	uint64_t errors = 0;   // transfers that failed
};

class BlockFetcher {
public:
	explicit BlockFetcher(const FetchOptions& options);
	~BlockFetcher();
	BlockFetcher(const BlockFetcher&) = delete;
	BlockFetcher& operator=(const BlockFetcher&) = delete;

	// Queues a GET of `url`, whose body must be exactly `expected_size` bytes.
	void start(uint64_t block, std::string url, size_t expected_size);

	// Waits up to timeout_ms for network activity or one of `extra` fds (their revents
	// are filled in), then drives the transfers.
	void poll(struct curl_waitfd* extra, unsigned extra_count, int timeout_ms);
	// Makes a poll() in progress return at once; callable from any thread.
	void wakeup() { curl_multi_wakeup(multi_.get()); }
	// Transfers that finished since the last call.
	std::vector<FetchResult> collect();

	size_t active() const { return active_.size() + queued_.size(); }
	const FetchCounters& counters() const { return counters_; }

	struct Transfer; // one block's download; public for the libcurl callbacks

private:
	void launch_queued();
	CurlEasy take_handle();

	FetchOptions options_;
	CurlMulti multi_;
	std::vector<CurlEasy> idle_handles_; // reused: they keep connection state warm
	std::vector<std::unique_ptr<Transfer>> active_;
	std::deque<std::unique_ptr<Transfer>> queued_;
	FetchCounters counters_;
};

} // namespace httpcloop
