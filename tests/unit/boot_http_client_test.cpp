#include "boot/http_client.hpp"

#include "test_support.hpp"
#include "util/fd.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace httpcloop {
namespace {

// Answers one request on 127.0.0.1 with a canned response, then closes.
class CannedServer {
public:
	explicit CannedServer(std::string response) : response_(std::move(response))
	{
		listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t length = sizeof address;
		if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
		    ::listen(listener_.get(), 1) != 0 ||
		    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
			throw std::runtime_error("cannot start the test server");
		port_ = ntohs(address.sin_port);
		thread_ = std::jthread([this] { serve(); });
	}
	~CannedServer() { ::shutdown(listener_.get(), SHUT_RDWR); }
	CannedServer(const CannedServer&) = delete;
	CannedServer& operator=(const CannedServer&) = delete;

	std::string url(std::string_view path) const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }
	const std::string& request() const { return request_; }

private:
	void serve()
	{
		UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
		if (!connection)
			return;
		char buffer[4096];
		while (request_.find("\r\n\r\n") == std::string::npos) {
			ssize_t n = ::read(connection.get(), buffer, sizeof buffer);
			if (n <= 0)
				return;
			request_.append(buffer, static_cast<size_t>(n));
		}
		for (size_t done = 0; done < response_.size();) {
			ssize_t n = ::send(connection.get(), response_.data() + done, response_.size() - done, MSG_NOSIGNAL);
			if (n <= 0)
				return;
			done += static_cast<size_t>(n);
		}
	}

	UniqueFd listener_;
	std::string response_;
	std::string request_;
	uint16_t port_ = 0;
	std::jthread thread_;
};

HttpOptions quick(uint64_t max_bytes = 1 << 20)
{
	HttpOptions options;
	options.timeout_s = 5;
	options.max_bytes = max_bytes;
	return options;
}

TEST(BootHttpClient, ParsesUrls)
{
	ParsedUrl url = ParsedUrl::parse("http://example.org:8080/a/b?c=d");
	EXPECT_FALSE(url.https);
	EXPECT_EQ(url.host, "example.org");
	EXPECT_EQ(url.port, 8080);
	EXPECT_EQ(url.target, "/a/b?c=d");
	EXPECT_EQ(url.host_header(), "example.org:8080");
	ParsedUrl secure = ParsedUrl::parse("https://[::1]");
	EXPECT_TRUE(secure.https);
	EXPECT_EQ(secure.host, "::1");
	EXPECT_EQ(secure.port, 443);
	EXPECT_EQ(secure.target, "/");
	EXPECT_EQ(secure.host_header(), "[::1]");
	EXPECT_THROW(ParsedUrl::parse("ftp://x/"), Error);
	EXPECT_THROW(ParsedUrl::parse("http://user@x/"), Error);
	EXPECT_THROW(ParsedUrl::parse("http://x:0/"), Error);
	EXPECT_THROW(ParsedUrl::parse("http://x:99999/"), Error);
	EXPECT_THROW(ParsedUrl::parse("http:///path"), Error);
	EXPECT_THROW(ParsedUrl::parse("http://x/#frag"), Error);
	EXPECT_EQ(join_base_url("http://h/boot", "kernel"), "http://h/boot/kernel");
	EXPECT_EQ(join_base_url("http://h/boot/", "kernel"), "http://h/boot/kernel");
	EXPECT_EQ(resolve_redirect(url, "/x"), "http://example.org:8080/x");
	EXPECT_THROW(resolve_redirect(url, "relative"), Error);
}

TEST(BootHttpClient, ContentLengthBody)
{
	CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	EXPECT_EQ(http_fetch_text(server.url("/f"), quick()), "hello");
	EXPECT_TRUE(server.request().starts_with("GET /f HTTP/1.1\r\n"));
	EXPECT_NE(server.request().find("\r\nHost: 127.0.0.1:"), std::string::npos);
}

TEST(BootHttpClient, ChunkedBody)
{
	CannedServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nT: v\r\n\r\n");
	EXPECT_EQ(http_fetch_text(server.url("/"), quick()), "hello");
}

