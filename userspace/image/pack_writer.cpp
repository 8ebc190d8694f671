#include "image/pack_writer.hpp"

#include "util/error.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace httpcloop {

namespace {
// Finished blocks kept while an earlier one is still being encoded.
constexpr size_t kMaxWaiting = 64;
} // namespace

PackWriter::PackWriter(const std::filesystem::path& output_dir, std::vector<BlockEntry>& entries)
	: final_path_(output_dir / "blocks.pack"),
	  temp_path_(output_dir / (".blocks.pack.tmp." + std::to_string(::getpid()))), entries_(entries)
{
	std::error_code error;
	std::filesystem::create_directories(output_dir, error);
	if (error)
		throw IoError("cannot create output directory " + output_dir.string() + ": " + error.message());
	fd_ = open_or_throw(temp_path_.string(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

PackWriter::~PackWriter()
{
	if (!committed_)
		::unlink(temp_path_.c_str());
}

void PackWriter::add(uint64_t index, EncodedBlock block)
{
	std::unique_lock lock(mutex_);
	room_.wait(lock, [&] { return aborted_ || index == next_ || waiting_.size() < kMaxWaiting; });
	if (aborted_)
		return;
	waiting_.emplace(index, std::move(block));
	write_in_order(lock);
}

void PackWriter::write_in_order(std::unique_lock<std::mutex>&)
{
	for (auto it = waiting_.find(next_); it != waiting_.end(); it = waiting_.find(next_)) {
		EncodedBlock& block = it->second;
		BlockEntry entry = block.entry;
		if (!entry.is_hole()) {
			auto [known, inserted] = offsets_.try_emplace(entry.stored_hash, size_);
			if (inserted) {
				pwrite_all(fd_.get(), block.stored, size_, temp_path_.string());
				size_ += block.stored.size();
			}
			entry.pack_offset = known->second;
		}
		entries_[next_] = entry;
		waiting_.erase(it);
		next_++;
	}
	room_.notify_all();
}

void PackWriter::abort()
{
	std::lock_guard lock(mutex_);
	aborted_ = true;
	room_.notify_all();
}

void PackWriter::commit()
{
	std::lock_guard lock(mutex_);
	if (next_ != entries_.size() || !waiting_.empty())
		throw Error("internal error: the pack is missing blocks");
	if (::fsync(fd_.get()) != 0)
		throw_errno("cannot sync " + temp_path_.string());
	if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
		throw_errno("cannot rename " + temp_path_.string() + " to " + final_path_.string());
	committed_ = true;
}

} // namespace httpcloop
