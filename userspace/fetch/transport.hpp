#pragma once
// The fetch core's view of the network. BlockFetcher (fetch/block_fetcher.hpp) is the
// real one, libcurl; the unit tests of the fetch core (tests/unit/block_service_test.cpp)
// put a scripted one in its place, so that every policy the core applies on top of it —
// readahead, the transfers kept for demand reads, Range coalescing, failing over to
// another mirror, backoff, deadlines — is tested without a server and without waiting.
//
// Not thread-safe but for wakeup(): one thread (the event loop) owns a Transport.

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace httpcloop {

struct ByteRange {
	uint64_t offset = 0;
	uint64_t length = 0;
};

struct FetchRequest {
	uint64_t tag = 0; // the caller's, returned with the result
	std::string url;
	std::optional<ByteRange> range; // a Range request, or the whole file
	size_t expected_size = 0;       // the body must be exactly this long
	// Asks every cache between us and the server for a fresh copy ("Cache-Control:
	// no-cache", "Pragma: no-cache"): after bytes a proxy or CDN gave failed verification.
	bool bypass_caches = false;
};

struct FetchResult {
	uint64_t tag = 0;
	bool ok = false;
	// For a failure: true when the resource does not exist there (404, 410): asking the
	// same server again cannot help.
	bool not_found = false;
	std::string error;
	std::vector<uint8_t> body;
	std::chrono::duration<double> elapsed{};
	std::string effective_url; // after redirects
	bool redirected = false;
};

struct FetchCounters {
	uint64_t requests = 0; // transfers started
	uint64_t bytes = 0;    // body bytes received
	uint64_t errors = 0;   // transfers that failed
};

class Transport {
public:
	virtual ~Transport() = default;

	// Starts the transfer now (the caller keeps within its own limit of transfers).
	virtual void start(FetchRequest request) = 0;
	// Waits up to timeout_ms for network activity or one of `extra` fds (their revents
	// are filled in), then drives the transfers.
	virtual void poll(struct curl_waitfd* extra, unsigned extra_count, int timeout_ms) = 0;
	// Makes a poll() in progress return at once; callable from any thread.
	virtual void wakeup() = 0;
	// Transfers that finished since the last call.
	virtual std::vector<FetchResult> collect() = 0;
	// A body buffer back for reuse, and one handed out (empty, capacity kept).
	virtual void recycle(std::vector<uint8_t>&& buffer) = 0;
	virtual std::vector<uint8_t> spare_buffer() = 0;

	virtual size_t active() const = 0; // transfers started and not yet collected
	virtual const FetchCounters& counters() const = 0;
};

} // namespace httpcloop
