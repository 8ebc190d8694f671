#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/trust_options.hpp"
#include "service/loaded_image.hpp"
#include "util/human_size.hpp"
#include "verify/verify.hpp"

#include <cstdio>
#include <thread>

namespace httpcloop::cli {

const std::string_view verify_help =
	"Usage: httpcloop verify [OPTIONS] URL|DIR\n"
	"\n"
	"Check an image block by block. Without --cache: every stored block of the published\n"
	"image (downloaded from URL, or read from the local image directory DIR) must have the\n"
	"SHA-256 its manifest names, decompress to exactly its size, and have the plaintext\n"
	"SHA-256 the manifest names. With --cache: every block cached for this image in DIR\n"
	"must have its plaintext SHA-256; bad ones are forgotten, so that they are fetched\n"
	"again (for a cache on untrusted local storage). Exits 1 if any block is bad.\n"
	"\n"
	"Options:\n"
	"  --cache DIR          check the cache of this image in DIR instead\n"
	"  --threads N          threads (default: one per core)\n"
	"  --stored-hash-only   check only what a client checks before using a block (the\n"
	"                       stored hash, then an exact decompression): faster\n"
	"  --pubkey FILE, --sha256 HEX   verify the manifest first (see attach)\n"
	"  --cacert FILE        trust these CA certificates for https:// (default: the system's)\n"
	"  -h, --help           show this help\n";

int run_verify(int argc, char** argv)
{
	enum { kCache = 1000, kThreads, kStoredHashOnly };
	static const option long_options[] = {
		{"cache", required_argument, nullptr, kCache},
		{"threads", required_argument, nullptr, kThreads},
		{"stored-hash-only", no_argument, nullptr, kStoredHashOnly},
		{"pubkey", required_argument, nullptr, kOptionPubkey},
		{"sha256", required_argument, nullptr, kOptionSha256},
		{"cacert", required_argument, nullptr, kOptionCacert},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	std::optional<std::filesystem::path> cache_dir;
	unsigned threads = std::max(1u, std::thread::hardware_concurrency());
	PlaintextCheck check = PlaintextCheck::hash;
	TrustOptions trust;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, verify_help, [&](int value, const char* argument) {
			switch (value) {
			case kCache: cache_dir = argument; break;
			case kThreads: threads = static_cast<unsigned>(parse_integer(argument, 1, 256, "--threads")); break;
			case kStoredHashOnly: check = PlaintextCheck::by_stored_hash; break;
			default: apply_trust_option(value, argument, trust); break;
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one URL or directory, got " + std::to_string(argc - *first_operand) + " operands");
	const std::string location = argv[*first_operand];
	LoadedImage image = load_image({location}, trust);

	VerifyReport report;
	if (cache_dir) {
		CacheStore cache = CacheStore::open(*cache_dir, image.manifest, image.id);
		report = verify_cache(cache, image.manifest, threads);
	} else {
		report = verify_published(location, image.manifest, threads, check, trust.ca_file);
	}
	for (const std::string& problem : report.problems)
		std::fprintf(stderr, "httpcloop verify: %s\n", problem.c_str());
	if (report.bad_blocks > report.problems.size())
		std::fprintf(stderr, "httpcloop verify: … and %llu more\n",
			     static_cast<unsigned long long>(report.bad_blocks - report.problems.size()));
	std::printf("%s: %llu blocks checked (%s of plaintext) in %.2f s, %.1f MB/s: %llu bad\n",
		    cache_dir ? "cache" : "image", static_cast<unsigned long long>(report.blocks_checked),
		    format_bytes(report.plain_bytes).c_str(), report.seconds,
		    report.seconds > 0 ? static_cast<double>(report.plain_bytes) / 1e6 / report.seconds : 0.0,
		    static_cast<unsigned long long>(report.bad_blocks));
	return report.bad_blocks == 0 ? kExitOk : kExitFailure;
}

} // namespace httpcloop::cli
