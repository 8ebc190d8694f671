#include "fuse/service_thread.hpp"

#include "util/log.hpp"

#include <algorithm>
#include <vector>

namespace httpcloop {

ServiceThread::ServiceThread(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache)
	: cache_(cache),
	  service_(options, manifest, cache, [this](uint64_t block, std::string_view error) { on_block_done(block, error); })
{
}

ServiceThread::~ServiceThread()
{
	if (thread_.joinable()) {
		thread_.request_stop();
		service_.wakeup();
		thread_.join();
	}
	service_.flush();
}

void ServiceThread::start(std::optional<ControlServer> control, ControlHandler handler,
			  std::function<void(BlockService&)> on_start)
{
	control_ = std::move(control);
	control_handler_ = std::move(handler);
	thread_ = std::jthread([this, on_start = std::move(on_start)](std::stop_token stop) { run(stop, on_start); });
}

void ServiceThread::run(std::stop_token stop, const std::function<void(BlockService&)>& on_start)
{
	if (on_start) {
		try {
			on_start(service_);
		} catch (const std::exception& e) {
			log_error(e.what());
		}
	}
	std::vector<uint64_t> requests;
	while (!stop.stop_requested()) {
		std::vector<curl_waitfd> control_fds;
		if (control_)
			for (int fd : control_->fds())
				control_fds.push_back({fd, CURL_WAIT_POLLIN, 0});
		service_.poll(control_fds.data(), static_cast<unsigned>(control_fds.size()), 1000);
		{
			std::lock_guard lock(mutex_);
			requests.swap(inbox_);
		}
		for (uint64_t block : requests)
			service_.request(block);
		requests.clear();
		service_.process();
		if (std::any_of(control_fds.begin(), control_fds.end(), [](const curl_waitfd& fd) { return fd.revents != 0; }))
			control_->serve(control_handler_);
	}
}

void ServiceThread::on_block_done(uint64_t block, std::string_view error)
{
	std::lock_guard lock(mutex_);
	auto found = waiting_.find(block);
	if (found == waiting_.end())
		return;
	found->second.done = true;
	found->second.error = error;
	done_.notify_all();
}

bool ServiceThread::wait_present(uint64_t first, uint64_t last, std::chrono::seconds timeout, std::string& error)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	std::unique_lock lock(mutex_);
	// Register every missing block first, so that they are all fetched in parallel.
	std::vector<uint64_t> mine;
	bool queued = false;
	for (uint64_t block = first; block <= last; block++) {
		if (cache_.is_present(block))
			continue;
		Waiting& waiting = waiting_[block]; // references stay valid while the entry exists
		if (waiting.waiters == 0 && !waiting.done) {
			inbox_.push_back(block);
			queued = true;
		}
		waiting.waiters++;
		mine.push_back(block);
	}
	if (queued) {
		lock.unlock();
		service_.wakeup();
		lock.lock();
	}

	bool ok = true;
	for (uint64_t block : mine) {
		Waiting& waiting = waiting_.at(block);
		if (ok) {
			bool arrived = done_.wait_until(lock, deadline, [&] { return waiting.done || cache_.is_present(block); });
			if (!arrived) {
				error = "block " + std::to_string(block) + " did not arrive within " +
					std::to_string(timeout.count()) + " s";
				ok = false;
			} else if (!cache_.is_present(block)) {
				error = waiting.error.empty() ? "block " + std::to_string(block) + " failed" : waiting.error;
				ok = false;
			}
		}
		// The last waiter forgets the block, so that a later read fetches a failed one again.
		if (--waiting.waiters == 0)
			waiting_.erase(block);
	}
	return ok;
}

} // namespace httpcloop
