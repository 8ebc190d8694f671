#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace httpcloop {

// Replaces `path` with `bytes` so that readers and crashes see either the old file or the
// complete new one: write a temporary file beside it, fsync, rename, fsync the directory.
void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes, unsigned mode = 0644);

} // namespace httpcloop
