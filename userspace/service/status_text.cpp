#include "service/status_text.hpp"

#include <unistd.h>

#include <chrono>
#include <sstream>

namespace httpcloop {

std::string service_status_text(const std::string& url, const Sha256& image_id, BlockService& service)
{
	const Manifest& manifest = service.manifest();
	const ServiceStats stats = service.stats();
	std::ostringstream out;
	out << "url=" << url << '\n'
	    << "pid=" << getpid() << '\n'
	    << "image_id=" << to_hex(image_id) << '\n'
	    << "cache_dir=" << service.cache().directory().native() << '\n'
	    << "codec=" << codec_name(manifest.codec) << '\n'
	    << "image_size=" << manifest.image_size << '\n'
	    << "block_size=" << manifest.block_size << '\n'
	    << "blocks_total=" << manifest.block_count() << '\n'
	    << "blocks_cached=" << service.cache().present_count() << '\n'
	    << "fetch_requests=" << stats.requests << '\n'
	    << "blocks_fetched=" << stats.blocks_fetched << '\n'
	    << "blocks_reused=" << stats.blocks_reused << '\n'
	    << "reuse_mismatches=" << stats.local_mismatches << '\n'
	    << "blocks_failed=" << stats.blocks_failed << '\n'
	    << "integrity_errors=" << stats.integrity_errors << '\n'
	    << "cache_errors=" << stats.cache_errors << '\n'
	    << "cache_failed=" << stats.cache_failure << '\n'
	    << "http_requests=" << stats.http.requests << '\n'
	    << "http_bytes=" << stats.http.bytes << '\n'
	    << "http_errors=" << stats.http.errors << '\n'
	    << "in_flight=" << stats.in_flight << '\n'
	    << "readahead_blocks=" << stats.readahead_blocks << '\n'
	    << "readahead_joined=" << stats.readahead_joined << '\n'
	    << "background_blocks=" << stats.background_blocks << '\n'
	    << "prefetching=" << (stats.prefetching ? 1 : 0) << '\n'
	    << "mirrors=" << stats.mirrors.size() << '\n';
	const MissTimes& misses = stats.misses;
	const auto us = [](std::chrono::nanoseconds t) {
		return std::chrono::duration_cast<std::chrono::microseconds>(t).count();
	};
	out << "miss_count=" << misses.count << '\n'
	    << "miss_queued_us=" << us(misses.queued) << '\n'
	    << "miss_http_us=" << us(misses.http) << '\n'
	    << "miss_decode_wait_us=" << us(misses.decode_wait) << '\n'
	    << "miss_hash_us=" << us(misses.hash) << '\n'
	    << "miss_decompress_us=" << us(misses.decompress) << '\n'
	    << "miss_cache_write_us=" << us(misses.cache_write) << '\n'
	    << "miss_completion_us=" << us(misses.completion) << '\n';
	for (size_t i = 0; i < stats.mirrors.size(); i++) {
		const auto& [url, mirror] = stats.mirrors[i];
		const std::string key = "mirror." + std::to_string(i) + ".";
		out << key << "url=" << url << '\n'
		    << key << "requests=" << mirror.requests << '\n'
		    << key << "bytes=" << mirror.bytes << '\n'
		    << key << "errors=" << mirror.errors << '\n'
		    << key << "latency_us=" << static_cast<uint64_t>(mirror.latency_ms * 1000) << '\n'
		    << key << "down=" << (mirror.down ? 1 : 0) << '\n';
	}
	return out.str();
}

} // namespace httpcloop
