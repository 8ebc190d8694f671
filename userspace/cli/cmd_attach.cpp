#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/device_arg.hpp"
#include "cli/recorded_attach.hpp"
#include "cli/serve_options.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/daemon.hpp"
#include "util/error.hpp"
#include "util/small_file.hpp"

#include <unistd.h>

#include <filesystem>

namespace httpcloop::cli {

const std::string_view attach_help =
	"Usage: httpcloop attach [OPTIONS] URL\n"
	"       httpcloop attach --recover DEVICE [--foreground]\n"
	"\n"
	"Attach the image published at URL (the directory holding `manifest` and `blocks/`)\n"
	"as a read-only block device and print its path, /dev/httpcloopN. The daemon that\n"
	"fetches missing blocks goes on in the background; blocks it fetched are kept in the\n"
	"cache directory, so attaching the same image again downloads nothing already read.\n"
	"Needs the httpcloop kernel module and root.\n"
	"\n"
	"With --recover, start a new daemon for DEVICE, whose daemon died (killed, crashed):\n"
	"it takes the device over with the URL, options and cache of the original attach\n"
	"(recorded in /run/httpcloop/), and reads waiting for missing blocks complete\n"
	"normally if it comes within the module's dead_timeout (30 s by default).\n"
	"\n"
	"Options:\n" HTTPCLOOP_SERVE_OPTIONS_HELP
	"  --root             the image holds the root file system and this runs in the\n"
	"                     initramfs: the daemon marks itself for systemd ('@' in\n"
	"                     argv[0]) so that it survives switch_root and shutdown, logs\n"
	"                     to the kernel log, and needs no file of the initramfs later\n"
	"                     (CAs read at start, host names resolved once)\n"
	"  --recover DEVICE   take over DEVICE (/dev/httpcloopN, httpcloopN or N) as above\n"
	"  --io-timeout S     a read of a missing block fails after S seconds (1-86400;\n"
	"                     default: the module's io_timeout, 300)\n"
	"  --dead-timeout S   with no daemon, reads of missing blocks fail after S seconds\n"
	"                     (1-86400; default: the module's dead_timeout, 30)\n"
	"  --no-mlock         do not lock the daemon in memory\n"
	"  -h, --help         show this help\n"
	"\n"
	"The daemon runs under a small supervisor: if it dies (killed, crashed), a new one\n"
	"takes the device over within a second or so, as with --recover. With --foreground\n"
	"there is no supervisor (a service manager restarts it).\n"
	"\n"
	"SIGTERM detaches (unless the device is mounted); see also `httpcloop detach`, and\n"
	"`httpcloop restart` to replace a running daemon with a new version.\n";

namespace {

enum { kNoMlock = 1100, kRoot, kRecover, kIoTimeout, kDeadTimeout };

// The kernel's bounds for both (HTTPCLOOP_MAX_TIMEOUT: a day).
constexpr long kMaxKernelTimeout = 24 * 3600;

// Larger than any command line a shell passes.
constexpr size_t kMaxRecordBytes = 1024 * 1024;

// Parses `attach` arguments (argv[0] is "attach") into `options`; returns the URL
// operand's index, nullopt after --help.
std::optional<int> parse_attach(int argc, char** argv, AttachOptions& options, std::optional<uint32_t>& recover)
{
	static const std::vector<option> long_options = serve_long_options({
		{"no-mlock", no_argument, nullptr, kNoMlock},
		{"root", no_argument, nullptr, kRoot},
		{"recover", required_argument, nullptr, kRecover},
		{"io-timeout", required_argument, nullptr, kIoTimeout},
		{"dead-timeout", required_argument, nullptr, kDeadTimeout},
		{"help", no_argument, nullptr, 'h'},
	});
	return parse_options(argc, argv, "h", long_options.data(), attach_help, [&](int value, const char* argument) {
		if (value == kNoMlock) {
			options.lock_memory = false;
		} else if (value == kRoot) {
			options.root_daemon = true;
			options.serve.fetch.resolve_once = true;
		} else if (value == kRecover) {
			recover = parse_device_index(argument);
		} else if (value == kIoTimeout) {
			options.io_timeout_s =
				static_cast<uint32_t>(parse_integer(argument, 1, kMaxKernelTimeout, "--io-timeout"));
		} else if (value == kDeadTimeout) {
			options.dead_timeout_s =
				static_cast<uint32_t>(parse_integer(argument, 1, kMaxKernelTimeout, "--dead-timeout"));
		} else {
			apply_serve_option(value, argument, options.serve);
		}
	});
}

} // namespace

AttachOptions recorded_attach(uint32_t index, std::string_view verb)
{
	const std::string cannot = "cannot " + std::string(verb) + " " + device_path(index) + ": ";
	const std::filesystem::path path = attach_record_path(index);
	std::string text;
	try {
		text = read_small_file(path, kMaxRecordBytes, "attach record");
	} catch (const Error& e) {
		throw Error(cannot + e.what() +
			    " (it is written when `httpcloop attach` adds a device)");
	}
	std::vector<std::string> items;
	for (size_t start = 0; start < text.size();) {
		size_t end = text.find('\0', start);
		if (end == std::string::npos)
			throw Error(cannot + path.native() + " is damaged");
		items.push_back(text.substr(start, end - start));
		start = end + 1;
	}
	if (items.size() < 2)
		throw Error(cannot + path.native() + " is damaged");
	if (::chdir(items[0].c_str()) != 0)
		throw_errno(cannot + "cannot enter " + items[0] +
			    ", the directory it was attached from");

	std::vector<char*> argv;
	static char attach_name[] = "attach";
	argv.push_back(attach_name);
	for (size_t i = 1; i < items.size(); i++)
		argv.push_back(items[i].data());
	argv.push_back(nullptr);
	AttachOptions options;
	std::optional<uint32_t> nested;
	std::optional<int> first_operand =
		parse_attach(static_cast<int>(argv.size() - 1), argv.data(), options, nested);
	if (!first_operand || nested || static_cast<int>(argv.size() - 1) - *first_operand != 1)
		throw Error(cannot + path.native() + " holds no attach command");
	options.serve.url = argv[*first_operand];
	options.command_line = std::move(items);
	return options;
}

int run_attach(int argc, char** argv)
{
	AttachOptions options;
	std::optional<uint32_t> recover;
	std::optional<int> first_operand = parse_attach(argc, argv, options, recover);
	if (!first_operand)
		return kExitOk;
	const int operands = argc - *first_operand;
	if (recover) {
		// Anything else would be silently replaced by the recorded options: refuse it.
		for (int i = 1; i < argc; i++) {
			const std::string_view arg = argv[i];
			if (arg == "--recover") {
				i++;
			} else if (!arg.starts_with("--recover=") && arg != "--foreground" && arg != "--no-mlock") {
				throw UsageError("--recover takes no option but --foreground and --no-mlock: the URL and "
						 "options are those of the original attach (got " + std::string(arg) + ")");
			}
		}
		if (operands != 0)
			throw UsageError("--recover takes the device only: the URL and options are those of the original attach");
		const bool foreground = options.serve.foreground;
		const bool lock_memory = options.lock_memory;
		options = recorded_attach(*recover, "recover");
		options.serve.foreground = options.serve.foreground || foreground;
		options.lock_memory = options.lock_memory && lock_memory;
		options.recover_index = recover;
		return httpcloop::run_attach(options);
	}
	if (operands != 1)
		throw UsageError("expected one URL, got " + std::to_string(operands) + " operands");
	options.serve.url = argv[*first_operand];
	options.command_line.push_back(std::filesystem::current_path().native());
	options.command_line.insert(options.command_line.end(), argv + 1, argv + argc);
	return httpcloop::run_attach(options);
}

} // namespace httpcloop::cli
