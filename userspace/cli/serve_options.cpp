#include "cli/serve_options.hpp"

#include "cli/cli_support.hpp"
#include "cli/trust_options.hpp"

namespace httpcloop::cli {

namespace {
enum { kCache = 1000, kForeground, kParallel, kAttempts, kTimeout, kMirror, kCacert, kDeadline, kNoReadahead,
       kPrefetch, kProfile, kRecordProfile, kVerifyCache };
} // namespace


std::vector<option> serve_long_options(std::initializer_list<option> extra)
{
	std::vector<option> options = {
		{"cache", required_argument, nullptr, kCache},
		{"foreground", no_argument, nullptr, kForeground},
		{"parallel", required_argument, nullptr, kParallel},
		{"attempts", required_argument, nullptr, kAttempts},
		{"timeout", required_argument, nullptr, kTimeout},
		{"mirror", required_argument, nullptr, kMirror},
		{"cacert", required_argument, nullptr, kCacert},
		{"deadline", required_argument, nullptr, kDeadline},
		{"no-readahead", no_argument, nullptr, kNoReadahead},
		{"prefetch", required_argument, nullptr, kPrefetch},
		{"profile", required_argument, nullptr, kProfile},
		{"record-profile", required_argument, nullptr, kRecordProfile},
		{"verify-cache", no_argument, nullptr, kVerifyCache},
		{"pubkey", required_argument, nullptr, kOptionPubkey},
		{"sha256", required_argument, nullptr, kOptionSha256},
	};
	options.insert(options.end(), extra);
	options.push_back({nullptr, 0, nullptr, 0});
	return options;
}

bool apply_serve_option(int value, const char* argument, ServeOptions& options)
{
	switch (value) {
	case kCache: options.cache_dir = argument; return true;
	case kForeground: options.foreground = true; return true;
	case kParallel:
		options.fetch.max_parallel = static_cast<unsigned>(parse_integer(argument, 1, 64, "--parallel"));
		return true;
	case kAttempts:
		options.max_attempts = static_cast<unsigned>(parse_integer(argument, 1, 20, "--attempts"));
		return true;
	case kTimeout: options.fetch.transfer_timeout_s = parse_integer(argument, 1, 3600, "--timeout"); return true;
	case kMirror: options.mirrors.emplace_back(argument); return true;
	case kCacert:
		// One setting for the manifest download and (through service_options) the blocks.
		options.trust.ca_file = argument;
		return true;
	case kDeadline:
		options.block_deadline = std::chrono::seconds(parse_integer(argument, 1, 3600, "--deadline"));
		return true;
	case kNoReadahead: options.readahead = false; return true;
	case kPrefetch:
		if (std::string_view(argument) != "all")
			throw UsageError("--prefetch takes 'all'");
		options.prefetch_all = true;
		return true;
	case kProfile: options.profile = argument; return true;
	case kRecordProfile: options.record_profile = argument; return true;
	case kVerifyCache: options.verify_cache = true; return true;
	default: return apply_trust_option(value, argument, options.trust);
	}
}

} // namespace httpcloop::cli
