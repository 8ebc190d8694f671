#include "fetch/block_fetcher.hpp"

#include <algorithm>
#include <cstring>

namespace httpcloop {

struct BlockFetcher::Transfer {
	uint64_t block = 0;
	std::string url;
	size_t expected_size = 0;
	bool too_large = false;
	std::vector<uint8_t> body;
	CurlEasy handle;
	char error_buffer[CURL_ERROR_SIZE] = {};
};

namespace {

// Appends to the transfer's body, refusing to grow it past what the manifest promised
// (returning less than given makes libcurl abort with CURLE_WRITE_ERROR).
size_t append_body(char* data, size_t size, size_t count, void* user)
{
	auto* transfer = static_cast<BlockFetcher::Transfer*>(user);
	const size_t length = size * count;
	if (length > transfer->expected_size - transfer->body.size()) {
		transfer->too_large = true;
		return 0;
	}
	transfer->body.insert(transfer->body.end(), data, data + length);
	return length;
}

} // namespace

BlockFetcher::BlockFetcher(const FetchOptions& options) : options_(options)
{
	ensure_curl_initialised();
	multi_.reset(curl_multi_init());
	if (!multi_)
		throw HttpError("libcurl: cannot create a multi handle");
	curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.max_parallel));
	curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
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

void BlockFetcher::start(uint64_t block, std::string url, size_t expected_size)
{
	auto transfer = std::make_unique<Transfer>();
	transfer->block = block;
	transfer->url = std::move(url);
	transfer->expected_size = expected_size;
	queued_.push_back(std::move(transfer));
	launch_queued();
}

void BlockFetcher::launch_queued()
{
	while (!queued_.empty() && active_.size() < options_.max_parallel) {
		std::unique_ptr<Transfer> transfer = std::move(queued_.front());
		queued_.pop_front();
		transfer->handle = take_handle();
		transfer->body.reserve(transfer->expected_size);
		CURL* h = transfer->handle.get();
		set_curl_option(h, CURLOPT_URL, transfer->url.c_str());
		set_curl_option(h, CURLOPT_PRIVATE, transfer.get());
		set_curl_option(h, CURLOPT_WRITEFUNCTION, &append_body);
		set_curl_option(h, CURLOPT_WRITEDATA, transfer.get());
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
		set_curl_option(h, CURLOPT_USERAGENT, "httpcloop/0.1");
		// Block files are already compressed; a transfer encoding would only cost CPU.
		set_curl_option(h, CURLOPT_ACCEPT_ENCODING, static_cast<const char*>(nullptr));
		CURLMcode added = curl_multi_add_handle(multi_.get(), h);
		if (added != CURLM_OK)
			throw HttpError(std::string("libcurl: cannot start a transfer: ") + curl_multi_strerror(added));
		counters_.requests++;
		active_.push_back(std::move(transfer));
	}
}

void BlockFetcher::poll(struct curl_waitfd* extra, unsigned extra_count, int timeout_ms)
{
	int running = 0;
	curl_multi_perform(multi_.get(), &running);
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
		result.block = transfer->block;
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		counters_.bytes += transfer->body.size();
		if (transfer->too_large) {
			result.error = transfer->url + ": body larger than the manifest says (" +
				       std::to_string(transfer->expected_size) + " bytes)";
		} else if (code != CURLE_OK) {
			result.error = transfer->url + ": " +
				       (transfer->error_buffer[0] ? transfer->error_buffer : curl_easy_strerror(code));
		} else if (status != 200) {
			result.error = transfer->url + ": HTTP " + std::to_string(status);
			result.retryable = status != 404 && status != 410;
		} else if (transfer->body.size() != transfer->expected_size) {
			result.error = transfer->url + ": got " + std::to_string(transfer->body.size()) +
				       " bytes, the manifest says " + std::to_string(transfer->expected_size);
		} else {
			result.ok = true;
			result.body = std::move(transfer->body);
		}
		if (!result.ok)
			counters_.errors++;
		results.push_back(std::move(result));
		idle_handles_.push_back(std::move(transfer->handle));
	}
	launch_queued();
	return results;
}

} // namespace httpcloop
