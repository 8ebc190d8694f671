#include "service/block_service.hpp"

#include "fetch/http_get.hpp"
#include "format/block_name.hpp"
#include "service/boot_profile.hpp"
#include "util/atomic_file.hpp"
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
constexpr auto kLongestRetryDelay = std::chrono::seconds(10);
// Readahead starts this many blocks ahead and doubles with each further sequential read.
constexpr uint64_t kFirstReadahead = 2;
// Copies from other images' caches on the decode pool at once (each a block-sized read and
// hash): enough to keep its workers busy, few enough that the loop never waits to submit.
constexpr unsigned kMaxLocalCopies = 16;

std::vector<std::string> without_fragments(std::vector<std::string> urls)
{
	for (std::string& url : urls)
		url = url.substr(0, url.find('#'));
	return urls;
}
} // namespace

BlockService::BlockService(const ServiceOptions& options, const Manifest& manifest, CacheStore& cache,
			   Completion on_complete, ServiceEnvironment environment)
	: options_(options), manifest_(manifest), cache_(cache), on_complete_(std::move(on_complete)),
	  mirrors_(without_fragments(options.urls)),
	  fetcher_(environment.transport ? std::move(environment.transport)
					 : std::make_unique<BlockFetcher>(options.fetch)),
	  now_(environment.now ? std::move(environment.now) : [] { return Clock::now(); }),
	  decoder_(manifest, cache, std::max(2u, std::thread::hardware_concurrency())),
	  max_attempts_(std::max<unsigned>(options.max_attempts, static_cast<unsigned>(mirrors_.size()) + 1)),
	  demand_reserve_(std::max(1u, options.fetch.max_parallel / 4)),
	  random_(environment.random_seed ? *environment.random_seed : std::random_device{}())
{
	if (mirrors_.size() == 0)
		throw Error("no URL to fetch the image from");
	last_commit_ = now_();
	readahead_max_ = options.readahead_max_bytes / manifest.block_size;
	if (!options.record_profile.empty()) {
		profiled_.assign(manifest.block_count(), false);
		// Opened now: a root file system's daemon cannot reach it by path later.
		profile_file_ = options.record_profile_directory >= 0
					? AnchoredFile::in_directory(options.record_profile_directory, options.record_profile)
					: AnchoredFile(options.record_profile);
		if (options.continue_profile)
			continue_profile();
	}
}

bool BlockService::enqueue(uint64_t block, Priority priority)
{
	if (cache_.is_present(block) || blocks_.count(block))
		return false;
	BlockState& state = blocks_[block];
	state.priority = priority;
	state.demanded = priority == Priority::demand;
	state.own_miss = state.demanded;
	state.enqueued = now_();
	state.deadline = state.enqueued + options_.block_deadline;
	state.failed_on.assign(mirrors_.size(), false);
	state.missing_on.assign(mirrors_.size(), false);
	queues_[static_cast<size_t>(priority)].push_back(block);
	return true;
}

void BlockService::request(uint64_t block)
{
	stats_.requests++;
	if (block >= manifest_.block_count()) {
		on_complete_(block, "block " + std::to_string(block) + " is beyond the end of the image");
		return;
	}
	if (cache_.is_present(block)) {
		record_first_read(block);
		follow_sequential_reads(block);
		on_complete_(block, {});
		return;
	}
	if (!cache_failure_.empty()) {
		stats_.blocks_failed++;
		on_complete_(block, "block " + std::to_string(block) + " cannot be cached: " + cache_failure_);
		return;
	}
	record_first_read(block);
	follow_sequential_reads(block);
	auto found = blocks_.find(block);
	if (found != blocks_.end()) {
		// Already on its way (as readahead or prefetch): now someone waits for it.
		BlockState& state = found->second;
		if (state.priority == Priority::readahead)
			stats_.readahead_joined++;
		if (state.priority != Priority::demand) {
			state.priority = Priority::demand;
			state.demanded = true;
			if (state.phase == Phase::queued)
				queues_[0].push_front(block);
		}
		// Now (not at the next completion): it may take the transfers kept for demand
		// reads, and the readahead this read extended starts too.
		dispatch();
		return;
	}
	enqueue(block, Priority::demand);
	dispatch();
}

