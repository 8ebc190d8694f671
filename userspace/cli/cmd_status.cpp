#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/device_arg.hpp"
#include "daemon/control_socket.hpp"
#include "util/human_size.hpp"
#include "util/json.hpp"
#include "util/kv_text.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace httpcloop::cli {

const std::string_view status_help =
	"Usage: httpcloop status [--json] [DEVICE|MOUNTPOINT...]\n"
	"\n"
	"Show each httpcloop device and each mount-fuse mount point (all of them when none\n"
	"is named): the image and its source, blocks present in the cache out of the total,\n"
	"blocks and bytes fetched over HTTP, requests and errors, and what was served from\n"
	"the cache.\n"
	"\n"
	"Options:\n"
	"  --json      print a JSON array of objects instead, for scripts\n"
	"  -h, --help  show this help\n";

namespace {

namespace fs = std::filesystem;

// The kernel's view, from /sys/block/httpcloopN/httpcloop/.
KeyValues read_kernel_attributes(uint32_t index)
{
	const fs::path directory = fs::path("/sys/block") / ("httpcloop" + std::to_string(index)) / "httpcloop";
	KeyValues values;
	std::error_code error;
	for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
		std::ifstream file(entry.path());
		std::string value;
		if (std::getline(file, value))
			values.insert_or_assign(entry.path().filename().string(), value);
	}
	if (values.empty())
		throw Error("no such device: " + device_path(index));
	return values;
}

std::vector<uint32_t> all_devices()
{
	std::vector<uint32_t> indices;
	std::error_code error;
	for (const fs::directory_entry& entry : fs::directory_iterator("/sys/block", error)) {
		std::string name = entry.path().filename().string();
		if (name.rfind("httpcloop", 0) == 0)
			indices.push_back(parse_device_index(name));
	}
	std::sort(indices.begin(), indices.end());
	return indices;
}

uint64_t number(const KeyValues& values, std::string_view key)
{
	auto found = values.find(key);
	return found == values.end() ? 0 : std::strtoull(found->second.c_str(), nullptr, 10);
}

std::string text(const KeyValues& values, std::string_view key)
{
	auto found = values.find(key);
	return found == values.end() ? std::string() : found->second;
}

std::string to_json(const KeyValues& values)
{
	JsonObject object;
	for (const auto& [key, value] : values) {
		bool numeric = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
		if (numeric)
			object.add(key, static_cast<uint64_t>(std::strtoull(value.c_str(), nullptr, 10)));
		else
			object.add(key, value);
	}
	return object.str();
}

void print_fetch_details(const KeyValues& daemon)
{
	if (!text(daemon, "cache_failed").empty())
		std::printf("  cache FAILED: %s (blocks it does not hold cannot be read; check the disk, then "
			    "detach and attach again)\n",
			    text(daemon, "cache_failed").c_str());
	if (number(daemon, "cache_errors") > 0)
		std::printf("  cache errors: %llu verified blocks could not be written to the cache (full or failing "
			    "disk; the daemon's log says why)\n",
			    static_cast<unsigned long long>(number(daemon, "cache_errors")));
	if (number(daemon, "blocks_reused") + number(daemon, "reuse_mismatches") > 0)
		std::printf("  reused:   %llu blocks copied from other images' caches, %llu copies did not verify "
			    "(downloaded instead)\n",
			    static_cast<unsigned long long>(number(daemon, "blocks_reused")),
			    static_cast<unsigned long long>(number(daemon, "reuse_mismatches")));
	std::printf("  fetching: %llu in flight, readahead %llu blocks (%llu joined by reads), prefetch %llu blocks%s\n",
		    static_cast<unsigned long long>(number(daemon, "in_flight")),
		    static_cast<unsigned long long>(number(daemon, "readahead_blocks")),
		    static_cast<unsigned long long>(number(daemon, "readahead_joined")),
		    static_cast<unsigned long long>(number(daemon, "background_blocks")),
		    number(daemon, "prefetching") ? " (running)" : "");
	if (const uint64_t misses = number(daemon, "miss_count"); misses > 0) {
		// Means per miss, so that a slow stage stands out (docs/design.md, "Where a
		// cold read's time goes").
		const auto mean_ms = [&](const char* key) {
			return static_cast<double>(number(daemon, key)) / 1000.0 / static_cast<double>(misses);
		};
		std::printf("  misses:   %llu read on demand, ms each: %.2f waiting for a transfer, %.2f HTTP, "
			    "%.2f waiting to decode, %.2f SHA-256, %.2f decompressing, %.2f writing the cache, "
			    "%.2f telling the reader\n",
			    static_cast<unsigned long long>(misses), mean_ms("miss_queued_us"), mean_ms("miss_http_us"),
			    mean_ms("miss_decode_wait_us"), mean_ms("miss_hash_us"), mean_ms("miss_decompress_us"),
			    mean_ms("miss_cache_write_us"), mean_ms("miss_completion_us"));
	}
	const uint64_t mirrors = number(daemon, "mirrors");
	for (uint64_t i = 0; i < mirrors && mirrors > 1; i++) {
		const std::string key = "mirror." + std::to_string(i) + ".";
		std::printf("  mirror %llu: %s: %llu requests, %s, %llu errors, %.1f ms%s\n",
			    static_cast<unsigned long long>(i), text(daemon, key + "url").c_str(),
			    static_cast<unsigned long long>(number(daemon, key + "requests")),
			    format_bytes(number(daemon, key + "bytes")).c_str(),
			    static_cast<unsigned long long>(number(daemon, key + "errors")),
			    static_cast<double>(number(daemon, key + "latency_us")) / 1000.0,
			    number(daemon, key + "down") ? " (benched)" : "");
	}
}

