#include "service/serve_options.hpp"

#include "service/boot_profile.hpp"
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

void start_background_work(BlockService& service, const ServeOptions& options, const Sha256& image_id)
{
	if (!options.profile.empty()) {
		std::vector<uint64_t> blocks = load_profile(options.profile, to_hex(image_id));
		log_info("prefetching " + std::to_string(blocks.size()) + " blocks in the order of " +
			 options.profile.native());
		service.prefetch(blocks);
	}
	if (options.prefetch_all)
		service.prefetch_all();
}

} // namespace httpcloop
