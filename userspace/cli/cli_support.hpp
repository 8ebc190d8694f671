#pragma once
// What every subcommand shares: exit statuses, usage errors, option parsing, numbers.

#include "util/error.hpp"

#include <cstdint>
#include <functional>
#include <getopt.h>
#include <optional>
#include <string_view>

namespace httpcloop::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// A mistake on the command line; main() prints it with a hint and exits with kExitUsage.
struct UsageError : Error {
	using Error::Error;
};

// Runs getopt_long over argv (argv[0] is the command name). Calls on_option(value, optarg)
// for each option. Handles -h/--help itself: prints `help` to stdout and returns nullopt.
// Otherwise returns the index of the first operand. Throws UsageError for an unknown
// option or a missing argument. `long_options` must include {"help", no_argument, 0, 'h'}.
std::optional<int> parse_options(int argc, char** argv, const char* short_options, const option* long_options,
				 std::string_view help, const std::function<void(int value, const char* argument)>& on_option);

// "65536", "64K", "64KiB", "1M", "4MiB" (binary units, case-insensitive). Throws UsageError.
uint64_t parse_size(std::string_view text, std::string_view what);
// A decimal integer in [min, max]. Throws UsageError.
long parse_integer(std::string_view text, long min, long max, std::string_view what);

} // namespace httpcloop::cli