void print_human(uint32_t index, const KeyValues& kernel, const std::optional<KeyValues>& daemon)
{
	const uint64_t total = number(kernel, "blocks_total");
	const uint64_t present = number(kernel, "blocks_present");
	std::printf("%s\n", device_path(index).c_str());
	if (daemon) {
		std::printf("  source:   %s (daemon pid %s)\n", text(*daemon, "url").c_str(), text(*daemon, "pid").c_str());
		std::printf("  image:    %s in %llu blocks of %s, %s\n", format_bytes(number(kernel, "image_size")).c_str(),
			    static_cast<unsigned long long>(total), format_bytes(number(kernel, "block_size")).c_str(),
			    text(*daemon, "codec").c_str());
	} else {
		std::printf("  daemon:   not running (cached blocks are still served; reads of missing ones wait "
			    "the module's dead_timeout, then fail; `httpcloop attach --recover %s` starts a new one)\n",
			    device_path(index).c_str());
		std::printf("  image:    %s in %llu blocks of %s\n", format_bytes(number(kernel, "image_size")).c_str(),
			    static_cast<unsigned long long>(total), format_bytes(number(kernel, "block_size")).c_str());
	}
	if (const uint64_t claims = number(kernel, "claims"); claims > 0)
		std::printf("  restarts: taken over by a new daemon %llu time%s\n", static_cast<unsigned long long>(claims),
			    claims == 1 ? "" : "s");
	std::printf("  cache:    %llu of %llu blocks present (%.1f%%)%s%s\n", static_cast<unsigned long long>(present),
		    static_cast<unsigned long long>(total), total ? 100.0 * static_cast<double>(present) / total : 0.0,
		    daemon ? " in " : "", daemon ? text(*daemon, "cache_dir").c_str() : "");
	if (daemon)
		std::printf("  network:  %llu blocks fetched, %s in %llu HTTP requests, %llu errors, %llu blocks failed\n",
			    static_cast<unsigned long long>(number(*daemon, "blocks_fetched")),
			    format_bytes(number(*daemon, "http_bytes")).c_str(),
			    static_cast<unsigned long long>(number(*daemon, "http_requests")),
			    static_cast<unsigned long long>(number(*daemon, "http_errors") + number(*daemon, "integrity_errors")),
			    static_cast<unsigned long long>(number(*daemon, "blocks_failed")));
	if (daemon)
		print_fetch_details(*daemon);
	const uint64_t cache_reads = number(kernel, "cache_reads");
	const uint64_t misses = number(kernel, "misses");
	std::printf("  hit rate: %.1f%% of reads found their blocks cached\n",
		    cache_reads + misses ? 100.0 * static_cast<double>(cache_reads) / static_cast<double>(cache_reads + misses) : 0.0);
	std::printf("  kernel:   %llu reads from cache, %llu waited for a block, %llu waiting now, %llu I/O errors\n",
		    static_cast<unsigned long long>(number(kernel, "cache_reads")),
		    static_cast<unsigned long long>(number(kernel, "misses")),
		    static_cast<unsigned long long>(number(kernel, "parked")),
		    static_cast<unsigned long long>(number(kernel, "io_errors")));
}

