#pragma once
// RAII owners for libcurl handles and the one-time global initialisation.

#include "util/error.hpp"

#include <curl/curl.h>

#include <memory>
#include <string>

namespace httpcloop {

struct CurlEasyDeleter {
	void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlMultiDeleter {
	void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

struct CurlListDeleter {
	void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

// curl_global_init, once per process; throws HttpError if libcurl cannot start.
void ensure_curl_initialised();

template <typename Value>
void set_curl_option(CURL* handle, CURLoption option, Value value)
{
	CURLcode result = curl_easy_setopt(handle, option, value);
	if (result != CURLE_OK)
		throw HttpError(std::string("libcurl: cannot set an option: ") + curl_easy_strerror(result));
}

} // namespace httpcloop
