// httpcloop-boot: the preboot. Reads the kernel command line, downloads and verifies a
// kernel and initrd published with `httpcloop mkboot`, and kexecs into them. Statically
// linked, to run as (or from) /init of any BusyBox initramfs: see scripts/mkpreboot.

#include "boot/boot_flow.hpp"
#include "boot/console.hpp"
#include "boot_format/kernel_cmdline.hpp"
#include "boot/run_program.hpp"
#include "trust/trust.hpp"
#include "util/fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <getopt.h>
#include <map>
#include <sys/reboot.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace httpcloop;
using namespace httpcloop::boot;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxCmdlineFileBytes = 64 * 1024;

const char kUsage[] =
	"Usage: httpcloop-boot [OPTIONS] [URL]\n"
	"\n"
	"Download the kernel and initrd that the boot manifest at URL (default: httpcloop.boot=\n"
	"on the kernel command line) names, verify every byte, keep them in the cache, and\n"
	"start them with kexec. InetBoot's httpfuse=URL and iscript=URL work too.\n"
	"\n"
	"Options (each wins over the kernel command line's parameter):\n"
	"  --cmdline-file FILE  read the parameters from FILE, not /proc/cmdline\n"
	"  --dry-run            do everything but the kexec\n"
	"  --pubkey FILE        Ed25519 public key (PEM) the boot manifest must be signed with\n"
	"  --sha256 HEX         pin the boot manifest's SHA-256 (or URL#sha256=HEX)\n"
	"  --mirror URL         another base URL serving the same files (repeatable)\n"
	"  --cache DIR|DEV      where to keep verified kernels and initrds\n"
	"  --on-fail ACTION     exit (default unless PID 1), shell (default as PID 1), reboot, poweroff\n"
	"  --delay SECONDS      wait before reboot or poweroff on failure (default 30)\n"
	"  --net MODE           auto (default), dhcp or none\n"
	"  --timeout SECONDS    connect and stall limit (default 30)\n"
	"  --retries N          tries per mirror and file (default 2)\n"
	"  --cafile FILE        CA certificates for https:// (default /etc/ssl/certs/ca-certificates.crt)\n"
	"  -h, --help           show this help\n";

std::string read_cmdline(const std::string& path)
{
	UniqueFd fd = open_or_throw(path, O_RDONLY);
	std::vector<uint8_t> bytes(kMaxCmdlineFileBytes + 1);
	bytes.resize(pread_full(fd.get(), bytes, 0, path));
	if (bytes.size() > kMaxCmdlineFileBytes)
		throw Error(path + " is larger than " + std::to_string(kMaxCmdlineFileBytes) + " bytes");
	return std::string(bytes.begin(), bytes.end());
}

[[noreturn]] void fail_over_to(FailureAction action, unsigned delay_s)
{
	switch (action) {
	case FailureAction::exit: std::exit(kExitFailure);
	case FailureAction::shell: {
		say("dropping to a shell; run 'httpcloop-boot' to try again, or 'reboot -f'");
		std::string shell = find_program("sh");
		if (!shell.empty())
			execl(shell.c_str(), "sh", static_cast<char*>(nullptr));
		warn("no shell to drop to; rebooting in " + std::to_string(delay_s) + " s");
		[[fallthrough]];
	}
	case FailureAction::reboot:
	case FailureAction::poweroff: {
		const bool power_off = action == FailureAction::poweroff;
		say(std::string(power_off ? "powering off" : "rebooting") + " in " + std::to_string(delay_s) + " s");
		std::this_thread::sleep_for(std::chrono::seconds(delay_s));
		::sync();
		::reboot(power_off ? RB_POWER_OFF : RB_AUTOBOOT);
		std::exit(kExitFailure);
	}
	}
	std::exit(kExitFailure);
}

} // namespace

