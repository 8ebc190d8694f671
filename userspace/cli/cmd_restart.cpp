#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/device_arg.hpp"
#include "cli/recorded_attach.hpp"
#include "daemon/daemon.hpp"
#include "util/error.hpp"

namespace httpcloop::cli {

const std::string_view restart_help =
	"Usage: httpcloop restart [--foreground] [--no-mlock] DEVICE\n"
	"\n"
	"Replace the running daemon of DEVICE (/dev/httpcloopN, httpcloopN or N) with a new one\n"
	"started from this program, e.g. after an upgrade, without failing a read: the new\n"
	"daemon loads the image with the URL, options and cache of the original attach\n"
	"(recorded in /run/httpcloop/), the old one hands it the cache and goes on answering\n"
	"the kernel until the new one has taken the device over, then exits. Reads waiting\n"
	"for blocks meanwhile complete normally. If the new daemon fails, the old one keeps\n"
	"the device. Prints the device path once the new daemon serves it.\n"
	"\n"
	"For a device whose daemon is gone, use `httpcloop attach --recover DEVICE`.\n"
	"\n"
	"Options:\n"
	"  --foreground   the new daemon stays in the foreground (for a service manager)\n"
	"  --no-mlock     do not lock the new daemon in memory\n"
	"  -h, --help     show this help\n";

namespace {

enum { kForeground = 1200, kNoMlock };

} // namespace

int run_restart(int argc, char** argv)
{
	static const option long_options[] = {
		{"foreground", no_argument, nullptr, kForeground},
		{"no-mlock", no_argument, nullptr, kNoMlock},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	bool foreground = false, lock_memory = true;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, restart_help, [&](int value, const char*) {
			if (value == kForeground)
				foreground = true;
			else if (value == kNoMlock)
				lock_memory = false;
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one device, got " + std::to_string(argc - *first_operand) + " operands");
	const uint32_t index = parse_device_index(argv[*first_operand]);
	AttachOptions options = recorded_attach(index, "restart");
	options.serve.foreground = options.serve.foreground || foreground;
	options.lock_memory = options.lock_memory && lock_memory;
	options.recover_index = index;
	options.handover = true;
	return httpcloop::run_attach(options);
}

} // namespace httpcloop::cli
