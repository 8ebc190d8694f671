#include "fetch/http_get.hpp"

#include "fetch/curl_handle.hpp"

#include "format/manifest.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cctype>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>

namespace httpcloop {

namespace {

struct Download {
	std::vector<uint8_t> body;
	size_t max_bytes = 0;
	bool too_large = false;
};

size_t append_body(char* data, size_t size, size_t count, void* user)
{
	auto* download = static_cast<Download*>(user);
	const size_t length = size * count;
	if (length > download->max_bytes - download->body.size()) {
		download->too_large = true;
		return 0; // makes libcurl abort with CURLE_WRITE_ERROR
	}
	download->body.insert(download->body.end(), data, data + length);
	return length;
}

bool starts_with_case_insensitive(std::string_view text, std::string_view prefix)
{
	return text.size() >= prefix.size() &&
	       std::equal(prefix.begin(), prefix.end(), text.begin(),
			  [](char expected, char actual) {
				  return std::tolower(static_cast<unsigned char>(actual)) == expected;
			  });
}

std::vector<uint8_t> read_local_manifest(std::string path)
{
	struct stat status{};
	if (::stat(path.c_str(), &status) != 0)
		throw_errno("cannot open image " + path);
	if (S_ISDIR(status.st_mode))
		path += "/manifest";

	UniqueFd fd = open_or_throw(path, O_RDONLY);
	if (::fstat(fd.get(), &status) != 0)
		throw_errno("cannot stat " + path);
	if (!S_ISREG(status.st_mode))
		throw IoError(path + " is not a regular file");
	if (static_cast<uint64_t>(status.st_size) > Manifest::kMaxManifestBytes)
		throw FormatError(path + " is " + std::to_string(status.st_size) + " bytes, above the manifest limit of " +
				  std::to_string(Manifest::kMaxManifestBytes));
	// Read one byte more than the size we saw, to notice a file that grows meanwhile.
	std::vector<uint8_t> bytes(static_cast<size_t>(status.st_size) + 1);
	bytes.resize(pread_full(fd.get(), bytes, 0, path));
	if (bytes.size() > Manifest::kMaxManifestBytes)
		throw FormatError(path + " is above the manifest limit of " + std::to_string(Manifest::kMaxManifestBytes));
	return bytes;
}

} // namespace

std::vector<uint8_t> http_get(const std::string& url, size_t max_bytes, const std::string& ca_file)
{
	ensure_curl_initialised();
	CurlEasy handle(curl_easy_init());
	if (!handle)
		throw HttpError("libcurl: cannot create a handle");
	CURL* curl = handle.get();

	Download download;
	download.max_bytes = max_bytes;
	char error_buffer[CURL_ERROR_SIZE] = "";

	set_curl_option(curl, CURLOPT_URL, url.c_str());
	set_curl_option(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	set_curl_option(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	set_curl_option(curl, CURLOPT_FOLLOWLOCATION, 1L);
	set_curl_option(curl, CURLOPT_MAXREDIRS, 3L);
	set_curl_option(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	// Abort a transfer that stalls below 1 KiB/s for 30 s instead of hanging forever.
	set_curl_option(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	set_curl_option(curl, CURLOPT_LOW_SPEED_TIME, 30L);
	set_curl_option(curl, CURLOPT_NOSIGNAL, 1L);
	set_curl_option(curl, CURLOPT_FAILONERROR, 0L); // we report the status ourselves
	set_curl_option(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes));
	set_curl_option(curl, CURLOPT_ERRORBUFFER, error_buffer);
	set_curl_option(curl, CURLOPT_WRITEFUNCTION, append_body);
	set_curl_option(curl, CURLOPT_WRITEDATA, &download);
	set_curl_option(curl, CURLOPT_USERAGENT, "httpcloop");
	// The manifest comes from the same servers as the blocks: --cacert must hold for it
	// too, or an image on a server with a private CA fails before its first block.
	if (!ca_file.empty())
		set_curl_option(curl, CURLOPT_CAINFO, ca_file.c_str());

	CURLcode result = curl_easy_perform(curl);
	if (download.too_large || result == CURLE_FILESIZE_EXCEEDED)
		throw HttpError("GET " + url + ": response is larger than the limit of " + std::to_string(max_bytes) +
				" bytes");
	if (result != CURLE_OK)
		throw HttpError("GET " + url + ": " + (error_buffer[0] ? error_buffer : curl_easy_strerror(result)));

	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400)
		throw HttpError("GET " + url + ": HTTP status " + std::to_string(status));
	if (status != 200)
		throw HttpError("GET " + url + ": unexpected HTTP status " + std::to_string(status));
	return std::move(download.body);
}

std::string join_url(std::string_view base, std::string_view relative)
{
	if (size_t fragment = base.find('#'); fragment != std::string_view::npos)
		base = base.substr(0, fragment);
	std::string joined(base);
	if (joined.empty() || joined.back() != '/')
		joined += '/';
	joined += relative;
	return joined;
}

bool is_http_url(std::string_view location)
{
	return starts_with_case_insensitive(location, "http://") || starts_with_case_insensitive(location, "https://");
}

std::vector<uint8_t> load_manifest_bytes(const std::string& location, const std::string& ca_file)
{
	if (is_http_url(location))
		return http_get(join_url(location, "manifest"), Manifest::kMaxManifestBytes, ca_file);
	if (starts_with_case_insensitive(location, "file://"))
		return read_local_manifest(location.substr(7));
	if (location.find("://") != std::string::npos)
		throw Error("unsupported URL scheme in " + location + " (use http://, https:// or a local path)");
	return read_local_manifest(location);
}

} // namespace httpcloop
