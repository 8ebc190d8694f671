#pragma once
// "key=value" lines, the daemon's control-socket replies and sysfs-like text.

#include <map>
#include <string>
#include <string_view>

namespace httpcloop {

using KeyValues = std::map<std::string, std::string, std::less<>>;

// Lines without '=' are ignored; a later key replaces an earlier one.
KeyValues parse_key_values(std::string_view text);

} // namespace httpcloop
