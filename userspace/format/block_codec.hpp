#pragma once
// Turning plaintext blocks into stored blocks (mkimage) and back (every reader), with the
// checks that make a stored block trustworthy.

#include "codec/codec.hpp"
#include "crypto/sha256.hpp"
#include "format/manifest.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace httpcloop {

// Verifies and decodes block `index` into `plain_out`, which must be exactly
// manifest.plain_size(index) bytes. In order: the stored size must match the entry, the
// SHA-256 of the stored bytes must match (before any decompressor sees them), the block
// must decompress to exactly its size, and the plaintext SHA-256 must match. A hole
// ignores `stored` (it must be empty) and fills zeros. Throws IntegrityError or
// CodecError naming the block. Allocates nothing.
//
// With PlaintextCheck::by_stored_hash the plaintext hash is not computed again: the
// stored bytes are already pinned by their hash, the decompressor is deterministic and
// its output length is checked exactly, so the second hash only costs CPU on the hot path
// (a third of the work per block). The plaintext hash still serves cache re-verification.
enum class PlaintextCheck { hash, by_stored_hash };
void decode_block(const Manifest& manifest, uint64_t index, std::span<const uint8_t> stored,
		  std::span<uint8_t> plain_out, PlaintextCheck check = PlaintextCheck::hash);

// decode_block for the hot path: the same checks, but a raw block is not copied. Returns
// the block's plaintext: `stored` itself for a raw block, else `plain_out` (decoded or, for
// a hole, zero-filled). The event loop hands each block to a worker once, so sparing a
// block-sized copy per raw block is worth the second entry point.
//
// With `times`, adds the time spent hashing and decompressing to it (the daemon's
// miss-latency figures: `httpcloop status`, "misses").
struct DecodeTimes {
	std::chrono::nanoseconds hash{};
	std::chrono::nanoseconds decompress{};
};
std::span<const uint8_t> decode_block_view(const Manifest& manifest, uint64_t index, std::span<const uint8_t> stored,
					   std::span<uint8_t> plain_out, PlaintextCheck check,
					   DecodeTimes* times = nullptr);

struct EncodedBlock {
	BlockEntry entry;            // pack_offset is left 0
	std::vector<uint8_t> stored; // the block file's bytes; empty for a hole
};

// Encodes one plaintext block: all zero → hole; compressed when that is smaller than the
// plaintext, raw otherwise. Thread-safe.
EncodedBlock encode_block(Codec codec, int level, std::span<const uint8_t> plain);

// What encode_block gives for `size` zero bytes, without them: for a range the source
// file says is a hole (mkimage skips reading those).
EncodedBlock encode_hole(size_t size);

// encode_block for a plaintext block that already has a compressed form in `codec` (a
// cloop file's zlib block, imported): keeps `stream` instead of compressing again. The
// caller has decoded `stream` to exactly `plain` with decompress(). A hole and a stream no
// smaller than the plaintext are stored as encode_block stores them.
EncodedBlock encode_block_with_stream(std::span<const uint8_t> plain, std::vector<uint8_t> stream);

} // namespace httpcloop
