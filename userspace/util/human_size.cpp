#include "util/human_size.hpp"

#include <array>
#include <cstdio>

namespace httpcloop {

std::string format_bytes(uint64_t bytes)
{
	static constexpr std::array<const char*, 6> units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t unit = 0;
	uint64_t whole = bytes;
	while (unit + 1 < units.size() && whole >= 1024 && whole % 1024 == 0) {
		whole /= 1024;
		++unit;
	}
	if (whole < 1024 || unit + 1 == units.size())
		return std::to_string(whole) + " " + units[unit];

	double value = static_cast<double>(bytes);
	unit = 0;
	while (unit + 1 < units.size() && value >= 1024) {
		value /= 1024;
		++unit;
	}
	char text[32];
	std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
	return text;
}

} // namespace httpcloop
