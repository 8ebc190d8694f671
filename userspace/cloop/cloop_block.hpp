#pragma once
// Decoding one cloop block with its compressor: zlib (RFC 1950, cloop 2 and 4), none, xz
// (one .xz stream), lz4 (one raw LZ4 block) and lzo1x (as cloop 4's kernel module reads
// them).

#include "cloop/cloop_index.hpp"

#include <cstdint>
#include <span>

namespace httpcloop {

// Decodes `stored` into `out_exact`. Throws CodecError unless `stored` is one well-formed
// stream (or, for `none`, plain bytes) of exactly out_exact.size() bytes. Never writes
// past out_exact. Thread-safe.
void decode_cloop_block(CloopCodec codec, std::span<const uint8_t> stored, std::span<uint8_t> out_exact);

} // namespace httpcloop
