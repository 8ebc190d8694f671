#pragma once
// Writes OUTDIR/blocks.pack for `mkimage --pack`: every unique stored block once, in block
// order (so that neighbouring blocks are neighbours in the pack, and a client can fetch a
// run of them with one Range request), for servers and object stores where millions of
// small files are a burden.
//
// Encoder threads finish blocks out of order; add() writes a block when it is the next in
// order and keeps later ones until then, waiting while too many are kept so that memory
// stays bounded. The pack is written under a temporary name and renamed by commit().

#include "format/block_codec.hpp"
#include "format/manifest.hpp"
#include "util/fd.hpp"

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

namespace httpcloop {

class PackWriter {
public:
	// `entries` (one per block) receive each block's entry with its pack offset.
	PackWriter(const std::filesystem::path& output_dir, std::vector<BlockEntry>& entries);
	~PackWriter();
	PackWriter(const PackWriter&) = delete;
	PackWriter& operator=(const PackWriter&) = delete;

	// Thread-safe. Returns once the block is written or queued behind an earlier one.
	void add(uint64_t index, EncodedBlock block);
	// Wakes and releases every waiting add(): after a failure elsewhere.
	void abort();
	// Syncs and renames the pack into place; all blocks must have been added.
	void commit();
	uint64_t size() const { return size_; }

private:
	void write_in_order(std::unique_lock<std::mutex>& lock);

	std::filesystem::path final_path_;
	std::filesystem::path temp_path_;
	UniqueFd fd_;
	std::vector<BlockEntry>& entries_;

	std::mutex mutex_;
	std::condition_variable room_;
	std::map<uint64_t, EncodedBlock> waiting_; // finished, not yet in order
	std::map<Sha256, uint64_t> offsets_;       // stored hash -> offset, for dedup
	uint64_t next_ = 0;
	uint64_t size_ = 0;
	bool aborted_ = false;
	bool committed_ = false;
};

} // namespace httpcloop