// Sequential demand reads open a readahead window that doubles with each further one;
// any other read closes it. Readahead only queues work; it never delays a demand read.
void BlockService::follow_sequential_reads(uint64_t block)
{
	if (readahead_max_ == 0)
		return;
	if (block == readahead_next_)
		readahead_window_ = std::min(readahead_window_ ? readahead_window_ * 2 : kFirstReadahead, readahead_max_);
	else if (block + 1 != readahead_next_) // a repeated request is no new information
		readahead_window_ = 0;
	readahead_next_ = block + 1;
	const uint64_t end = std::min(manifest_.block_count(), block + 1 + readahead_window_);
	for (uint64_t next = block + 1; next < end; next++)
		enqueue(next, Priority::readahead);
}

void BlockService::prefetch_all()
{
	prefetch_all_ = true;
	prefetch_cursor_ = 0;
	dispatch();
}

void BlockService::prefetch(std::span<const uint64_t> blocks)
{
	for (uint64_t block : blocks)
		if (block < manifest_.block_count())
			profile_queue_.push_back(block);
	dispatch();
}

std::optional<uint64_t> BlockService::next_queued(Priority priority)
{
	auto& queue = queues_[static_cast<size_t>(priority)];
	while (!queue.empty()) {
		uint64_t block = queue.front();
		queue.pop_front();
		auto found = blocks_.find(block);
		if (found != blocks_.end() && found->second.phase == Phase::queued && found->second.priority == priority)
			return block;
	}
	return std::nullopt;
}

std::optional<uint64_t> BlockService::next_background()
{
	if (std::optional<uint64_t> block = next_queued(Priority::background))
		return block;
	while (!profile_queue_.empty()) {
		uint64_t block = profile_queue_.front();
		profile_queue_.pop_front();
		if (enqueue(block, Priority::background))
			return next_queued(Priority::background);
	}
	while (prefetch_all_ && prefetch_cursor_ < manifest_.block_count()) {
		uint64_t block = prefetch_cursor_++;
		if (enqueue(block, Priority::background))
			return next_queued(Priority::background);
	}
	prefetch_all_ = false;
	return std::nullopt;
}

void BlockService::dispatch()
{
	if (!cache_failure_.empty()) {
		fail_unstarted();
		return;
	}
	const size_t limit = options_.fetch.max_parallel;
	while (fetcher_->active() < limit) {
		std::optional<uint64_t> block = next_queued(Priority::demand);
		// Readahead and prefetch leave a few transfers to demand reads.
		if (!block && fetcher_->active() + demand_reserve_ < limit) {
			block = next_queued(Priority::readahead);
			if (!block)
				block = next_background();
		}
		if (!block)
			return;
		const BlockEntry& entry = manifest_.blocks[*block];
		if (std::optional<SiblingBlocks::Source> source =
			    cache_.siblings().find(*block, entry.plain_hash, manifest_.plain_size(*block))) {
			if (local_copies_ >= kMaxLocalCopies) {
				// Back to the head of its queue; each copy that finishes dispatches again.
				queues_[static_cast<size_t>(blocks_.at(*block).priority)].push_front(*block);
				return;
			}
			start_local_copy(*block, *source);
			continue;
		}
		start_transfer(*block);
	}
}

// The block's plaintext from another image's cache, verified on the decode pool: no
// transfer, no mirror, no attempt counted.
void BlockService::start_local_copy(uint64_t block, const SiblingBlocks::Source& source)
{
	blocks_.at(block).phase = Phase::decoding;
	local_copies_++;
	decoder_.submit({block, {}, 0, source});
}

