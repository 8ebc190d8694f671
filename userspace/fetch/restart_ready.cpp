#include "fetch/restart_ready.hpp"

#include "util/log.hpp"
#include "util/small_file.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>

namespace httpcloop {

namespace {

struct UrlDeleter {
	void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlTextDeleter {
	void operator()(char* text) const { curl_free(text); }
};
struct AddrInfoDeleter {
	void operator()(addrinfo* list) const { freeaddrinfo(list); }
};

std::string url_part(CURLU* url, CURLUPart part, unsigned flags = 0)
{
	char* text = nullptr;
	if (curl_url_get(url, part, &text, flags) != CURLUE_OK || !text)
		return {};
	std::unique_ptr<char, CurlTextDeleter> owned(text);
	return owned.get();
}

bool is_address_literal(const std::string& host)
{
	in6_addr v6{};
	in_addr v4{};
	return host.starts_with('[') || inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
	       inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// "HOST:PORT:ADDRESS[,ADDRESS...]" for CURLOPT_RESOLVE, or empty if HOST does not resolve.
std::string pin(const std::string& host, const std::string& port)
{
	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	addrinfo* found = nullptr;
	int err = getaddrinfo(host.c_str(), nullptr, &hints, &found);
	if (err != 0) {
		log_warning("cannot resolve " + host + " now (" + gai_strerror(err) + "); a restarted daemon will try again");
		return {};
	}
	std::unique_ptr<addrinfo, AddrInfoDeleter> list(found);
	std::string addresses;
	for (const addrinfo* entry = list.get(); entry; entry = entry->ai_next) {
		char text[INET6_ADDRSTRLEN] = {};
		std::string address;
		if (entry->ai_family == AF_INET &&
		    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(entry->ai_addr)->sin_addr, text, sizeof(text)))
			address = text;
		else if (entry->ai_family == AF_INET6 &&
			 inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(entry->ai_addr)->sin6_addr, text,
				   sizeof(text)))
			address = "[" + std::string(text) + "]";
		if (address.empty() || addresses.find(address) != std::string::npos)
			continue;
		addresses += (addresses.empty() ? "" : ",") + address;
	}
	return addresses.empty() ? std::string() : host + ":" + port + ":" + addresses;
}

} // namespace

void take_fetch_inputs_now(FetchOptions& options, const std::vector<std::string>& urls)
{
	if (!options.ca_file.empty() && !options.ca_bundle)
		options.ca_bundle = std::make_shared<const std::string>(read_ca_bundle(options.ca_file));
	if (!options.resolve_once)
		return;
	for (const std::string& location : urls) {
		if (!location.starts_with("http://") && !location.starts_with("https://"))
			continue;
		std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
		if (!url || curl_url_set(url.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK)
			continue; // libcurl reports a bad URL when it is used
		const std::string host = url_part(url.get(), CURLUPART_HOST);
		const std::string port = url_part(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
		if (host.empty() || port.empty() || is_address_literal(host))
			continue;
		std::string entry = pin(host, port);
		if (!entry.empty())
			options.pinned_addresses.push_back(std::move(entry));
	}
}

} // namespace httpcloop
