#include "service/status_text.hpp"

#include <unistd.h>

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
	    << "blocks_failed=" << stats.blocks_failed << '\n'
	    << "integrity_errors=" << stats.integrity_errors << '\n'
	    << "http_requests=" << stats.http.requests << '\n'
	    << "http_bytes=" << stats.http.bytes << '\n'
	    << "http_errors=" << stats.http.errors << '\n'
	    << "in_flight=" << stats.in_flight << '\n';
	return out.str();
}

} // namespace httpcloop
