#pragma once
// Little-endian field access for the on-disk formats. memcpy keeps unaligned access legal;
// the byte swap compiles away on little-endian hosts.

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace httpcloop {

template <typename T>
constexpr T byteswap_unsigned(T value)
{
	T swapped = 0;
	for (size_t i = 0; i < sizeof(T); ++i) {
		swapped = static_cast<T>(swapped << 8 | (value & 0xff));
		value = static_cast<T>(value >> 8);
	}
	return swapped;
}

template <typename T>
T load_le(const uint8_t* src)
{
	static_assert(std::is_unsigned_v<T>);
	T value;
	std::memcpy(&value, src, sizeof value);
	if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1)
		value = byteswap_unsigned(value);
	return value;
}

template <typename T>
void store_le(uint8_t* dst, T value)
{
	static_assert(std::is_unsigned_v<T>);
	if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1)
		value = byteswap_unsigned(value);
	std::memcpy(dst, &value, sizeof value);
}

} // namespace httpcloop
