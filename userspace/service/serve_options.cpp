#include "service/serve_options.hpp"

#include "fetch/http_get.hpp"
#include "service/boot_profile.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "verify/verify.hpp"

#include <algorithm>
#include <thread>

namespace httpcloop {

std::vector<std::string> ServeOptions::urls() const
{
	std::vector<std::string> all{url};
	all.insert(all.end(), mirrors.begin(), mirrors.end());
	return all;
}

ServiceOptions ServeOptions::service_options(const Sha256& image_id) const
{
	ServiceOptions service;
	service.urls = urls();
	service.max_attempts = max_attempts;
	service.block_deadline = block_deadline;
	service.fetch = fetch;
	service.fetch.ca_file = trust.ca_file; // --cacert holds for the blocks as for the manifest
	if (!readahead)
		service.readahead_max_bytes = 0;
	service.record_profile = record_profile;
	service.record_profile_directory = record_profile_directory;
	service.image_id_hex = to_hex(image_id);
	return service;
}

void verify_cache_if_asked(CacheStore& cache, const Manifest& manifest, const ServeOptions& options)
{
	if (!options.verify_cache)
		return;
	VerifyReport report = verify_cache(cache, manifest, std::max(1u, std::thread::hardware_concurrency()));
	for (const std::string& problem : report.problems)
		log_warning(problem);
	log_info("cache verified: " + std::to_string(report.blocks_checked) + " blocks, " +
		 std::to_string(report.bad_blocks) + " bad (forgotten)");
}

namespace {

constexpr size_t kMaxProfileDownloadBytes = 64 * 1024 * 1024;

bool is_url(const std::string& text)
{
	return text.starts_with("http://") || text.starts_with("https://");
}

// A profile given by URL is a hint from the network: it only orders prefetches (every
// block is verified as always, out-of-range numbers are dropped), so a profile that cannot
// be fetched or read is a warning, not a reason to refuse the image.
std::vector<uint64_t> fetch_profile(const std::string& url, const std::string& image_id_hex, const std::string& ca_file)
{
	try {
		std::vector<uint8_t> bytes = http_get(url, kMaxProfileDownloadBytes, ca_file);
		return parse_profile(std::string(bytes.begin(), bytes.end()), image_id_hex);
	} catch (const Error& e) {
		log_warning("boot profile " + url + " not used: " + e.what());
		return {};
	}
}

} // namespace

void start_background_work(BlockService& service, const ServeOptions& options, const Sha256& image_id)
{
	if (!options.profile.empty()) {
		const std::string& source = options.profile.native();
		std::vector<uint64_t> blocks = is_url(source) ? fetch_profile(source, to_hex(image_id), options.trust.ca_file)
							      : load_profile(options.profile, to_hex(image_id));
		log_info("prefetching " + std::to_string(blocks.size()) + " blocks in the order of " +
			 options.profile.native());
		service.prefetch(blocks);
	}
	if (options.prefetch_all)
		service.prefetch_all();
}

} // namespace httpcloop