int main(int argc, char** argv)
{
	enum { kDryRun = 1000, kCmdlineFile, kPubkey, kSha256, kMirror, kCache, kOnFail, kDelay, kNet, kTimeout, kRetries, kCafile };
	static const option long_options[] = {
		{"dry-run", no_argument, nullptr, kDryRun},
		{"cmdline-file", required_argument, nullptr, kCmdlineFile},
		{"pubkey", required_argument, nullptr, kPubkey},
		{"sha256", required_argument, nullptr, kSha256},
		{"mirror", required_argument, nullptr, kMirror},
		{"cache", required_argument, nullptr, kCache},
		{"on-fail", required_argument, nullptr, kOnFail},
		{"delay", required_argument, nullptr, kDelay},
		{"net", required_argument, nullptr, kNet},
		{"timeout", required_argument, nullptr, kTimeout},
		{"retries", required_argument, nullptr, kRetries},
		{"cafile", required_argument, nullptr, kCafile},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	// Options are applied over the command line's parameters by rewriting them as
	// parameters, so that both go through the one parser and its checks.
	// A repeated option replaces the earlier one (as usual on a command line); only
	// --mirror adds up.
	std::map<std::string, std::string> option_values;
	std::string overrides;
	std::string cmdline_file = "/proc/cmdline";
	BootRun run;
	std::optional<FailureAction> on_fail;
	opterr = 0;
	for (;;) {
		int value = getopt_long(argc, argv, ":h", long_options, nullptr);
		if (value == -1)
			break;
		const std::string argument = optarg ? optarg : "";
		auto quoted = [&](const char* key) {
			if (std::string_view(key) == "httpcloop.mirror")
				overrides += std::string(" \"") + key + "=" + argument + "\"";
			else
				option_values[key] = argument;
		};
		switch (value) {
		case 'h': std::fputs(kUsage, stdout); return 0;
		case kDryRun: run.dry_run = true; break;
		case kCmdlineFile: cmdline_file = argument; break;
		case kPubkey: run.pubkey_file_option = argument; break;
		case kSha256: quoted("httpcloop.sha256"); break;
		case kMirror: quoted("httpcloop.mirror"); break;
		case kCache: quoted("httpcloop.cache"); break;
		case kOnFail:
			on_fail = failure_action_from_name(argument);
			if (!on_fail) {
				std::fprintf(stderr, "httpcloop-boot: --on-fail %s: expected exit, shell, reboot or poweroff\n",
					     argument.c_str());
				return kExitUsage;
			}
			break;
		case kDelay: quoted("httpcloop.delay"); break;
		case kNet: quoted("httpcloop.net"); break;
		case kTimeout: quoted("httpcloop.timeout"); break;
		case kRetries: quoted("httpcloop.retries"); break;
		case kCafile: quoted("httpcloop.cafile"); break;
		case ':':
			std::fprintf(stderr, "httpcloop-boot: option %s needs an argument\n", argv[optind - 1]);
			return kExitUsage;
		default:
			std::fprintf(stderr, "httpcloop-boot: unknown option %s\nRun 'httpcloop-boot --help' for usage.\n",
				     argv[optind - 1]);
			return kExitUsage;
		}
	}
	for (const auto& [key, value] : option_values)
		overrides += " \"" + key + "=" + value + "\"";
	if (argc - optind > 1) {
		std::fprintf(stderr, "httpcloop-boot: expected at most one URL\n");
		return kExitUsage;
	}

	FailureAction action = getpid() == 1 ? FailureAction::shell : FailureAction::exit;
	unsigned delay_s = 30;
	try {
		std::string cmdline = read_cmdline(cmdline_file);
		// An option replaces the command line's value for a single-valued key.
		BootParameters from_cmdline = parse_boot_parameters(cmdline);
		action = on_fail.value_or(from_cmdline.on_fail.value_or(action));
		delay_s = from_cmdline.fail_delay_s;
		BootParameters from_options = parse_boot_parameters(overrides);
		run.parameters = from_cmdline;
		if (optind < argc) {
			run.parameters.boot_url = argv[optind];
			run.parameters.from_httpfuse = false;
		}
		if (from_options.sha256)
			run.parameters.sha256 = from_options.sha256;
		for (const std::string& mirror : from_options.mirrors)
			run.parameters.mirrors.push_back(mirror);
		if (from_options.cache)
			run.parameters.cache = from_options.cache;
		if (overrides.find("httpcloop.delay=") != std::string::npos)
			delay_s = run.parameters.fail_delay_s = from_options.fail_delay_s;
		if (overrides.find("httpcloop.net=") != std::string::npos)
			run.parameters.network = from_options.network;
		if (overrides.find("httpcloop.timeout=") != std::string::npos)
			run.parameters.timeout_s = from_options.timeout_s;
		if (overrides.find("httpcloop.retries=") != std::string::npos)
			run.parameters.retries = from_options.retries;
		if (from_options.cafile)
			run.parameters.cafile = from_options.cafile;
		return run_boot(run);
	} catch (const std::exception& error) {
		std::fflush(stdout);
		std::fprintf(stderr, "httpcloop-boot: FAILED: %s\n", error.what());
		std::fflush(stderr);
	}
	fail_over_to(action, delay_s);
}
