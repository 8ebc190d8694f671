#pragma once
// The options mkimage and import-cloop share: block size, codec and level.

#include "codec/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace httpcloop::cli {

// --block-size: a power of two from 64K to 4M. Throws UsageError.
uint32_t parse_block_size_option(const char* argument);
// --codec: zstd or zlib. Throws UsageError.
Codec parse_codec_option(const char* argument);
// --level, checked against the codec chosen (whatever the order of the options); the
// codec's default without one. Throws UsageError.
int level_option(const std::optional<std::string>& text, Codec codec);

} // namespace httpcloop::cli
