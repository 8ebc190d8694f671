#include "fetch/curl_handle.hpp"

#include <mutex>

namespace httpcloop {

void ensure_curl_initialised()
{
	// curl_global_init is not thread-safe on older libcurl; do it once.
	static std::once_flag once;
	static CURLcode result = CURLE_OK;
	std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
	if (result != CURLE_OK)
		throw HttpError(std::string("cannot initialise libcurl: ") + curl_easy_strerror(result));
}

} // namespace httpcloop
