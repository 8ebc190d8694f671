#pragma once
// The persistent local cache of one image (docs/format.md, "Client cache directory"):
// DIR/<image-id>/{data,present,lock,manifest}, and where the other images' caches in DIR
// hold blocks that this image lacks (siblings()).
//
// State of a block:  absent --write_block+mark_written--> queued --commit--> durable.
// is_present() is true for queued and durable blocks (their plaintext is in `data` and
// readable), and for holes, which read as zeros from the sparse file and are never
// written. Only durable bits reach the on-disk record, and they get there only after the
// data has been fdatasync()ed, so a crash never leaves a bit set for unwritten data.
// Dropping a CacheStore does not commit: call commit() first to keep queued blocks.
//
// Thread-safety: all methods may be called concurrently (a mutex guards the bitmaps;
// block data is written with pwrite on a shared fd). Writing the same block from two
// threads at once is the caller's problem.

#include "cache/sibling_blocks.hpp"
#include "crypto/sha256.hpp"
#include "format/manifest.hpp"
#include "util/fd.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace httpcloop {

class CacheStore {
public:
	// Creates DIR/<id>/ (mode 0700) and its files as needed, takes the lock (throws Error
	// "cache … is in use by another httpcloop process" if another process holds it), and
	// refuses (IoError) a DIR/<id> that is a symbolic link, belongs to another user or is
	// writable by others, a DIR writable by all (without the sticky bit), and any of its
	// files that is a symbolic link. Then it
	// loads the present record, discarding it with a logged warning unless it matches the
	// manifest exactly.
	static CacheStore open(const std::filesystem::path& cache_dir, const Manifest& manifest,
			       const Sha256& manifest_id);
	// The same, with DIR already open as `cache_dir_fd` (`cache_dir` names it in
	// messages): for a daemon restarted where DIR's path no longer leads to it.
	static CacheStore open_in_directory(int cache_dir_fd, const std::filesystem::path& cache_dir,
					    const Manifest& manifest, const Sha256& manifest_id);

	CacheStore(CacheStore&&) noexcept;
	CacheStore& operator=(CacheStore&&) noexcept;
	~CacheStore();

	bool is_present(uint64_t index) const;
	uint64_t present_count() const;
	uint64_t block_count() const { return block_count_; }

	// Writes the block's plaintext (exactly its plain size) at its offset in `data`.
	// Holes are not written (they are present from the start).
	void write_block(uint64_t index, std::span<const uint8_t> plain);
	// Records that block `index` has been written; it becomes present now and durable
	// at the next commit().
	void mark_written(uint64_t index);
	// fdatasync()s the data, then sets the queued bits in the on-disk record and
	// fdatasync()s it. If a sync fails, the cache has failed for good (throws Error):
	// Linux reports a lost write once per file and may have dropped the data, so a later
	// sync that succeeds proves nothing. The blocks of that commit stop being present,
	// no bit is ever recorded again, and commit() does nothing from then on.
	void commit();
	// The message of the failed sync that ended this cache, or empty.
	std::string failure() const;
	size_t pending_commit() const;
	// An upgrade in place (`httpcloop restart`): commits, then stops writing the record
	// (commit() keeps queued blocks queued) and releases the lock, so that the new
	// daemon can open the cache while this one still answers the kernel. Blocks written
	// afterwards go to `data` only; the new daemon fetches them again at worst.
	void hand_over();
	// Undoes hand_over() when the new daemon failed: takes the lock again and commits.
	// Throws Error if another process holds the lock by now.
	void take_back();
	// Drops a block whose cached plaintext failed re-verification: clears its bit on disk
	// (synced) and in memory, so it is fetched again. Only while nothing serves the cache.
	void forget(uint64_t index);

	// Blocks this image lacks that other images' caches in the same directory hold, found
	// when the cache was opened (each to be verified before use).
	SiblingBlocks& siblings() { return siblings_; }

	// The plaintext file, image_size bytes, for the kernel to read present blocks from.
	int data_fd() const { return data_fd_.get(); }
	const std::filesystem::path& directory() const { return directory_; }

	// Present blocks (queued and durable, holes included), one bit per block, bit i in
	// bit i%8 of byte i/8. A copy, so it is safe while other threads keep writing.
	std::vector<uint8_t> present_bitmap() const;
	// The bitmap as it is on disk (durable blocks only). Valid until the next commit();
	// do not call concurrently with commit().
	std::span<const uint8_t> bitmap_bytes() const { return durable_; }

private:
	CacheStore() = default;
	void load_or_reset_record(const Manifest& manifest, const Sha256& manifest_id, bool data_size_matches);
	void write_fresh_record(const Manifest& manifest, const Sha256& manifest_id);
	void check_index(uint64_t index) const;
	// Ends the cache after a failed sync (see commit()): `lost` stop being present.
	[[noreturn]] void fail(const std::vector<uint64_t>& lost, const std::string& why);

	std::filesystem::path directory_;
	uint64_t image_size_ = 0;
	uint32_t block_size_ = 0;
	uint64_t block_count_ = 0;
	UniqueFd directory_fd_; // DIR/<id>: every file is opened relative to it, never by link
	UniqueFd lock_fd_;
	UniqueFd data_fd_;
	UniqueFd record_fd_;

	// In a unique_ptr so CacheStore can move; guards everything below it.
	std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
	std::vector<uint8_t> holes_;   // bit set: the block is a hole
	std::vector<uint8_t> present_; // readable now: holes, queued and durable blocks
	std::vector<uint8_t> durable_; // exactly the record's bitmap on disk
	std::vector<uint64_t> pending_; // queued for the next commit
	bool handed_over_ = false;      // hand_over(): the record is another process's now
	std::string failure_;           // set by a failed sync: nothing is recorded any more
	uint64_t present_count_ = 0;
	SiblingBlocks siblings_; // filled by open, then used by the service's thread only
};

} // namespace httpcloop
