#pragma once

#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>

namespace httpcloop {

// The input of mkimage: a regular file or a block device, opened read-only.
struct SourceFile {
	UniqueFd fd;
	uint64_t size = 0;
	bool regular = false;

	// Whether [offset, offset + length) lies in a hole of a sparse file (SEEK_DATA finds
	// no data there), so it reads as zeros and need not be read: a 64 GiB image with a
	// few GiB of data is made from its data alone. False where the file system cannot say
	// (then the block is read and found zero as before), and for block devices.
	// One lseek per block outside a hole already found, none inside one.
	bool range_is_hole(uint64_t offset, uint64_t length);

private:
	uint64_t hole_checked_from_ = 0; // [from, data_at) is known to be a hole
	uint64_t data_at_ = 0;
	bool seek_data_works_ = true;
};

// Throws Error for a missing, unreadable, empty, or unsupported (directory, pipe) source.
SourceFile open_source(const std::filesystem::path& path);

} // namespace httpcloop
