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
	"Usage: httpcloop status [--json] [DEVICE...]\n"
	"\n"
	"Show each httpcloop device (all of them when none is named): the image and its\n"
	"source, blocks present in the cache out of the total, blocks and bytes fetched over\n"
	"HTTP, requests and errors, and what the kernel served from the cache.\n"
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
		std::printf("  daemon:   not running (cached blocks are still served; missing ones fail)\n");
		std::printf("  image:    %s in %llu blocks of %s\n", format_bytes(number(kernel, "image_size")).c_str(),
			    static_cast<unsigned long long>(total), format_bytes(number(kernel, "block_size")).c_str());
	}
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
	std::printf("  kernel:   %llu reads from cache, %llu waited for a block, %llu waiting now, %llu I/O errors\n",
		    static_cast<unsigned long long>(number(kernel, "cache_reads")),
		    static_cast<unsigned long long>(number(kernel, "misses")),
		    static_cast<unsigned long long>(number(kernel, "parked")),
		    static_cast<unsigned long long>(number(kernel, "io_errors")));
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
	std::vector<uint32_t> indices;
	for (int i = *first_operand; i < argc; i++)
		indices.push_back(parse_device_index(argv[i]));
	if (indices.empty())
		indices = all_devices();

	std::string json_items;
	for (uint32_t index : indices) {
		KeyValues kernel = read_kernel_attributes(index);
		std::optional<KeyValues> daemon;
		if (std::optional<std::string> reply = control_request(control_socket_path(index), "status"))
			daemon = parse_key_values(*reply);
		if (json) {
			JsonObject item;
			item.add("device", device_path(index));
			item.add_raw("kernel", to_json(kernel));
			item.add_raw("daemon", daemon ? to_json(*daemon) : "null");
			json_items += (json_items.empty() ? "" : ",") + item.str();
		} else {
			print_human(index, kernel, daemon);
		}
	}
	if (json)
		std::printf("[%s]\n", json_items.c_str());
	else if (indices.empty())
		std::printf("no httpcloop devices\n");
	return kExitOk;
}

} // namespace httpcloop::cli
