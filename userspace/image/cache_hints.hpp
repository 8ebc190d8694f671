#pragma once
// What shared caches (proxies, CDNs) should be told about a published image, written
// beside it for Apache (OUTDIR/.htaccess; mod_headers, AllowOverride FileInfo). nginx
// reads no such file: docs/examples/nginx-httpcloop.conf says the same in its terms.

#include <filesystem>
#include <string_view>

namespace httpcloop {

// The .htaccess text: block files (named by their content) cached for a year as
// immutable; the manifest, its signature and a pack for a minute, then revalidated.
extern const std::string_view kApacheCacheHints;

// Writes OUTDIR/.htaccess (atomically) unless a .htaccess that httpcloop did not write is
// there: a site's own file is never replaced. Returns whether it wrote one.
bool write_cache_hints(const std::filesystem::path& output_dir);

} // namespace httpcloop