TEST(BootHttpClient, BodyUntilClose)
{
	CannedServer server("HTTP/1.0 200 OK\r\n\r\nabc");
	EXPECT_EQ(http_fetch_text(server.url("/"), quick()), "abc");
}

TEST(BootHttpClient, TruncatedBody)
{
	CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
	EXPECT_THROW_MESSAGE(http_fetch_text(server.url("/"), quick()), HttpError, "truncated body: 5 of 10");
}

TEST(BootHttpClient, SizeLimit)
{
	CannedServer declared("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	EXPECT_THROW_MESSAGE(http_fetch_text(declared.url("/"), quick(10)), HttpError, "larger than the limit");
	CannedServer undeclared("HTTP/1.1 200 OK\r\n\r\n" + std::string(100, 'x'));
	EXPECT_THROW_MESSAGE(http_fetch_text(undeclared.url("/"), quick(10)), HttpError, "larger than the limit");
}

TEST(BootHttpClient, StatusErrors)
{
	CannedServer missing("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	EXPECT_THROW_MESSAGE(http_fetch_text(missing.url("/"), quick()), HttpError, "HTTP status 404");
	CannedServer garbage("SSH-2.0-OpenSSH\r\n\r\n");
	EXPECT_THROW_MESSAGE(http_fetch_text(garbage.url("/"), quick()), HttpError, "not an HTTP/1.x response");
	CannedServer bad_chunk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	EXPECT_THROW_MESSAGE(http_fetch_text(bad_chunk.url("/"), quick()), HttpError, "bad chunk size");
	CannedServer gzip("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
	EXPECT_THROW_MESSAGE(http_fetch_text(gzip.url("/"), quick()), HttpError, "unsupported Transfer-Encoding");
}

TEST(BootHttpClient, FollowsRedirects)
{
	CannedServer target("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	CannedServer redirect("HTTP/1.1 302 Found\r\nLocation: " + target.url("/there") + "\r\nContent-Length: 0\r\n\r\n");
	EXPECT_EQ(http_fetch_text(redirect.url("/here"), quick()), "ok");
	EXPECT_TRUE(target.request().starts_with("GET /there "));
}

TEST(BootHttpClient, ConnectionRefused)
{
	std::string url;
	{
		CannedServer gone("");
		url = gone.url("/");
	}
	EXPECT_THROW_MESSAGE(http_fetch_text(url, quick()), HttpError, "cannot connect to 127.0.0.1");
}

// Sends the response a byte at a time, 0.2 s apart (at most 40 bytes, so it ends).
class TrickleServer {
public:
	TrickleServer()
	{
		listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t length = sizeof address;
		if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
		    ::listen(listener_.get(), 1) != 0 ||
		    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
			throw std::runtime_error("cannot start the test server");
		port_ = ntohs(address.sin_port);
		thread_ = std::jthread([this](std::stop_token stop) {
			UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
			const std::string response = "HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
			for (size_t i = 0; connection && i < response.size() && !stop.stop_requested(); ++i) {
				if (::send(connection.get(), &response[i], 1, MSG_NOSIGNAL) != 1)
					return;
				std::this_thread::sleep_for(std::chrono::milliseconds(200));
			}
		});
	}
	~TrickleServer() { ::shutdown(listener_.get(), SHUT_RDWR); }
	std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

private:
	UniqueFd listener_;
	uint16_t port_ = 0;
	std::jthread thread_;
};

TEST(BootHttpClient, TrickleIsAStallEvenInTheHeader)
{
	TrickleServer server;
	HttpOptions options = quick();
	options.timeout_s = 1;
	const auto start = std::chrono::steady_clock::now();
	EXPECT_THROW_MESSAGE(http_fetch_text(server.url(), options), HttpError, "less than 1 KiB in 1 s");
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(BootHttpClient, HttpsNeedsCaBundle)
{
	HttpOptions options = quick();
	options.cafile = "/nonexistent/ca.pem";
	CannedServer server("");
	std::string url = server.url("/");
	url.replace(0, 4, "https");
	EXPECT_THROW_MESSAGE(http_fetch_text(url, options), HttpError, "HTTPS needs CA certificates");
}

} // namespace
} // namespace httpcloop