void print_fuse_human(const KeyValues& daemon)
{
	const uint64_t total = number(daemon, "blocks_total");
	const uint64_t present = number(daemon, "blocks_cached");
	std::printf("%s/image (FUSE)\n", text(daemon, "mountpoint").c_str());
	std::printf("  source:   %s (pid %s)\n", text(daemon, "url").c_str(), text(daemon, "pid").c_str());
	std::printf("  image:    %s in %llu blocks of %s, %s\n", format_bytes(number(daemon, "image_size")).c_str(),
		    static_cast<unsigned long long>(total), format_bytes(number(daemon, "block_size")).c_str(),
		    text(daemon, "codec").c_str());
	std::printf("  cache:    %llu of %llu blocks present (%.1f%%) in %s\n", static_cast<unsigned long long>(present),
		    static_cast<unsigned long long>(total), total ? 100.0 * static_cast<double>(present) / total : 0.0,
		    text(daemon, "cache_dir").c_str());
	std::printf("  network:  %llu blocks fetched, %s in %llu HTTP requests, %llu errors, %llu blocks failed\n",
		    static_cast<unsigned long long>(number(daemon, "blocks_fetched")),
		    format_bytes(number(daemon, "http_bytes")).c_str(),
		    static_cast<unsigned long long>(number(daemon, "http_requests")),
		    static_cast<unsigned long long>(number(daemon, "http_errors") + number(daemon, "integrity_errors")),
		    static_cast<unsigned long long>(number(daemon, "blocks_failed")));
	print_fetch_details(daemon);
	std::printf("  reads:    %llu, %llu all from cache, %llu I/O errors\n",
		    static_cast<unsigned long long>(number(daemon, "reads")),
		    static_cast<unsigned long long>(number(daemon, "cache_reads")),
		    static_cast<unsigned long long>(number(daemon, "io_errors")));
	if (daemon.contains("passthrough")) // not from a mount-fuse older than passthrough
		std::printf("  passthrough: %s, %llu opens with it\n", text(daemon, "passthrough").c_str(),
			    static_cast<unsigned long long>(number(daemon, "passthrough_opens")));
}

// What a command-line operand names: a device, or the mount point of a FUSE mount.
struct Target {
	std::optional<uint32_t> device;
	fs::path fuse_socket;
};

Target resolve_target(const char* operand)
{
	std::error_code error;
	if (fs::is_directory(operand, error)) {
		fs::path socket = fuse_control_socket_path(operand);
		if (!fs::exists(socket, error))
			throw Error(std::string("no httpcloop mount-fuse serves ") + operand);
		return {std::nullopt, socket};
	}
	return {parse_device_index(operand), {}};
}

} // namespace

int run_status(int argc, char** argv)
{
	static const option long_options[] = {
		{"json", no_argument, nullptr, 'J'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	bool json = false;
	std::optional<int> first_operand = parse_options(argc, argv, "h", long_options, status_help,
							 [&](int value, const char*) { json = json || value == 'J'; });
	if (!first_operand)
		return kExitOk;
	std::vector<Target> targets;
	for (int i = *first_operand; i < argc; i++)
		targets.push_back(resolve_target(argv[i]));
	if (targets.empty()) {
		for (uint32_t index : all_devices())
			targets.push_back({index, {}});
		for (const fs::path& socket : fuse_control_sockets())
			targets.push_back({std::nullopt, socket});
	}

	std::string json_items;
	for (const Target& target : targets) {
		JsonObject item;
		if (target.device) {
			const uint32_t index = *target.device;
			KeyValues kernel = read_kernel_attributes(index);
			std::optional<KeyValues> daemon;
			if (std::optional<std::string> reply = control_request(control_socket_path(index), "status"))
				daemon = parse_key_values(*reply);
			if (!json) {
				print_human(index, kernel, daemon);
				continue;
			}
			item.add("device", device_path(index));
			item.add_raw("kernel", to_json(kernel));
			item.add_raw("daemon", daemon ? to_json(*daemon) : "null");
		} else {
			std::optional<std::string> reply = control_request(target.fuse_socket, "status");
			if (!reply)
				continue; // a mount that went away meanwhile
			KeyValues daemon = parse_key_values(*reply);
			if (!json) {
				print_fuse_human(daemon);
				continue;
			}
			item.add("mountpoint", text(daemon, "mountpoint"));
			item.add_raw("kernel", "null");
			item.add_raw("daemon", to_json(daemon));
		}
		json_items += (json_items.empty() ? "" : ",") + item.str();
	}
	if (json)
		std::printf("[%s]\n", json_items.c_str());
	else if (targets.empty())
		std::printf("no httpcloop devices or FUSE mounts\n");
	return kExitOk;
}

} // namespace httpcloop::cli
