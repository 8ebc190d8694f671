#pragma once

#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>

namespace httpcloop {

// The input of mkimage: a regular file or a block device, opened read-only.
struct SourceFile {
	UniqueFd fd;
	uint64_t size = 0;
};

// Throws Error for a missing, unreadable, empty, or unsupported (directory, pipe) source.
SourceFile open_source(const std::filesystem::path& path);

} // namespace httpcloop
