#pragma once
// All-zero blocks ("holes") are stored as nothing; these helpers detect them and give the
// plaintext hash a hole's manifest entry carries.

#include "crypto/sha256.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace httpcloop {

bool is_all_zero(std::span<const uint8_t> bytes);

// SHA-256 of `size` zero bytes. Memoised: images have at most two block sizes (full and
// last), and a sparse image can have hundreds of thousands of holes. Thread-safe.
Sha256 zero_block_hash(size_t size);

} // namespace httpcloop
