#pragma once
// Boot profiles: the order in which a system first read its image's blocks, recorded by
// `--record-profile` and replayed by `--profile` so that the next cold boot streams its
// working set instead of waiting for each miss. A text file:
//
//   httpcloop-profile 1
//   image <image id, 64 hex digits>
//   <block number>
//   ...

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace httpcloop {

std::string format_profile(const std::string& image_id_hex, const std::vector<uint64_t>& blocks);

// Throws FormatError for a file that is not a profile, or one recorded for another image.
std::vector<uint64_t> parse_profile(const std::string& text, const std::string& image_id_hex);
std::vector<uint64_t> load_profile(const std::filesystem::path& path, const std::string& image_id_hex);

} // namespace httpcloop
