#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop {

// Lowercase hex, two digits per byte.
std::string to_hex(std::span<const uint8_t> bytes);

// Accepts upper or lower case; nullopt for an odd length or a non-hex digit.
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);

} // namespace httpcloop
