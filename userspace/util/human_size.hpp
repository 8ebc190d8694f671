#pragma once

#include <cstdint>
#include <string>

namespace httpcloop {

// "512 B", "256 KiB", "1.5 MiB", "2.0 GiB": one decimal above KiB unless the value is exact.
std::string format_bytes(uint64_t bytes);

} // namespace httpcloop