void BlockService::start_transfer(uint64_t block)
{
	BlockState& state = blocks_.at(block);
	std::vector<bool> excluded(mirrors_.size());
	for (size_t i = 0; i < excluded.size(); i++)
		excluded[i] = state.failed_on[i] || state.missing_on[i];
	std::optional<size_t> mirror = mirrors_.choose(excluded, now_());
	if (!mirror) {
		// Every mirror failed it this round: start another round with all that have it.
		std::fill(state.failed_on.begin(), state.failed_on.end(), false);
		mirror = mirrors_.choose(state.missing_on, now_());
	}
	if (!mirror) {
		finish(block, "block " + std::to_string(block) + " is missing on every mirror: " + state.last_error);
		return;
	}

	Transfer transfer{*mirror, {block}, 0};
	FetchRequest request;
	request.tag = next_tag_++;
	const BlockEntry& entry = manifest_.blocks[block];
	if (manifest_.is_packed()) {
		// One Range request for this block and the queued blocks that follow it in the pack.
		transfer.offset = entry.pack_offset;
		uint64_t end = entry.pack_offset + entry.stored_size;
		for (uint64_t next = block + 1; next < manifest_.block_count(); next++) {
			auto found = blocks_.find(next);
			const BlockEntry& next_entry = manifest_.blocks[next];
			if (found == blocks_.end() || found->second.phase != Phase::queued ||
			    found->second.failed_on[*mirror] || found->second.missing_on[*mirror] ||
			    next_entry.pack_offset != end || end + next_entry.stored_size - transfer.offset > options_.max_range_bytes)
				break;
			transfer.blocks.push_back(next);
			end += next_entry.stored_size;
		}
		request.url = join_url(mirrors_.base_url(*mirror), "blocks.pack");
		request.range = ByteRange{transfer.offset, end - transfer.offset};
		request.expected_size = end - transfer.offset;
	} else {
		request.url = join_url(mirrors_.base_url(*mirror), block_relpath(entry.stored_hash));
		request.expected_size = entry.stored_size;
	}
	const Clock::time_point now = now_();
	for (uint64_t member : transfer.blocks) {
		BlockState& member_state = blocks_.at(member);
		member_state.phase = Phase::transferring;
		member_state.transfer_started = now;
		member_state.attempts++;
		request.bypass_caches = request.bypass_caches || member_state.bypass_caches;
	}
	mirrors_.started(*mirror);
	transfers_.emplace(request.tag, std::move(transfer));
	fetcher_->start(std::move(request));
}

void BlockService::on_fetched(FetchResult& result)
{
	auto found = transfers_.find(result.tag);
	if (found == transfers_.end())
		return;
	Transfer transfer = std::move(found->second);
	transfers_.erase(found);
	if (!result.ok) {
		mirrors_.record_failure(transfer.mirror, now_());
		for (uint64_t block : transfer.blocks)
			attempt_failed(block, transfer.mirror, result.error, result.not_found);
		return;
	}
	mirrors_.record_success(transfer.mirror, result.body.size(), result.elapsed);
	const Clock::time_point now = now_();
	for (uint64_t block : transfer.blocks)
		blocks_.at(block).fetched = now;
	if (result.redirected && !manifest_.is_packed())
		mirrors_.remember_redirect(transfer.mirror,
					   join_url(mirrors_.base_url(transfer.mirror),
						    block_relpath(manifest_.blocks[transfer.blocks[0]].stored_hash)),
					   result.effective_url);
	if (transfer.blocks.size() == 1) {
		blocks_.at(transfer.blocks[0]).phase = Phase::decoding;
		decoder_.submit({transfer.blocks[0], std::move(result.body), transfer.mirror, std::nullopt});
		return;
	}
	for (uint64_t block : transfer.blocks) {
		const BlockEntry& entry = manifest_.blocks[block];
		const auto begin = result.body.begin() + static_cast<std::ptrdiff_t>(entry.pack_offset - transfer.offset);
		blocks_.at(block).phase = Phase::decoding;
		std::vector<uint8_t> stored = fetcher_->spare_buffer();
		stored.assign(begin, begin + entry.stored_size);
		decoder_.submit({block, std::move(stored), transfer.mirror, std::nullopt});
	}
	fetcher_->recycle(std::move(result.body));
}

