// httpcloop: serve read-only disk images over plain HTTP as Linux block devices.
// This file only dispatches to the subcommands in cli/commands.cpp.

#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "util/process_mark.hpp"

#include <cstdio>
#include <exception>
#include <algorithm>
#include <string>
#include <string_view>

namespace {

using namespace httpcloop::cli;

void print_general_help(std::FILE* out)
{
	std::fprintf(out, "Usage: httpcloop COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	size_t width = 0; // the summaries line up after the longest name
	for (const Command& command : commands())
		width = std::max(width, command.name.size());
	for (const Command& command : commands())
		std::fprintf(out, "  %-*.*s %.*s\n", static_cast<int>(width), static_cast<int>(command.name.size()),
			     command.name.data(), static_cast<int>(command.summary.size()), command.summary.data());
	std::fprintf(out, "\nRun 'httpcloop help COMMAND' or 'httpcloop COMMAND --help' for details.\n"
			  "Other options: --help, --version.\n");
}

int usage_failure(const std::string& message)
{
	std::fprintf(stderr, "httpcloop: %s\nRun 'httpcloop --help' for the list of commands.\n", message.c_str());
	return kExitUsage;
}

int run_help(int argc, char** argv)
{
	if (argc < 3) {
		print_general_help(stdout);
		return kExitOk;
	}
	if (argc > 3)
		return usage_failure("help takes one command name");
	const Command* command = find_command(argv[2]);
	if (!command)
		return usage_failure("unknown command '" + std::string(argv[2]) + "'");
	std::fwrite(command->help.data(), 1, command->help.size(), stdout);
	return kExitOk;
}

} // namespace

int main(int argc, char** argv)
{
	httpcloop::remember_argv0(argc > 0 ? argv[0] : nullptr);
	if (argc < 2) {
		print_general_help(stderr);
		return kExitUsage;
	}
	const std::string_view first = argv[1];
	if (first == "help" || first == "--help" || first == "-h")
		return run_help(argc, argv);
	if (first == "--version") {
		std::printf("httpcloop %s\n", HTTPCLOOP_VERSION);
		return kExitOk;
	}
	const Command* command = find_command(first);
	if (!command)
		return usage_failure(first.starts_with("-") ? "unknown option '" + std::string(first) + "'"
							    : "unknown command '" + std::string(first) + "'");
	const std::string name(command->name);
	try {
		return command->run(argc - 1, argv + 1);
	} catch (const UsageError& error) {
		std::fprintf(stderr, "httpcloop %s: %s\nRun 'httpcloop help %s' for usage.\n", name.c_str(), error.what(),
			     name.c_str());
		return kExitUsage;
	} catch (const std::exception& error) {
		std::fflush(stdout);
		std::fprintf(stderr, "httpcloop %s: error: %s\n", name.c_str(), error.what());
		return kExitFailure;
	}
}
