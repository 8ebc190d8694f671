#include "image/mkimage.hpp"

#include "format/block_codec.hpp"
#include "image/block_file_writer.hpp"
#include "image/cache_hints.hpp"
#include "image/pack_writer.hpp"
#include "image/source_file.hpp"
#include "util/atomic_file.hpp"
#include "util/bounded_queue.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

namespace httpcloop {

namespace {

struct BlockJob {
	uint64_t index = 0;
	size_t length = 0;
	std::vector<uint8_t> buffer; // block_size bytes, recycled through the free list
	bool hole = false;           // a hole of the source file: not read, `buffer` unused
};

// Keeps the first exception thrown by any thread; later ones are consequences.
class FirstFailure {
public:
	void record(std::exception_ptr error)
	{
		std::lock_guard lock(mutex_);
		if (!error_)
			error_ = std::move(error);
		failed_ = true;
	}
	bool failed() const { return failed_; }
	void rethrow_if_failed()
	{
		std::lock_guard lock(mutex_);
		if (error_)
			std::rethrow_exception(error_);
	}

private:
	std::mutex mutex_;
	std::exception_ptr error_;
	std::atomic<bool> failed_{false};
};

void validate(const MkimageOptions& options)
{
	if (options.block_size != 0 && !Manifest::is_valid_block_size(options.block_size))
		throw Error("block size " + std::to_string(options.block_size) + " is not a power of two from 64K to 4M");
	if (options.level < min_level(options.codec) || options.level > max_level(options.codec))
		throw Error(std::string(codec_name(options.codec)) + " level " + std::to_string(options.level) +
			    " is out of range " + std::to_string(min_level(options.codec)) + ".." +
			    std::to_string(max_level(options.codec)));
}

void sync_file_system(const std::filesystem::path& directory)
{
	UniqueFd fd = open_or_throw(directory.string(), O_RDONLY | O_DIRECTORY);
	if (::syncfs(fd.get()) != 0)
		throw_errno("cannot sync the file system of " + directory.string());
}

} // namespace

MkimageResult make_image(const MkimageOptions& options, const std::function<void(const MkimageProgress&)>& on_progress)
{
	validate(options);
	SourceFile source = open_source(options.source);
	const uint32_t block_size = options.block_size != 0 ? options.block_size : Manifest::default_block_size(source.size);
	const uint64_t block_count = Manifest::block_count_for(source.size, block_size);
	if (block_count > Manifest::kMaxBlockCount)
		throw Error(options.source.string() + " needs " + std::to_string(block_count) +
			    " blocks, above the manifest limit of " + std::to_string(Manifest::kMaxBlockCount) +
			    "; use a larger block size");
	// Pack mode writes no block files (and makes no blocks/ directory).
	std::optional<BlockFileWriter> writer;
	if (!options.pack)
		writer.emplace(options.output_dir);

	MkimageResult result;
	Manifest& manifest = result.manifest;
	manifest.image_size = source.size;
	manifest.block_size = block_size;
	manifest.codec = options.codec;
	manifest.blocks.resize(block_count);
	std::optional<PackWriter> pack;
	if (options.pack) {
		manifest.flags |= Manifest::kFlagPacked;
		pack.emplace(options.output_dir, manifest.blocks);
	}

	const unsigned threads = options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
	// Two blocks per worker in flight keeps every worker busy while the reader runs ahead,
	// and bounds memory to a few blocks per core.
	const size_t in_flight = 2 * threads + 1;
	BoundedQueue<std::vector<uint8_t>> free_buffers(in_flight);
	for (size_t i = 0; i < in_flight; ++i)
		free_buffers.push(std::vector<uint8_t>(block_size));
	BoundedQueue<BlockJob> jobs(in_flight);
	FirstFailure failure;
	std::atomic<uint64_t> new_files{0}, new_bytes{0};

	auto encode_jobs = [&] {
		while (std::optional<BlockJob> job = jobs.pop()) {
			if (!failure.failed()) {
				try {
					EncodedBlock block = job->hole ? encode_hole(job->length)
									 : encode_block(options.codec, options.level,
											std::span(job->buffer).first(job->length));
					if (pack) {
						pack->add(job->index, std::move(block));
					} else {
						if (!block.entry.is_hole() &&
						    writer->write_if_absent(block.entry.stored_hash, block.stored)) {
							++new_files;
							new_bytes += block.stored.size();
						}
						manifest.blocks[job->index] = block.entry; // each index has one writer
					}
				} catch (...) {
					failure.record(std::current_exception());
					if (pack)
						pack->abort(); // nobody waits for a block that will not come
				}
			}
			free_buffers.push(std::move(job->buffer));
		}
	};

	{
		std::vector<std::jthread> workers;
		for (unsigned i = 0; i < threads; ++i)
			workers.emplace_back(encode_jobs);
		// Declared after the workers, so it runs first on every exit path and lets them finish.
		struct CloseOnExit {
			BoundedQueue<BlockJob>& queue;
			~CloseOnExit() { queue.close(); }
		} close_jobs{jobs};

		try {
			MkimageProgress progress{0, source.size};
			for (uint64_t index = 0; index < block_count && !failure.failed(); ++index) {
				BlockJob job;
				job.index = index;
				job.buffer = std::move(*free_buffers.pop()); // never closed, workers always return buffers
				const size_t length = manifest.plain_size(index);
				job.length = length;
				job.hole = source.range_is_hole(manifest.block_offset(index), length);
				if (!job.hole)
					pread_exact(source.fd.get(), std::span(job.buffer).first(length),
						    manifest.block_offset(index), options.source.string());
				jobs.push(std::move(job));
				progress.bytes_read += length;
				if (on_progress)
					on_progress(progress);
			}
		} catch (...) {
			failure.record(std::current_exception());
		}
	}
	failure.rethrow_if_failed();

	// Block files (or the pack) must be on disk before the manifest that names them.
	if (pack) {
		pack->commit();
		result.pack_size = pack->size();
	}
	result.manifest_id = publish_manifest(options.output_dir, manifest);
	result.stats = compute_stats(manifest);
	result.new_block_files = new_files;
	result.new_block_bytes = new_bytes;
	return result;
}

Sha256 publish_manifest(const std::filesystem::path& output_dir, const Manifest& manifest)
{
	write_cache_hints(output_dir);
	sync_file_system(output_dir);
	const std::vector<uint8_t> manifest_bytes = manifest.serialize();
	write_file_atomically(output_dir / "manifest", manifest_bytes);
	return sha256(manifest_bytes);
}

} // namespace httpcloop
