#include "service/block_service.hpp"

#include "fetch/http_get.hpp"
#include "format/block_name.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <thread>

namespace httpcloop {

namespace {
// Written blocks are fdatasync'ed and recorded at least this often, and after this many.
constexpr auto kCommitInterval = std::chrono::seconds(1);
constexpr size_t kCommitBatch = 64;
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(100);
} // namespace

BlockService::BlockService(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache,
			   Completion on_complete)
	: options_(options), manifest_(manifest), cache_(cache), on_complete_(std::move(on_complete)),
	  fetcher_(options.fetch), decoder_(manifest, cache, std::max(2u, std::thread::hardware_concurrency())),
	  random_(std::random_device{}())
{
}

void BlockService::request(uint64_t block)
{
	stats_.requests++;
	if (block >= manifest_.block_count()) {
		on_complete_(block, "block " + std::to_string(block) + " is beyond the end of the image");
		return;
	}
	if (cache_.is_present(block)) {
		on_complete_(block, {});
		return;
	}
	if (attempts_.count(block))
		return; // already on its way
	attempts_[block] = 0;
	start_download(block);
}

void BlockService::start_download(uint64_t block)
{
	attempts_[block]++;
	const BlockEntry& entry = manifest_.blocks[block];
	fetcher_.start(block, join_url(options_.url, block_relpath(entry.stored_hash)), entry.stored_size);
}

void BlockService::attempt_failed(uint64_t block, const std::string& error, bool retryable)
{
	unsigned attempts = attempts_[block];
	if (retryable && attempts < options_.max_attempts) {
		// Exponential backoff with jitter, so that many failing blocks do not retry in step.
		auto delay = kFirstRetryDelay * (1u << (attempts - 1));
		delay += std::chrono::milliseconds(
			std::uniform_int_distribution<int>(0, static_cast<int>(delay.count() / 2))(random_));
		log_warning("block " + std::to_string(block) + ": " + error + "; retrying");
		retries_.emplace(Clock::now() + delay, block);
		return;
	}
	std::string message = "block " + std::to_string(block) + " failed after " + std::to_string(attempts) +
			      (attempts == 1 ? " attempt: " : " attempts: ") + error;
	log_error(message);
	attempts_.erase(block);
	stats_.blocks_failed++;
	on_complete_(block, message);
}

void BlockService::poll(curl_waitfd* extra, unsigned extra_count, int max_timeout_ms)
{
	// Our own descriptor (the decode pool's) after the caller's.
	constexpr unsigned kMaxExtra = 16;
	curl_waitfd fds[kMaxExtra + 1];
	extra_count = std::min(extra_count, kMaxExtra);
	std::copy(extra, extra + extra_count, fds);
	fds[extra_count] = {decoder_.notify_fd(), CURL_WAIT_POLLIN, 0};

	auto timeout = std::chrono::milliseconds(std::max(max_timeout_ms, 0));
	if (!retries_.empty()) {
		auto until = std::chrono::duration_cast<std::chrono::milliseconds>(retries_.begin()->first - Clock::now());
		timeout = std::clamp(until, std::chrono::milliseconds(0), timeout);
	}
	if (cache_.pending_commit() > 0)
		timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(kCommitInterval));
	fetcher_.poll(fds, extra_count + 1, static_cast<int>(timeout.count()));
	std::copy(fds, fds + extra_count, extra);
}

void BlockService::process()
{
	for (FetchResult& result : fetcher_.collect()) {
		if (result.ok)
			decoder_.submit({result.block, std::move(result.body)});
		else
			attempt_failed(result.block, result.error, result.retryable);
	}
	for (const DecodeResult& result : decoder_.collect()) {
		if (!result.ok) {
			stats_.integrity_errors++;
			attempt_failed(result.block, result.error, true);
			continue;
		}
		cache_.mark_written(result.block);
		attempts_.erase(result.block);
		stats_.blocks_fetched++;
		on_complete_(result.block, {});
	}
	const auto now = Clock::now();
	while (!retries_.empty() && retries_.begin()->first <= now) {
		uint64_t block = retries_.begin()->second;
		retries_.erase(retries_.begin());
		start_download(block);
	}
	commit_if_due(false);
}

void BlockService::flush()
{
	commit_if_due(true);
}

void BlockService::wakeup()
{
	fetcher_.wakeup();
}

void BlockService::commit_if_due(bool force)
{
	size_t pending = cache_.pending_commit();
	if (pending == 0)
		return;
	if (force || pending >= kCommitBatch || Clock::now() - last_commit_ >= kCommitInterval) {
		try {
			cache_.commit();
		} catch (const Error& e) {
			// The blocks stay readable; they are only not recorded, so they are fetched
			// again after a restart.
			log_error(std::string("cannot record cached blocks: ") + e.what());
		}
		last_commit_ = Clock::now();
	}
}

ServiceStats BlockService::stats() const
{
	ServiceStats stats = stats_;
	stats.in_flight = attempts_.size();
	stats.http = fetcher_.counters();
	return stats;
}

} // namespace httpcloop
