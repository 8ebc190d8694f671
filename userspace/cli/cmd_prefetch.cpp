#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/device_arg.hpp"
#include "cli/progress_line.hpp"
#include "cli/serve_options.hpp"
#include "daemon/control_socket.hpp"
#include "fetch/http_get.hpp"
#include "service/prefetch_run.hpp"
#include "util/kv_text.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace httpcloop::cli {

const std::string_view prefetch_help =
	"Usage: httpcloop prefetch DEVICE|MOUNTPOINT\n"
	"       httpcloop prefetch [OPTIONS] URL\n"
	"\n"
	"Download every block of an image that is not cached yet, so that it keeps working\n"
	"with the network gone. For an attached DEVICE (/dev/httpcloopN) or a mount-fuse\n"
	"MOUNTPOINT, its server does it in the background at low priority (reads still come\n"
	"first) and this command shows the progress until it is done. For a URL, the cache\n"
	"(--cache) is filled directly, for a later attach or mount-fuse.\n"
	"\n"
	"Options (with a URL):\n" HTTPCLOOP_SERVE_OPTIONS_HELP
	"  -h, --help         show this help\n";

namespace {

using namespace std::chrono_literals;

std::filesystem::path control_socket_for(const std::string& operand)
{
	std::error_code error;
	if (std::filesystem::is_directory(operand, error))
		return fuse_control_socket_path(operand);
	return control_socket_path(parse_device_index(operand));
}

int prefetch_served(const std::string& operand)
{
	const std::filesystem::path socket = control_socket_for(operand);
	std::optional<std::string> reply = control_request(socket, "prefetch");
	if (!reply)
		throw Error("nothing serves " + operand + " (no daemon at " + socket.native() + ")");
	KeyValues answer = parse_key_values(*reply);
	if (answer["ok"] != "1")
		throw Error("cannot prefetch " + operand + ": " + answer["error"]);
	ProgressLine progress("prefetch");
	for (;;) {
		std::optional<std::string> status = control_request(socket, "status");
		if (!status)
			throw Error("the server of " + operand + " went away");
		KeyValues values = parse_key_values(*status);
		const uint64_t total = std::strtoull(values["blocks_total"].c_str(), nullptr, 10);
		const uint64_t cached = std::strtoull(values["blocks_cached"].c_str(), nullptr, 10);
		progress.update(cached, total);
		if (cached == total) {
			progress.finish();
			std::printf("%s: all %llu blocks cached\n", operand.c_str(), static_cast<unsigned long long>(total));
			return kExitOk;
		}
		if (values["prefetching"] == "0" && values["in_flight"] == "0") {
			progress.finish();
			std::fprintf(stderr, "httpcloop prefetch: %llu of %llu blocks cached; the rest failed (see the log)\n",
				     static_cast<unsigned long long>(cached), static_cast<unsigned long long>(total));
			return kExitFailure;
		}
		std::this_thread::sleep_for(200ms);
	}
}

} // namespace

int run_prefetch(int argc, char** argv)
{
	static const std::vector<option> long_options = serve_long_options({
		{"help", no_argument, nullptr, 'h'},
	});
	ServeOptions options;
	options.readahead = false;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options.data(), prefetch_help,
			      [&](int value, const char* argument) { apply_serve_option(value, argument, options); });
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one device, mount point or URL, got " + std::to_string(argc - *first_operand) +
				 " operands");
	const std::string operand = argv[*first_operand];
	if (!is_http_url(operand))
		return prefetch_served(operand);

	options.url = operand;
	ProgressLine progress("prefetch");
	PrefetchOutcome outcome = prefetch_into_cache(options, [&](uint64_t cached, uint64_t total) {
		progress.update(cached, total);
	});
	progress.finish();
	std::printf("%llu of %llu blocks cached in %s\n", static_cast<unsigned long long>(outcome.blocks_cached),
		    static_cast<unsigned long long>(outcome.blocks_total), options.cache_dir.c_str());
	return outcome.blocks_cached == outcome.blocks_total ? kExitOk : kExitFailure;
}

} // namespace httpcloop::cli
