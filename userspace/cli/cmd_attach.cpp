#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/serve_options.hpp"
#include "daemon/daemon.hpp"

namespace httpcloop::cli {

const std::string_view attach_help =
	"Usage: httpcloop attach [OPTIONS] URL\n"
	"\n"
	"Attach the image published at URL (the directory holding `manifest` and `blocks/`)\n"
	"as a read-only block device and print its path, /dev/httpcloopN. The daemon that\n"
	"fetches missing blocks goes on in the background; blocks it fetched are kept in the\n"
	"cache directory, so attaching the same image again downloads nothing already read.\n"
	"Needs the httpcloop kernel module and root.\n"
	"\n"
	"Options:\n" HTTPCLOOP_SERVE_OPTIONS_HELP
	"  --root             the image holds the root file system and this runs in the\n"
	"                     initramfs: the daemon marks itself for systemd ('@' in\n"
	"                     argv[0]) so that it survives switch_root and shutdown, logs\n"
	"                     to the kernel log, and needs no file of the initramfs later\n"
	"                     (CAs read at start, host names resolved once)\n"
	"  --no-mlock         do not lock the daemon in memory\n"
	"  -h, --help         show this help\n"
	"\n"
	"SIGTERM detaches (unless the device is mounted); see also `httpcloop detach`.\n";

int run_attach(int argc, char** argv)
{
	enum { kNoMlock = 1100, kRoot };
	static const std::vector<option> long_options = serve_long_options({
		{"no-mlock", no_argument, nullptr, kNoMlock},
		{"root", no_argument, nullptr, kRoot},
		{"help", no_argument, nullptr, 'h'},
	});
	AttachOptions options;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options.data(), attach_help, [&](int value, const char* argument) {
			if (value == kNoMlock) {
				options.lock_memory = false;
			} else if (value == kRoot) {
				options.root_daemon = true;
				options.serve.fetch.resolve_once = true;
			} else {
				apply_serve_option(value, argument, options.serve);
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one URL, got " + std::to_string(argc - *first_operand) + " operands");
	options.serve.url = argv[*first_operand];
	return httpcloop::run_attach(options);
}

} // namespace httpcloop::cli
