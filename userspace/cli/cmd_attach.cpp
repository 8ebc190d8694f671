#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/trust_options.hpp"
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
	"Options:\n"
	"  --cache DIR        cache directory (default /var/cache/httpcloop)\n"
	"  --foreground       stay in the foreground and log to stderr (for supervisors)\n"
	"  --parallel N       most HTTP transfers at once (default 8)\n"
	"  --attempts N       tries per block before its reads fail with EIO (default 4)\n"
	"  --timeout SECONDS  limit for one block transfer (default 60)\n"
	"  --no-mlock         do not lock the daemon in memory\n"
	"  --pubkey FILE      refuse the manifest unless manifest.sig verifies with this\n"
	"                     Ed25519 public key (PEM, from `httpcloop keygen`)\n"
	"  --sha256 HEX       refuse the manifest unless its SHA-256 is HEX (also URL#sha256=HEX)\n"
	"  -h, --help         show this help\n"
	"\n"
	"SIGTERM detaches (unless the device is mounted); see also `httpcloop detach`.\n";

int run_attach(int argc, char** argv)
{
	enum { kCache = 1000, kForeground, kParallel, kAttempts, kTimeout, kNoMlock };
	static const option long_options[] = {
		{"cache", required_argument, nullptr, kCache},
		{"foreground", no_argument, nullptr, kForeground},
		{"parallel", required_argument, nullptr, kParallel},
		{"attempts", required_argument, nullptr, kAttempts},
		{"timeout", required_argument, nullptr, kTimeout},
		{"no-mlock", no_argument, nullptr, kNoMlock},
		{"pubkey", required_argument, nullptr, kOptionPubkey},
		{"sha256", required_argument, nullptr, kOptionSha256},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	AttachOptions options;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, attach_help, [&](int value, const char* argument) {
			switch (value) {
			case kCache: options.cache_dir = argument; break;
			case kForeground: options.foreground = true; break;
			case kParallel:
				options.fetch.max_parallel = static_cast<unsigned>(parse_integer(argument, 1, 64, "--parallel"));
				break;
			case kAttempts:
				options.max_attempts = static_cast<unsigned>(parse_integer(argument, 1, 20, "--attempts"));
				break;
			case kTimeout: options.fetch.transfer_timeout_s = parse_integer(argument, 1, 3600, "--timeout"); break;
			case kNoMlock: options.lock_memory = false; break;
			default: apply_trust_option(value, argument, options.trust); break;
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one URL, got " + std::to_string(argc - *first_operand) + " operands");
	options.url = argv[*first_operand];
	return httpcloop::run_attach(options);
}

} // namespace httpcloop::cli
