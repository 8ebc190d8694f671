#pragma once

#include "daemon/daemon.hpp"

#include <cstdint>
#include <string_view>

namespace httpcloop::cli {

// The options of the attach that made device `index`, from its record
// (/run/httpcloop/httpcloopN.attach): that attach's working directory (entered, so that
// relative paths mean what they meant) and arguments. Throws Error if there is none.
// `verb` ("recover", "restart") is what errors say could not be done.
AttachOptions recorded_attach(uint32_t index, std::string_view verb);

} // namespace httpcloop::cli
