#pragma once
// Whole small files (CA bundles, boot profiles) read into memory with a size bound, so a
// wrong path (a device, a huge file) gives a clear error instead of eating memory.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace httpcloop {

// The bytes of the regular file `path`, at most `limit` of them. Throws IoError naming
// `what` and the path when it cannot be read, is not a regular file or is larger.
std::string read_small_file(const std::filesystem::path& path, size_t limit, std::string_view what);

} // namespace httpcloop
