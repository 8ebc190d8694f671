#include "service/decode_pool.hpp"

#include "format/block_codec.hpp"
#include "crypto/sha256.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace httpcloop {

namespace {
// Jobs waiting for a worker. The event loop never has more blocks in flight than
// transfers, so this only bounds a burst; a full queue briefly blocks the loop.
constexpr size_t kQueueCapacity = 256;
} // namespace

DecodePool::DecodePool(const Manifest& manifest, CacheStore& cache, unsigned threads)
	: manifest_(manifest), cache_(cache), jobs_(kQueueCapacity),
	  notify_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
	if (!notify_fd_)
		throw_errno("eventfd");
	for (unsigned i = 0; i < std::max(threads, 1u); i++)
		workers_.emplace_back([this] { work(); });
}

DecodePool::~DecodePool()
{
	jobs_.close();
	workers_.clear(); // joins
}

void DecodePool::submit(DecodeJob job)
{
	job.submitted = std::chrono::steady_clock::now();
	jobs_.push(std::move(job));
}

void DecodePool::work()
{
	// One block-sized buffer per worker, allocated up front: the daemon must not need
	// new memory to make progress when the system is short of it.
	std::vector<uint8_t> plain(manifest_.block_size);
	while (std::optional<DecodeJob> job = jobs_.pop()) {
		using Clock = std::chrono::steady_clock;
		DecodeResult result{job->block, false, {}, false, job->source, {}, job->local.has_value(), {}};
		result.timing.waited = Clock::now() - job->submitted;
		try {
			std::span<uint8_t> scratch(plain.data(), manifest_.plain_size(job->block));
			std::span<const uint8_t> block =
				job->local ? copy_verified(job->block, *job->local, scratch)
					   : decode_block_view(manifest_, job->block, job->stored, scratch,
							       PlaintextCheck::by_stored_hash, &result.timing.decode);
			try {
				const auto writing = Clock::now();
				cache_.write_block(job->block, block);
				result.timing.cache_write = Clock::now() - writing;
				result.ok = true;
			} catch (const IoError& e) {
				result.cache_error = true;
				result.error = std::string("cannot keep the block in the cache: ") + e.what();
			}
		} catch (const std::exception& e) {
			result.error = e.what();
		}
		result.buffer = std::move(job->stored);
		result.timing.finished = Clock::now();
		{
			std::lock_guard lock(results_mutex_);
			results_.push_back(std::move(result));
		}
		uint64_t one = 1;
		[[maybe_unused]] ssize_t n = write(notify_fd_.get(), &one, sizeof(one));
	}
}

std::span<const uint8_t> DecodePool::copy_verified(uint64_t block, const SiblingBlocks::Source& from,
						    std::span<uint8_t> plain) const
{
	// Another cache's bytes are only as good as their hash: the same check as a download's.
	if (from.size != plain.size() ||
	    pread_full(from.data_fd, plain, from.offset, "another image's cache") != plain.size() ||
	    sha256(plain) != manifest_.blocks[block].plain_hash)
		throw IntegrityError("block " + std::to_string(block) +
				     ": the copy in another image's cache does not match its hash");
	return plain;
}

std::vector<DecodeResult> DecodePool::collect()
{
	uint64_t count;
	[[maybe_unused]] ssize_t n = read(notify_fd_.get(), &count, sizeof(count)); // non-blocking
	std::lock_guard lock(results_mutex_);
	return std::exchange(results_, {});
}

} // namespace httpcloop
