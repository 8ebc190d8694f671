#include "service/prefetch_run.hpp"

#include "cache/cache_store.hpp"
#include "service/block_service.hpp"
#include "service/loaded_image.hpp"

namespace httpcloop {

PrefetchOutcome prefetch_into_cache(const ServeOptions& options,
				    const std::function<void(uint64_t, uint64_t)>& on_progress)
{
	LoadedImage image = load_image(options.urls(), options.trust);
	CacheStore cache = CacheStore::open(options.cache_dir, image.manifest, image.id);
	PrefetchOutcome outcome;
	outcome.blocks_total = image.manifest.block_count();
	{
		BlockService service(options.service_options(image.id), image.manifest, cache,
				     [&](uint64_t, std::string_view error) {
					     if (!error.empty())
						     outcome.blocks_failed++;
				     });
		service.prefetch_all();
		while (service.stats().prefetching || service.stats().in_flight > 0) {
			service.poll(nullptr, 0, 200);
			service.process();
			if (on_progress)
				on_progress(cache.present_count(), outcome.blocks_total);
		}
		service.flush();
	}
	outcome.blocks_cached = cache.present_count();
	return outcome;
}

} // namespace httpcloop
