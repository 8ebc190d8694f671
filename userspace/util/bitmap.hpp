#pragma once
// Bit i lives in bit i%8 of byte i/8 (the order of the cache's present record).

#include <cstdint>
#include <span>

namespace httpcloop {

inline bool test_bit(std::span<const uint8_t> bitmap, uint64_t index)
{
	return (bitmap[index / 8] >> (index % 8)) & 1;
}

inline void set_bit(std::span<uint8_t> bitmap, uint64_t index)
{
	bitmap[index / 8] = static_cast<uint8_t>(bitmap[index / 8] | (1u << (index % 8)));
}

inline void clear_bit(std::span<uint8_t> bitmap, uint64_t index)
{
	bitmap[index / 8] = static_cast<uint8_t>(bitmap[index / 8] & ~(1u << (index % 8)));
}

} // namespace httpcloop
