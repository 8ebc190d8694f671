#include "fetch/block_fetcher.hpp"

#include "util/small_file.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace httpcloop {

struct BlockFetcher::Transfer {
	FetchRequest request;
	CurlEasy handle;
	std::vector<uint8_t> body;
	std::string content_range; // the Content-Range header, if any
	std::string refused;       // why the write callback stopped the transfer
	std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
	char error_buffer[CURL_ERROR_SIZE] = {};
};

namespace {

// Spare body buffers kept for reuse, beyond which they are freed.
constexpr size_t kMaxSpareBuffers = 64;

std::string expected_content_range(const ByteRange& range)
{
	return "bytes " + std::to_string(range.offset) + "-" + std::to_string(range.offset + range.length - 1) + "/";
}

// Checks, at the first byte of a body, that it is the one we asked for.
std::string check_response(BlockFetcher::Transfer& transfer)
{
	long status = 0;
	curl_easy_getinfo(transfer.handle.get(), CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300)
		return {}; // an error status: reported with its code when the transfer ends
	if (!transfer.request.range)
		return status == 200 ? std::string() : "HTTP " + std::to_string(status) + " instead of 200";
	if (status != 206)
		return "the server ignored the Range request (HTTP " + std::to_string(status) + " instead of 206)";
	const std::string want = expected_content_range(*transfer.request.range);
	if (transfer.content_range.compare(0, want.size(), want) != 0)
		return "wrong Content-Range '" + transfer.content_range + "', asked for '" + want + "…'";
	return {};
}

// Appends to the transfer's body, refusing a body that is not the one asked for or that
// outgrows what the manifest promised (returning less than given makes libcurl abort).
size_t append_body(char* data, size_t size, size_t count, void* user)
{
	auto* transfer = static_cast<BlockFetcher::Transfer*>(user);
	const size_t length = size * count;
	if (transfer->body.empty()) {
		transfer->refused = check_response(*transfer);
		if (!transfer->refused.empty())
			return 0;
	}
	if (length > transfer->request.expected_size - transfer->body.size()) {
		transfer->refused = "body larger than the manifest says (" +
				    std::to_string(transfer->request.expected_size) + " bytes)";
		return 0;
	}
	// As bytes, so that the copy is one memcpy (a char* range into a uint8_t vector
	// would be copied element by element).
	const auto* bytes = reinterpret_cast<const uint8_t*>(data);
	transfer->body.insert(transfer->body.end(), bytes, bytes + length);
	return length;
}

// Keeps the Content-Range header of the final response (a redirect's headers come first).
size_t read_header(char* data, size_t size, size_t count, void* user)
{
	auto* transfer = static_cast<BlockFetcher::Transfer*>(user);
	std::string_view line(data, size * count);
	constexpr std::string_view kName = "content-range:";
	if (line.size() > kName.size() &&
	    std::equal(kName.begin(), kName.end(), line.begin(),
		       [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
		line.remove_prefix(kName.size());
		while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
			line.remove_prefix(1);
		while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
			line.remove_suffix(1);
		transfer->content_range = line;
	} else if (line.rfind("HTTP/", 0) == 0) {
		transfer->content_range.clear(); // a new response (after a redirect)
	}
	return size * count;
}

// A CA bundle is a few hundred KiB (Debian's is ~220 KiB).
constexpr size_t kMaxCaBundleBytes = 16 * 1024 * 1024;

void append_to_list(CurlList& list, const std::string& entry)
{
	curl_slist* grown = curl_slist_append(list.get(), entry.c_str());
	if (!grown)
		throw HttpError("libcurl: out of memory");
	[[maybe_unused]] curl_slist* kept = list.release(); // now part of `grown`
	list.reset(grown);
}

} // namespace

BlockFetcher::BlockFetcher(const FetchOptions& options) : options_(options)
{
	ensure_curl_initialised();
	multi_.reset(curl_multi_init());
	if (!multi_)
		throw HttpError("libcurl: cannot create a multi handle");
	curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	// Connections per host: enough for the transfers we run, and kept for reuse.
	curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options_.max_parallel));
	curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_parallel * 2));
	// Read the CAs now: OpenSSL would read the file again for each new connection, and a
	// daemon serving the root file system can no longer reach it once the initramfs is gone.
	if (options_.ca_bundle)
		ca_bundle_ = *options_.ca_bundle;
	else if (!options_.ca_file.empty())
		ca_bundle_ = read_ca_bundle(options_.ca_file);
	for (const std::string& entry : options_.pinned_addresses)
		append_to_list(pinned_, entry);
	// HTTP/1.0 caches know only Pragma.
	append_to_list(no_cache_headers_, "Cache-Control: no-cache");
	append_to_list(no_cache_headers_, "Pragma: no-cache");
}

