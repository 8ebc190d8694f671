#pragma once
// zlib (RFC 1950) back end of codec.hpp.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace httpcloop::zlib_codec {

size_t bound(size_t plain_size);
std::vector<uint8_t> compress(int level, std::span<const uint8_t> plain);
void decompress(std::span<const uint8_t> stored, std::span<uint8_t> out_exact);

} // namespace httpcloop::zlib_codec
