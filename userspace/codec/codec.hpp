#pragma once
// Block compression. Each block is one self-contained stream (an RFC 1950 zlib stream or
// one zstd frame). Decompression is exact and bounded: the caller says how many bytes the
// block must decode to, and anything else is an error.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace httpcloop {

// Values are the manifest's codec field; never renumber.
enum class Codec : uint8_t {
	zlib = 1,
	zstd = 2,
};

std::optional<Codec> codec_from_name(std::string_view name);
std::string_view codec_name(Codec codec);
// Nullopt for a byte that is not a known codec.
std::optional<Codec> codec_from_id(uint8_t id);

int default_level(Codec codec);
int min_level(Codec codec);
int max_level(Codec codec);

// Largest stream the compressor can produce for `plain_size` input bytes (never below
// plain_size).
size_t compress_bound(Codec codec, size_t plain_size);

// Thread-safe; each thread keeps its own compression context.
std::vector<uint8_t> compress(Codec codec, int level, std::span<const uint8_t> plain);

// Decodes `stored` into `out_exact`. Throws CodecError unless `stored` is exactly one
// well-formed stream that decodes to exactly out_exact.size() bytes. Never writes past
// out_exact. Thread-safe.
void decompress(Codec codec, std::span<const uint8_t> stored, std::span<uint8_t> out_exact);

} // namespace httpcloop
