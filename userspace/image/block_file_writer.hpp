#pragma once

#include "crypto/sha256.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <span>

namespace httpcloop {

// Publishes stored blocks under OUTDIR/blocks/ab/<hash>. Files are written under a
// temporary name and renamed, so a reader (or a crash) never sees a partial block file
// under its final name. Durability is the caller's job (mkimage syncs the file system once
// before it writes the manifest). Thread-safe.
class BlockFileWriter {
public:
	// Creates OUTDIR and OUTDIR/blocks; throws Error if OUTDIR is not writable.
	explicit BlockFileWriter(std::filesystem::path output_dir);

	// Writes the block unless this writer already handled that name or a file of that name
	// and size already exists (dedup within and across images). Returns true if it wrote a
	// new file.
	bool write_if_absent(const Sha256& stored_hash, std::span<const uint8_t> stored);

private:
	std::filesystem::path output_dir_;
	std::atomic<uint64_t> temp_counter_{0};
	// Names already claimed by this writer, so identical blocks encoded at the same time
	// on two threads are written once.
	std::mutex claimed_mutex_;
	std::set<Sha256> claimed_;
};

} // namespace httpcloop
