#pragma once
// Running BusyBox tools (udhcpc, mount helpers, the iscript shell) from the preboot.

#include <string>
#include <vector>

namespace httpcloop::boot {

// The path of `name` in $PATH (or the BusyBox defaults when PATH is unset), or "".
std::string find_program(const std::string& name);

// fork + execv + wait; stdin/stdout/stderr are inherited. Returns the exit status, or
// 128 + signal, or 127 when the program could not be started.
int run_program(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

} // namespace httpcloop::boot
