#pragma once
// Naming a device on the command line: "/dev/httpcloop0", "httpcloop0" or "0".

#include <cstdint>
#include <string>
#include <string_view>

namespace httpcloop::cli {

// Throws UsageError for anything else.
uint32_t parse_device_index(std::string_view text);
std::string device_path(uint32_t index);

} // namespace httpcloop::cli
