#pragma once
// The HTTP transport of the fetch engine: many GETs in flight on one libcurl multi handle,
// driven by the caller's event loop (start() queues, poll() waits, collect() returns what
// finished). Connections are kept alive and reused, HTTP/2 streams multiplexed where the
// server offers them. Which URL to fetch, from which mirror and when to retry is the
// fetch core's business (service/block_service), not this class's.
//
// Every body is bounded by the size the caller expects, so a hostile or broken server
// cannot make us buffer more; a Range request must be answered with 206 and exactly the
// Content-Range asked for, and a 200 (the whole file) is refused at its first byte.
//
// Not thread-safe: one thread (the event loop) owns a BlockFetcher.

#include "fetch/curl_handle.hpp"
#include "fetch/transport.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
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
	std::string ca_file; // --cacert: trust these CAs instead of the system's
	// A root file system's daemon outlives the initramfs it was started from: after
	// switch_root neither the CA file nor /etc/resolv.conf is reachable by path any more.
	// Then the CA file is read once, at start, and every host name stays resolved as it
	// was first resolved (libcurl's DNS cache never expires).
	bool resolve_once = false;
	// Taken before the daemon starts (fetch/restart_ready.hpp), so that a restarted
	// daemon needs neither path: the CA file's bytes, and CURLOPT_RESOLVE entries
	// ("HOST:PORT:ADDRESS,...") for the image's host names.
	std::shared_ptr<const std::string> ca_bundle;
	std::vector<std::string> pinned_addresses;
};

// The CA file's bytes (at most 16 MiB); throws Error if it cannot be read.
std::string read_ca_bundle(const std::string& path);

class BlockFetcher final : public Transport {
public:
	explicit BlockFetcher(const FetchOptions& options);
	~BlockFetcher() override;
	BlockFetcher(const BlockFetcher&) = delete;
	BlockFetcher& operator=(const BlockFetcher&) = delete;

	// Starts the transfer now (the scheduler keeps within max_parallel).
	void start(FetchRequest request) override;

	// Waits up to timeout_ms for network activity or one of `extra` fds (their revents
	// are filled in), then drives the transfers.
	void poll(struct curl_waitfd* extra, unsigned extra_count, int timeout_ms) override;
	// Makes a poll() in progress return at once; callable from any thread.
	void wakeup() override { curl_multi_wakeup(multi_.get()); }
	// Transfers that finished since the last call.
	std::vector<FetchResult> collect() override;

	// Body buffers are reused rather than freed: the daemon runs with its memory locked,
	// where a fresh block-sized buffer per transfer costs page faults (and zeroing) in
	// the hot path. recycle() takes a buffer back; spare_buffer() hands one out (empty,
	// capacity kept), or a new one when none is spare.
	void recycle(std::vector<uint8_t>&& buffer) override;
	std::vector<uint8_t> spare_buffer() override;

	size_t active() const override { return active_.size(); }
	const FetchCounters& counters() const override { return counters_; }

	struct Transfer; // one transfer's state; public for the libcurl callbacks

private:
	CurlEasy take_handle();

	FetchOptions options_;
	std::string ca_bundle_; // the CA file's bytes, read once (see FetchOptions::resolve_once)
	CurlList pinned_; // FetchOptions::pinned_addresses, for CURLOPT_RESOLVE
	CurlList no_cache_headers_; // for FetchRequest::bypass_caches
	CurlMulti multi_;
	std::vector<CurlEasy> idle_handles_; // reused: they keep connection state warm
	std::vector<std::unique_ptr<Transfer>> active_;
	std::vector<std::vector<uint8_t>> spare_buffers_;
	FetchCounters counters_;
};

} // namespace httpcloop
