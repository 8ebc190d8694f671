// The preboot's HTTP/1.1 response parser (status line, headers, Content-Length, chunked
// bodies, trailers): the input is what a server on 127.0.0.1 answers to one GET. Any
// answer must end in a body or an HttpError, never a crash or a hang. Redirects are not
// followed (max_redirects = 0), so a fuzzed Location never makes us connect elsewhere.
#include "boot/http_client.hpp"
#include "util/fd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

struct Listener {
	httpcloop::UniqueFd fd;
	uint16_t port = 0;
	Listener()
	{
		fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t length = sizeof address;
		if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
		    ::listen(fd.get(), 16) != 0 ||
		    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
			std::abort();
		port = ntohs(address.sin_port);
	}
};

// Accepts one connection, reads the request head, answers with `response`, closes.
void serve(int listener, const uint8_t* response, size_t size)
{
	httpcloop::UniqueFd connection(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
	if (!connection)
		return;
	std::string request;
	char buffer[1024];
	while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
		ssize_t n = ::read(connection.get(), buffer, sizeof buffer);
		if (n <= 0)
			return;
		request.append(buffer, static_cast<size_t>(n));
	}
	for (size_t done = 0; done < size;) {
		ssize_t n = ::send(connection.get(), response + done, size - done, MSG_NOSIGNAL);
		if (n <= 0)
			return; // the client gave up early: fine
		done += static_cast<size_t>(n);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	static Listener listener;
	std::thread server(serve, listener.fd.get(), data, size);
	httpcloop::HttpOptions options;
	options.timeout_s = 2;
	options.max_bytes = 64 * 1024;
	options.max_redirects = 0;
	try {
		std::string body = httpcloop::http_fetch_text("http://127.0.0.1:" + std::to_string(listener.port) + "/f", options);
		if (body.size() > options.max_bytes)
			std::abort();
	} catch (const httpcloop::HttpError&) {
	}
	server.join();
	return 0;
}