void BlockService::on_decoded(DecodeResult& result)
{
	if (result.local) {
		local_copies_--;
		if (!result.ok && !result.cache_error) {
			// Another cache held other bytes (damaged, or changed under us): download it.
			log_warning(result.error + "; downloading it");
			cache_.siblings().forget(result.block);
			stats_.local_mismatches++;
			BlockState& state = blocks_.at(result.block);
			state.phase = Phase::queued;
			queues_[static_cast<size_t>(state.priority)].push_front(result.block);
			return;
		}
	} else {
		fetcher_->recycle(std::move(result.buffer));
	}
	if (!result.ok && result.cache_error) {
		// Not the server's fault, and another download would not fit either.
		if (stats_.cache_errors++ == 0)
			log_error(result.error + " (" + cache_.directory().native() +
				  "): blocks that do not fit cannot be read; free space or choose another --cache");
		finish(result.block, "block " + std::to_string(result.block) + ": " + result.error);
		return;
	}
	if (!result.ok) {
		stats_.integrity_errors++;
		// The server's file may be right and a cache on the way wrong (a proxy that kept a
		// damaged or an old copy): ask past them from now on.
		blocks_.at(result.block).bypass_caches = true;
		mirrors_.record_failure(result.source, now_());
		attempt_failed(result.block, result.source, result.error, false);
		return;
	}
	if (!cache_failure_.empty()) {
		finish(result.block, "block " + std::to_string(result.block) + " cannot be cached: " + cache_failure_);
		return;
	}
	cache_.mark_written(result.block);
	if (result.local)
		stats_.blocks_reused++;
	else
		stats_.blocks_fetched++;
	auto found = blocks_.find(result.block);
	const bool own_miss = found != blocks_.end() && found->second.own_miss && found->second.attempts == 1 &&
			      !result.local;
	if (found != blocks_.end()) {
		if (found->second.priority == Priority::readahead)
			stats_.readahead_blocks++;
		else if (found->second.priority == Priority::background)
			stats_.background_blocks++;
	}
	if (own_miss) {
		const BlockState& state = found->second;
		MissTimes& misses = stats_.misses;
		misses.count++;
		misses.queued += state.transfer_started - state.enqueued;
		misses.http += state.fetched - state.transfer_started;
		misses.decode_wait += result.timing.waited;
		misses.hash += result.timing.decode.hash;
		misses.decompress += result.timing.decode.decompress;
		misses.cache_write += result.timing.cache_write;
	}
	finish(result.block, {});
	if (own_miss)
		stats_.misses.completion += now_() - result.timing.finished;
}

// After the cache failed: blocks not yet on the wire fail now, and nothing new starts.
void BlockService::fail_unstarted()
{
	prefetch_all_ = false;
	profile_queue_.clear();
	for (auto& queue : queues_)
		queue.clear();
	std::vector<uint64_t> unstarted;
	for (const auto& [block, state] : blocks_)
		if (state.phase == Phase::queued || state.phase == Phase::waiting_retry)
			unstarted.push_back(block);
	for (uint64_t block : unstarted)
		finish(block, "block " + std::to_string(block) + " cannot be cached: " + cache_failure_);
}

void BlockService::attempt_failed(uint64_t block, size_t mirror, const std::string& error, bool not_found)
{
	BlockState& state = blocks_.at(block);
	state.last_error = error;
	(not_found ? state.missing_on : state.failed_on)[mirror] = true;
	const auto now = now_();
	const bool missing_everywhere = std::all_of(state.missing_on.begin(), state.missing_on.end(), [](bool b) { return b; });
	if (missing_everywhere || state.attempts >= max_attempts_ || now >= state.deadline) {
		std::string why = missing_everywhere ? "not found on any mirror"
				  : now >= state.deadline ? "no answer within " + std::to_string(options_.block_deadline.count()) + " s"
							  : "failed after " + std::to_string(state.attempts) + " attempts";
		finish(block, "block " + std::to_string(block) + " " + why + ": " + error);
		return;
	}
	bool another_mirror = false;
	for (size_t i = 0; i < mirrors_.size(); i++)
		another_mirror = another_mirror || (!state.failed_on[i] && !state.missing_on[i]);
	if (state.demanded)
		log_warning("block " + std::to_string(block) + ": " + error +
			    (another_mirror ? "; trying another mirror" : "; retrying"));
	if (another_mirror) {
		state.phase = Phase::queued;
		queues_[static_cast<size_t>(state.priority)].push_front(block);
		return;
	}
	// Every mirror failed it once: back off (exponential, with jitter so that many failing
	// blocks do not retry in step), never past the deadline.
	const unsigned rounds = std::min(state.attempts / static_cast<unsigned>(mirrors_.size()), 8u);
	auto delay = std::min<Clock::duration>(kFirstRetryDelay * (1u << (rounds > 0 ? rounds - 1 : 0)), kLongestRetryDelay);
	delay += std::chrono::milliseconds(std::uniform_int_distribution<int>(
		0, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count() / 2))(random_));
	state.phase = Phase::waiting_retry;
	retries_.emplace(std::min(now + delay, state.deadline), block);
}

