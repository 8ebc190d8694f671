#pragma once
// Runs a BlockService on a thread of its own, for front ends whose requests arrive on
// many threads (the FUSE variant). A reader calls wait_present(); the first reader of a
// missing block queues it for the service, later readers of the same block just wait
// for the same fetch. Cached blocks are never waited for here: the reader checks the
// cache first and reads it directly.
//
// The thread also answers the control socket (status), so that a busy reader never
// delays it.

#include "cache/cache_store.hpp"
#include "daemon/control_socket.hpp"
#include "service/block_service.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace httpcloop {

class ServiceThread {
public:
	using ControlHandler = std::function<std::string(std::string_view request)>;

	ServiceThread(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache);
	~ServiceThread(); // stops the thread and records what was cached
	ServiceThread(const ServiceThread&) = delete;
	ServiceThread& operator=(const ServiceThread&) = delete;

	// Starts the service loop, first calling `on_start` on the service thread (to queue
	// background work), and serving `control` (may be empty) with `handler`.
	void start(std::optional<ControlServer> control, ControlHandler handler,
		   std::function<void(BlockService&)> on_start = {});

	// Makes blocks first..last present, fetching the missing ones at once. Returns false
	// with `error` set when one of them failed or did not arrive within `timeout`.
	bool wait_present(uint64_t first, uint64_t last, std::chrono::seconds timeout, std::string& error);

	// The service itself, for status: only from the service thread (a control handler).
	BlockService& service() { return service_; }

private:
	struct Waiting {
		unsigned waiters = 0;
		bool done = false;
		std::string error;
	};

	void run(std::stop_token stop, const std::function<void(BlockService&)>& on_start);
	void on_block_done(uint64_t block, std::string_view error);

	CacheStore& cache_;
	BlockService service_;
	std::optional<ControlServer> control_;
	ControlHandler control_handler_;

	std::mutex mutex_; // guards inbox_ and waiting_
	std::condition_variable done_;
	std::vector<uint64_t> inbox_;
	std::unordered_map<uint64_t, Waiting> waiting_;
	std::jthread thread_;
};

} // namespace httpcloop