std::string read_ca_bundle(const std::string& path)
{
	return read_small_file(path, kMaxCaBundleBytes, "CA file");
}

BlockFetcher::~BlockFetcher()
{
	for (auto& transfer : active_)
		curl_multi_remove_handle(multi_.get(), transfer->handle.get());
}

CurlEasy BlockFetcher::take_handle()
{
	if (!idle_handles_.empty()) {
		CurlEasy handle = std::move(idle_handles_.back());
		idle_handles_.pop_back();
		curl_easy_reset(handle.get());
		return handle;
	}
	CurlEasy handle(curl_easy_init());
	if (!handle)
		throw HttpError("libcurl: cannot create a handle");
	return handle;
}

void BlockFetcher::start(FetchRequest request)
{
	auto transfer = std::make_unique<Transfer>();
	transfer->request = std::move(request);
	transfer->handle = take_handle();
	transfer->body = spare_buffer();
	transfer->body.reserve(transfer->request.expected_size);
	CURL* h = transfer->handle.get();
	set_curl_option(h, CURLOPT_URL, transfer->request.url.c_str());
	set_curl_option(h, CURLOPT_PRIVATE, transfer.get());
	set_curl_option(h, CURLOPT_WRITEFUNCTION, &append_body);
	set_curl_option(h, CURLOPT_WRITEDATA, transfer.get());
	set_curl_option(h, CURLOPT_HEADERFUNCTION, &read_header);
	set_curl_option(h, CURLOPT_HEADERDATA, transfer.get());
	set_curl_option(h, CURLOPT_ERRORBUFFER, transfer->error_buffer);
	set_curl_option(h, CURLOPT_NOSIGNAL, 1L);
	set_curl_option(h, CURLOPT_FOLLOWLOCATION, 1L);
	set_curl_option(h, CURLOPT_MAXREDIRS, 3L);
	set_curl_option(h, CURLOPT_PROTOCOLS_STR, "http,https");
	set_curl_option(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	set_curl_option(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
	set_curl_option(h, CURLOPT_TIMEOUT, options_.transfer_timeout_s);
	set_curl_option(h, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
	set_curl_option(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
	set_curl_option(h, CURLOPT_PIPEWAIT, 1L);
	// (libcurl's 16 KiB receive buffer is kept: the recv calls a bigger one would save are
	// few per block, and libcurl 7.88 refuses CURLOPT_BUFFERSIZE on a handle reused after
	// an HTTP/2 transfer, which tests/host/t-https.sh would catch.)
	set_curl_option(h, CURLOPT_USERAGENT, "httpcloop/0.1");
	if (!ca_bundle_.empty()) {
		curl_blob blob{ca_bundle_.data(), ca_bundle_.size(), CURL_BLOB_NOCOPY};
		set_curl_option(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (options_.resolve_once)
		set_curl_option(h, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
	if (pinned_)
		set_curl_option(h, CURLOPT_RESOLVE, pinned_.get());
	if (transfer->request.bypass_caches)
		set_curl_option(h, CURLOPT_HTTPHEADER, no_cache_headers_.get());
	if (transfer->request.range) {
		const ByteRange& range = *transfer->request.range;
		std::string spec = std::to_string(range.offset) + "-" + std::to_string(range.offset + range.length - 1);
		set_curl_option(h, CURLOPT_RANGE, spec.c_str()); // libcurl copies it
	}
	CURLMcode added = curl_multi_add_handle(multi_.get(), h);
	if (added != CURLM_OK)
		throw HttpError(std::string("libcurl: cannot start a transfer: ") + curl_multi_strerror(added));
	counters_.requests++;
	active_.push_back(std::move(transfer));
}

void BlockFetcher::recycle(std::vector<uint8_t>&& buffer)
{
	if (buffer.capacity() == 0 || spare_buffers_.size() >= kMaxSpareBuffers)
		return;
	buffer.clear();
	spare_buffers_.push_back(std::move(buffer));
}

std::vector<uint8_t> BlockFetcher::spare_buffer()
{
	if (spare_buffers_.empty())
		return {};
	std::vector<uint8_t> buffer = std::move(spare_buffers_.back());
	spare_buffers_.pop_back();
	return buffer;
}

void BlockFetcher::poll(struct curl_waitfd* extra, unsigned extra_count, int timeout_ms)
{
	// No curl_multi_perform before the wait: a transfer it finished would sit unreported
	// while the poll sleeps for the whole timeout. curl_multi_poll already shortens its
	// wait to libcurl's own timers (0 for a transfer just added).
	int running = 0;
	CURLMcode result = curl_multi_poll(multi_.get(), extra, extra_count, timeout_ms, nullptr);
	if (result != CURLM_OK)
		throw HttpError(std::string("libcurl: poll failed: ") + curl_multi_strerror(result));
	curl_multi_perform(multi_.get(), &running);
}

std::vector<FetchResult> BlockFetcher::collect()
{
	std::vector<FetchResult> results;
	int queued_messages = 0;
	while (CURLMsg* message = curl_multi_info_read(multi_.get(), &queued_messages)) {
		if (message->msg != CURLMSG_DONE)
			continue;
		CURL* h = message->easy_handle;
		CURLcode code = message->data.result;
		auto found = std::find_if(active_.begin(), active_.end(),
					  [h](const auto& transfer) { return transfer->handle.get() == h; });
		if (found == active_.end())
			continue;
		std::unique_ptr<Transfer> transfer = std::move(*found);
		active_.erase(found);
		curl_multi_remove_handle(multi_.get(), h);

		FetchResult result;
		result.tag = transfer->request.tag;
		result.elapsed = std::chrono::steady_clock::now() - transfer->started;
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		long redirects = 0;
		curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects);
		char* effective = nullptr;
		curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
		result.effective_url = effective ? effective : transfer->request.url;
		result.redirected = redirects > 0;
		counters_.bytes += transfer->body.size();
		const std::string& url = transfer->request.url;
		if (!transfer->refused.empty()) {
			result.error = url + ": " + transfer->refused;
		} else if (code != CURLE_OK) {
			result.error = url + ": " + (transfer->error_buffer[0] ? transfer->error_buffer : curl_easy_strerror(code));
		} else if (status != (transfer->request.range ? 206 : 200)) {
			result.error = url + ": HTTP " + std::to_string(status);
			result.not_found = status == 404 || status == 410;
		} else if (transfer->body.size() != transfer->request.expected_size) {
			result.error = url + ": got " + std::to_string(transfer->body.size()) + " bytes, expected " +
				       std::to_string(transfer->request.expected_size);
		} else {
			result.ok = true;
			result.body = std::move(transfer->body);
		}
		if (!result.ok) {
			counters_.errors++;
			recycle(std::move(transfer->body));
		}
		results.push_back(std::move(result));
		idle_handles_.push_back(std::move(transfer->handle));
	}
	return results;
}

} // namespace httpcloop
