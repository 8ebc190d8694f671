#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/device_arg.hpp"
#include "daemon/control_socket.hpp"
#include "kernel/kernel_link.hpp"
#include "util/kv_text.hpp"

#include <cstdio>

namespace httpcloop::cli {

const std::string_view detach_help =
	"Usage: httpcloop detach DEVICE\n"
	"\n"
	"Remove DEVICE (/dev/httpcloopN, httpcloopN or N) and stop its daemon, after the\n"
	"daemon has recorded what it cached. Refused while the device is mounted or open.\n"
	"If the daemon is gone (it crashed or was killed), the device is removed directly.\n"
	"\n"
	"Options:\n"
	"  -h, --help  show this help\n";

int run_detach(int argc, char** argv)
{
	static const option long_options[] = {
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	std::optional<int> first_operand = parse_options(argc, argv, "h", long_options, detach_help, [](int, const char*) {});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one device, got " + std::to_string(argc - *first_operand) + " operands");
	const uint32_t index = parse_device_index(argv[*first_operand]);

	if (std::optional<std::string> reply = control_request(control_socket_path(index), "detach")) {
		KeyValues answer = parse_key_values(*reply);
		if (answer["ok"] != "1")
			throw Error("cannot detach " + device_path(index) + ": " + answer["error"]);
		return kExitOk;
	}
	// No daemon: remove the device ourselves (any CAP_NET_ADMIN process may).
	KernelLink::connect().remove_device(index);
	return kExitOk;
}

} // namespace httpcloop::cli