void BlockService::finish(uint64_t block, const std::string& error)
{
	auto found = blocks_.find(block);
	const bool demanded = found == blocks_.end() || found->second.demanded;
	if (found != blocks_.end())
		blocks_.erase(found);
	if (!error.empty()) {
		stats_.blocks_failed++;
		if (!demanded)
			return; // a readahead or prefetch that failed: a later read asks again
		log_error(error);
	}
	on_complete_(block, error);
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
		auto until = std::chrono::duration_cast<std::chrono::milliseconds>(retries_.begin()->first - now_());
		timeout = std::clamp(until, std::chrono::milliseconds(0), timeout);
	}
	if (cache_.pending_commit() > 0)
		timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(kCommitInterval));
	fetcher_->poll(fds, extra_count + 1, static_cast<int>(timeout.count()));
	std::copy(fds, fds + extra_count, extra);
}

void BlockService::process()
{
	for (FetchResult& result : fetcher_->collect())
		on_fetched(result);
	for (DecodeResult& result : decoder_.collect())
		on_decoded(result);
	const auto now = now_();
	while (!retries_.empty() && retries_.begin()->first <= now) {
		uint64_t block = retries_.begin()->second;
		retries_.erase(retries_.begin());
		auto found = blocks_.find(block);
		if (found == blocks_.end() || found->second.phase != Phase::waiting_retry)
			continue;
		found->second.phase = Phase::queued;
		queues_[static_cast<size_t>(found->second.priority)].push_front(block);
	}
	dispatch();
	commit_if_due(false);
}

void BlockService::flush()
{
	commit_if_due(true);
	save_profile();
}

void BlockService::wakeup()
{
	fetcher_->wakeup();
}

void BlockService::record_first_read(uint64_t block)
{
	if (profiled_.empty() || profiled_[block])
		return;
	profiled_[block] = true;
	profile_.push_back(block);
	profile_dirty_ = true;
}

// A daemon that takes a device over goes on with its predecessor's profile instead of
// replacing it with the reads that come after the take-over.
void BlockService::continue_profile()
{
	try {
		std::optional<std::string> text = profile_file_.read(64u << 20);
		if (!text)
			return;
		for (uint64_t block : parse_profile(*text, options_.image_id_hex))
			if (block < profiled_.size() && !profiled_[block]) {
				profiled_[block] = true;
				profile_.push_back(block);
			}
	} catch (const Error& e) {
		log_warning("the boot profile recorded so far is not continued: " + std::string(e.what()));
	}
}

void BlockService::save_profile()
{
	if (options_.record_profile.empty() || !profile_dirty_)
		return;
	const std::string text = format_profile(options_.image_id_hex, profile_);
	try {
		profile_file_.write_atomically(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
		profile_dirty_ = false;
	} catch (const Error& e) {
		log_error(std::string("cannot write the boot profile: ") + e.what());
	}
}

void BlockService::commit_if_due(bool force)
{
	size_t pending = cache_.pending_commit();
	if (pending == 0)
		return;
	// Also as soon as nothing is being fetched: a system whose root this serves may power
	// off at any moment without a word to us (systemd spares the daemon, and the last
	// reads of a shutdown come just before it), and a block fetched but not recorded is
	// fetched again at the next boot.
	if (force || pending >= kCommitBatch || blocks_.empty() || now_() - last_commit_ >= kCommitInterval) {
		try {
			cache_.commit();
		} catch (const Error& e) {
			cache_failure_ = cache_.failure();
			if (cache_failure_.empty()) {
				// Not a lost write (the record could not be written): the blocks stay
				// readable, only not recorded, so they are fetched again after a restart.
				log_error(std::string("cannot record cached blocks: ") + e.what());
			} else {
				log_error("the cache " + cache_.directory().native() + " has failed: " + cache_failure_ +
					  ". Written blocks may be lost, so none is recorded any more; the blocks it "
					  "does not hold fail to read from now on. Check the disk, then detach and "
					  "attach again");
				dispatch();
			}
		}
		last_commit_ = now_();
		save_profile();
	}
}

ServiceStats BlockService::stats() const
{
	ServiceStats stats = stats_;
	stats.in_flight = blocks_.size();
	stats.http = fetcher_->counters();
	stats.prefetching = prefetch_all_ || !profile_queue_.empty() || !queues_[2].empty();
	stats.cache_failure = cache_failure_;
	const auto now = now_();
	for (size_t i = 0; i < mirrors_.size(); i++)
		stats.mirrors.emplace_back(mirrors_.base_url(i), mirrors_.stats(i, now));
	return stats;
}

} // namespace httpcloop
