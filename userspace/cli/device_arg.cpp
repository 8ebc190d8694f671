#include "cli/device_arg.hpp"

#include "cli/cli_support.hpp"

#include <charconv>

namespace httpcloop::cli {

uint32_t parse_device_index(std::string_view text)
{
	std::string_view digits = text;
	for (std::string_view prefix : {"/dev/httpcloop", "httpcloop"}) {
		if (digits.substr(0, prefix.size()) == prefix) {
			digits.remove_prefix(prefix.size());
			break;
		}
	}
	uint32_t index = 0;
	auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
	if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
		throw UsageError("not an httpcloop device: '" + std::string(text) +
				 "' (expected /dev/httpcloopN, httpcloopN or N)");
	return index;
}

std::string device_path(uint32_t index)
{
	return "/dev/httpcloop" + std::to_string(index);
}

} // namespace httpcloop::cli
