#include "format/zero_block.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>

namespace httpcloop {

bool is_all_zero(std::span<const uint8_t> bytes)
{
	// Compare in 64-byte chunks against a zero buffer: memcmp is vectorised, a byte loop is not.
	static constexpr std::array<uint8_t, 64> zeros{};
	while (bytes.size() >= zeros.size()) {
		if (std::memcmp(bytes.data(), zeros.data(), zeros.size()) != 0)
			return false;
		bytes = bytes.subspan(zeros.size());
	}
	return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

Sha256 zero_block_hash(size_t size)
{
	static std::mutex mutex;
	static std::map<size_t, Sha256> cache;
	std::lock_guard lock(mutex);
	if (auto found = cache.find(size); found != cache.end())
		return found->second;

	static constexpr std::array<uint8_t, 65536> zeros{};
	Sha256Hasher hasher;
	for (size_t left = size; left > 0;) {
		size_t chunk = std::min(left, zeros.size());
		hasher.update(std::span(zeros.data(), chunk));
		left -= chunk;
	}
	Sha256 digest = hasher.final();
	if (cache.size() < 64) // a bound, in case a caller asks for many odd sizes
		cache.emplace(size, digest);
	return digest;
}

} // namespace httpcloop
