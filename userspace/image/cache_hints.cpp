#include "image/cache_hints.hpp"

#include "util/atomic_file.hpp"
#include "util/error.hpp"

#include <fstream>
#include <string>

namespace httpcloop {

namespace {

constexpr std::string_view kMarker = "# Written by httpcloop";

} // namespace

const std::string_view kApacheCacheHints =
	"# Written by httpcloop (mkimage, import-cloop); rewritten at each build unless this line\n"
	"# is changed. What shared caches (proxies, CDNs) may do with this image's files:\n"
	"# block files are named by the SHA-256 of their bytes and never change; the manifest,\n"
	"# its signature and a pack change when the image is rebuilt in place.\n"
	"<IfModule mod_headers.c>\n"
	"\t<FilesMatch \"^[0-9a-f]{64}$\">\n"
	"\t\tHeader set Cache-Control \"public, max-age=31536000, immutable\"\n"
	"\t</FilesMatch>\n"
	"\t<FilesMatch \"^(manifest|manifest\\.sig|blocks\\.pack)$\">\n"
	"\t\tHeader set Cache-Control \"public, max-age=60\"\n"
	"\t</FilesMatch>\n"
	"</IfModule>\n";

bool write_cache_hints(const std::filesystem::path& output_dir)
{
	const std::filesystem::path path = output_dir / ".htaccess";
	std::ifstream existing(path);
	if (existing) {
		std::string first_line;
		std::getline(existing, first_line);
		if (!first_line.starts_with(kMarker))
			return false;
	}
	const auto* bytes = reinterpret_cast<const uint8_t*>(kApacheCacheHints.data());
	write_file_atomically(path, std::span(bytes, kApacheCacheHints.size()));
	return true;
}

} // namespace httpcloop
