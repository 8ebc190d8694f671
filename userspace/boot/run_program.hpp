#pragma once
// Running BusyBox tools (udhcpc, mount helpers, the iscript shell) from the preboot.

#include <optional>
#include <string>
#include <vector>

namespace httpcloop::boot {

// The path of `name` in $PATH (or the BusyBox defaults when PATH is unset), or "".
std::string find_program(const std::string& name);

// How to run BusyBox applet `name`: its own path, or {busybox, name} when only the
// busybox binary is installed (Debian's busybox-static installs no applet links); empty
// when neither is found.
std::vector<std::string> find_tool(const std::string& name);

// fork + execv + wait; stdin/stdout/stderr are inherited. Returns the exit status, or
// 128 + signal, or 127 when the program could not be started.
int run_program(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});

// Runs `argv` with stdout captured (at most 4 KiB kept; stderr discarded) and returns the
// first line of it, or nullopt if the program failed.
std::optional<std::string> run_program_line(const std::vector<std::string>& argv);

} // namespace httpcloop::boot
