#pragma once
// Blocks this image shares with the other images cached in the same cache directory
// (docs/format.md, "Client cache directory"): version 2 of an image starts from what
// version 1's cache holds instead of downloading it again, as LBCAS's local cache did.
//
// Each image's cache keeps a copy of its manifest (DIR/<id>/manifest, whose SHA-256 is
// the directory's name). scan() reads those of the other images, their present records
// and data files, and notes, for every block of this image that is neither cached nor a
// hole, where another cache may hold a block with the same plaintext hash and size: an
// index of what the other caches hold, looked up when a block is missed. Nothing
// found here is trusted: the caller reads those bytes and checks them against this
// image's plain_hash before it uses them (DecodePool), and forget()s a source that fails.
//
// Thread-safety: scan() and forget() belong to one thread; the descriptors a Source names
// stay open for the object's life and may be read from any thread.

#include "crypto/sha256.hpp"
#include "format/manifest.hpp"
#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

namespace httpcloop {

class SiblingBlocks {
public:
	// Where a block's plaintext may be: `size` bytes at `offset` of the file `data_fd`.
	struct Source {
		int data_fd = -1;
		uint64_t offset = 0;
		uint32_t size = 0;
	};

	// At most this many other images are looked at (the most recently used first), and
	// at most this many of their cached blocks indexed (16 bytes each): a cache directory
	// full of old or huge images can neither slow down every start nor fill the memory.
	static constexpr size_t kMaxImages = 16;
	static constexpr size_t kMaxIndexedBlocks = size_t{1} << 21;

	SiblingBlocks() = default;
	// Indexes the blocks that the other images' caches in `cache_dir` hold. An image whose
	// files are missing, damaged or not private to this user is skipped (logged unless it
	// simply has no manifest copy). `manifest` and `present` (this image's, one bit per
	// block) only say whether anything is missing and, for the log, how much is found.
	static SiblingBlocks scan(int cache_dir_fd, const std::filesystem::path& cache_dir, const Manifest& manifest,
				  const Sha256& own_id, std::span<const uint8_t> present);

	// Where a block with this plaintext hash and size may be found, unless forgotten.
	std::optional<Source> find(uint64_t block, const Sha256& plain_hash, uint32_t plain_size) const;
	// The source offered for `block` did not hold the right bytes: none is offered again.
	void forget(uint64_t block) { forgotten_.insert(block); }

	size_t images() const { return images_.size(); }

private:
	// A cached block of another image, by the first 8 bytes of its plaintext hash (a
	// match is verified with the whole hash by the reader, so a collision costs a download).
	struct Entry {
		uint64_t key = 0;
		uint64_t index = 0;
		bool operator<(const Entry& other) const { return key < other.key; }
	};
	struct Image {
		UniqueFd data;
		uint64_t image_size = 0;
		uint32_t block_size = 0;
		std::vector<Entry> entries; // sorted by key
	};

	std::vector<Image> images_;
	std::unordered_set<uint64_t> forgotten_;
};

} // namespace httpcloop
