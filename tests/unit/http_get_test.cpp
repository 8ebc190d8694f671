#include "fetch/http_get.hpp"

#include "test_support.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace httpcloop {
namespace {

// Answers one HTTP request on 127.0.0.1 with a canned response, then closes.
class OneShotServer {
public:
	explicit OneShotServer(std::string response) : response_(std::move(response))
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

	~OneShotServer()
	{
		// Wakes accept() if no client ever came, so the thread can be joined.
		::shutdown(listener_.get(), SHUT_RDWR);
	}
	OneShotServer(const OneShotServer&) = delete;
	OneShotServer& operator=(const OneShotServer&) = delete;

	std::string url(std::string_view path) const
	{
		return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
	}
	const std::string& request() const { return request_; } // valid after the client finished

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
		// The client may hang up early (size limit); ignore write errors.
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

std::string ok_response(const std::string& body, bool with_length = true)
{
	return "HTTP/1.1 200 OK\r\n" + (with_length ? "Content-Length: " + std::to_string(body.size()) + "\r\n" : "") +
	       "Connection: close\r\n\r\n" + body;
}

TEST(HttpGet, ReturnsTheBody)
{
	OneShotServer server(ok_response("hello"));
	const std::vector<uint8_t> body = http_get(server.url("/img/manifest"), 100);
	EXPECT_EQ(std::string(body.begin(), body.end()), "hello");
	EXPECT_EQ(server.request().rfind("GET /img/manifest HTTP/1.1\r\n", 0), 0u) << server.request();
}

TEST(HttpGet, FailsOnHttpErrorNamingUrlAndStatus)
{
	OneShotServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	const std::string url = server.url("/missing");
	EXPECT_THROW_MESSAGE(http_get(url, 100), HttpError, "GET " + url + ": HTTP status 404");
}

TEST(HttpGet, EnforcesTheSizeLimitWithDeclaredLength)
{
	OneShotServer server(ok_response(std::string(1000, 'x')));
	EXPECT_THROW_MESSAGE(http_get(server.url("/big"), 999), HttpError, "larger than the limit of 999 bytes");
}

TEST(HttpGet, EnforcesTheSizeLimitWhileReceiving)
{
	// No Content-Length: the limit must be enforced as the body arrives.
	OneShotServer server(ok_response(std::string(100000, 'x'), false));
	EXPECT_THROW_MESSAGE(http_get(server.url("/big"), 1000), HttpError, "larger than the limit of 1000 bytes");
}

TEST(HttpGet, ReportsConnectionFailures)
{
	// A port nobody listens on: bind one, then close it.
	std::string url;
	{
		OneShotServer server(ok_response(""));
		url = server.url("/x");
		http_get(url, 10);
	}
	EXPECT_THROW_MESSAGE(http_get(url, 10), HttpError, "GET " + url + ": ");
}

TEST(JoinUrl, HandlesSlashesAndFragments)
{
	EXPECT_EQ(join_url("http://h/img", "manifest"), "http://h/img/manifest");
	EXPECT_EQ(join_url("http://h/img/", "manifest"), "http://h/img/manifest");
	EXPECT_EQ(join_url("http://h/img#sha256=abcd", "manifest"), "http://h/img/manifest");
	EXPECT_EQ(join_url("http://h/img/", "blocks/ab/abcd"), "http://h/img/blocks/ab/abcd");
}

TEST(LoadManifestBytes, FromDirectoryFileAndFileUrl)
{
	test::TempDir dir;
	const std::vector<uint8_t> content = {1, 2, 3};
	test::write_file(dir.path() / "manifest", content);
	EXPECT_EQ(load_manifest_bytes(dir.path().string()), content);
	EXPECT_EQ(load_manifest_bytes(dir.path().string() + "/"), content);
	EXPECT_EQ(load_manifest_bytes((dir.path() / "manifest").string()), content);
	EXPECT_EQ(load_manifest_bytes("file://" + dir.path().string()), content);
	EXPECT_THROW_MESSAGE(load_manifest_bytes((dir.path() / "nothing").string()), IoError, "nothing");
	EXPECT_THROW_MESSAGE(load_manifest_bytes("ftp://host/img"), Error, "unsupported URL scheme");
}

TEST(LoadManifestBytes, FromHttp)
{
	OneShotServer server(ok_response("MANIFEST"));
	const std::vector<uint8_t> bytes = load_manifest_bytes(server.url("/image/"));
	EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "MANIFEST");
	EXPECT_EQ(server.request().rfind("GET /image/manifest ", 0), 0u);
	EXPECT_TRUE(is_http_url("HTTPS://example.org"));
	EXPECT_FALSE(is_http_url("/srv/image"));
}

} // namespace
} // namespace httpcloop
