#include "boot/http_client.hpp"

#include "util/fd.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace httpcloop {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxChunkLine = 1024;
constexpr uint64_t kMinBytesPerWindow = 1024; // per timeout_s window: below is a stall

std::string lowercase(std::string_view text)
{
	std::string lower(text);
	for (char& c : lower)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return lower;
}

std::string_view trim(std::string_view text)
{
	while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
		text.remove_prefix(1);
	while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
		text.remove_suffix(1);
	return text;
}

std::string openssl_error()
{
	unsigned long code = ERR_get_error();
	ERR_clear_error();
	if (!code)
		return "unknown TLS error";
	char buffer[256];
	ERR_error_string_n(code, buffer, sizeof buffer);
	return buffer;
}

struct SslCtxDeleter {
	void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
	void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct AddrInfoDeleter {
	void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

// One TCP (and maybe TLS) connection with a read buffer. Sockets are blocking with
// SO_RCVTIMEO/SO_SNDTIMEO set to the stall timeout, so no call waits longer than that.
class Connection {
public:
	Connection(const ParsedUrl& url, const HttpOptions& options, const std::string& what)
		: what_(what), timeout_s_(options.timeout_s)
	{
		connect_tcp(url);
		if (url.https)
			start_tls(url, options);
	}

	void write_all(std::string_view data)
	{
		while (!data.empty()) {
			ssize_t n;
			if (ssl_) {
				n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
				if (n <= 0)
					throw HttpError(what_ + ": TLS write failed: " + openssl_error());
			} else {
				n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					throw HttpError(what_ + ": cannot send the request: " + std::string(strerror(errno)));
			}
			data.remove_prefix(static_cast<size_t>(n));
		}
	}

	// Up to `size` bytes; 0 at the end of the stream.
	size_t read_some(uint8_t* out, size_t size)
	{
		if (buffer_pos_ < buffer_.size()) {
			size_t n = std::min(size, buffer_.size() - buffer_pos_);
			std::memcpy(out, buffer_.data() + buffer_pos_, n);
			buffer_pos_ += n;
			return n;
		}
		return raw_read(out, size);
	}

	// A line ending in "\n" (the "\r\n" is stripped); throws past `limit` bytes or at EOF.
	std::string read_line(size_t limit, std::string_view where)
	{
		std::string line;
		for (;;) {
			if (buffer_pos_ == buffer_.size())
				fill(where);
			const uint8_t* start = buffer_.data() + buffer_pos_;
			const size_t available = buffer_.size() - buffer_pos_;
			const void* newline = std::memchr(start, '\n', available);
			const size_t take = newline ? static_cast<const uint8_t*>(newline) - start + 1 : available;
			line.append(reinterpret_cast<const char*>(start), take);
			buffer_pos_ += take;
			if (line.size() > limit)
				throw HttpError(what_ + ": " + std::string(where) + " is longer than " + std::to_string(limit) +
						" bytes");
			if (newline) {
				line.pop_back();
				if (!line.empty() && line.back() == '\r')
					line.pop_back();
				return line;
			}
		}
	}

private:
	void fill(std::string_view where)
	{
		buffer_.resize(16 * 1024);
		size_t n = raw_read(buffer_.data(), buffer_.size());
		buffer_.resize(n);
		buffer_pos_ = 0;
		if (n == 0)
			throw HttpError(what_ + ": the server closed the connection in the " + std::string(where));
	}

	// Every byte from the socket counts towards the minimum rate, headers and chunk lines
	// included, so that a server trickling a byte at a time cannot hold us for hours.
	size_t raw_read(uint8_t* out, size_t size)
	{
		size_t n = raw_read_once(out, size);
		window_bytes_ += n;
		const auto now = Clock::now();
		if (now - window_start_ >= std::chrono::seconds(timeout_s_)) {
			if (window_bytes_ < kMinBytesPerWindow)
				throw HttpError(what_ + ": less than 1 KiB in " + std::to_string(timeout_s_) +
						" s (server too slow)");
			window_start_ = now;
			window_bytes_ = 0;
		}
		return n;
	}

	size_t raw_read_once(uint8_t* out, size_t size)
	{
		for (;;) {
			if (ssl_) {
				int n = SSL_read(ssl_.get(), out, static_cast<int>(std::min<size_t>(size, 1 << 30)));
				if (n > 0)
					return static_cast<size_t>(n);
				int error = SSL_get_error(ssl_.get(), n);
				if (error == SSL_ERROR_ZERO_RETURN)
					return 0;
				if (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
					throw stalled();
				if (error == SSL_ERROR_SYSCALL && errno == 0)
					return 0; // EOF without close_notify: the body length decides if it is complete
				throw HttpError(what_ + ": TLS read failed: " + openssl_error());
			}
			ssize_t n = ::recv(fd_.get(), out, size, 0);
			if (n >= 0)
				return static_cast<size_t>(n);
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				throw stalled();
			throw HttpError(what_ + ": receive failed: " + std::string(strerror(errno)));
		}
	}

	HttpError stalled() const
	{
		return HttpError(what_ + ": no data for " + std::to_string(timeout_s_) + " s (server stalled)");
	}

	void connect_tcp(const ParsedUrl& url)
	{
		addrinfo hints{};
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		addrinfo* found = nullptr;
		// Static glibc (2.34 and later) resolves through its built-in files and dns
		// back ends: /etc/hosts and /etc/resolv.conf, nothing else is needed.
		int status = getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
		if (status != 0)
			throw HttpError(what_ + ": cannot resolve " + url.host + ": " + gai_strerror(status) +
					" (check the network and /etc/resolv.conf)");
		std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(found);
		std::string last_error = "no address";
		for (addrinfo* address = found; address; address = address->ai_next) {
			UniqueFd fd(::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
					     address->ai_protocol));
			if (!fd) {
				last_error = strerror(errno);
				continue;
			}
			int result = ::connect(fd.get(), address->ai_addr, address->ai_addrlen);
			if (result != 0 && errno == EINPROGRESS) {
				pollfd waiter{fd.get(), POLLOUT, 0};
				int ready;
				do {
					ready = ::poll(&waiter, 1, static_cast<int>(timeout_s_) * 1000);
				} while (ready < 0 && errno == EINTR);
				int socket_error = 0;
				socklen_t length = sizeof socket_error;
				if (ready == 0) {
					last_error = "timed out after " + std::to_string(timeout_s_) + " s";
					continue;
				}
				getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length);
				result = socket_error ? -1 : 0;
				errno = socket_error;
			}
			if (result != 0) {
				last_error = strerror(errno);
				continue;
			}
			int flags = fcntl(fd.get(), F_GETFL);
			fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
			timeval limit{static_cast<time_t>(timeout_s_), 0};
			setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
			setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
			int one = 1;
			setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			fd_ = std::move(fd);
			return;
		}
		throw HttpError(what_ + ": cannot connect to " + url.host + " port " + std::to_string(url.port) + ": " +
				last_error);
	}

	void start_tls(const ParsedUrl& url, const HttpOptions& options)
	{
		std::unique_ptr<SSL_CTX, SslCtxDeleter> context(SSL_CTX_new(TLS_client_method()));
		if (!context)
			throw HttpError(what_ + ": cannot create a TLS context: " + openssl_error());
		SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
		if (access(options.cafile.c_str(), R_OK) != 0)
			throw HttpError(what_ + ": HTTPS needs CA certificates, and " + options.cafile +
					" cannot be read (put a CA bundle there or set httpcloop.cafile=)");
		if (SSL_CTX_load_verify_locations(context.get(), options.cafile.c_str(), nullptr) != 1)
			throw HttpError(what_ + ": cannot load CA certificates from " + options.cafile + ": " +
					openssl_error());
		SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
		ssl_.reset(SSL_new(context.get()));
		context_ = std::move(context);
		if (!ssl_)
			throw HttpError(what_ + ": cannot create a TLS session: " + openssl_error());
		SSL_set_tlsext_host_name(ssl_.get(), url.host.c_str());
		// Checks the certificate's names (or IP address) against the host we asked for.
		if (SSL_set1_host(ssl_.get(), url.host.c_str()) != 1)
			throw HttpError(what_ + ": cannot set the TLS host name");
		SSL_set_fd(ssl_.get(), fd_.get());
		if (SSL_connect(ssl_.get()) != 1) {
			long verify = SSL_get_verify_result(ssl_.get());
			throw HttpError(what_ + ": TLS handshake with " + url.host + " failed: " +
					(verify != X509_V_OK ? std::string("certificate: ") + X509_verify_cert_error_string(verify)
							     : openssl_error()));
		}
	}

	std::string what_;
	unsigned timeout_s_;
	UniqueFd fd_;
	std::unique_ptr<SSL_CTX, SslCtxDeleter> context_;
	std::unique_ptr<SSL, SslDeleter> ssl_;
	std::vector<uint8_t> buffer_;
	size_t buffer_pos_ = 0;
	Clock::time_point window_start_ = Clock::now();
	uint64_t window_bytes_ = 0;
};

struct ResponseHead {
	int status = 0;
	std::optional<uint64_t> content_length;
	bool chunked = false;
	std::optional<std::string> location;
};

ResponseHead read_head(Connection& connection, const std::string& what)
{
	ResponseHead head;
	size_t total = 0;
	std::string status_line = connection.read_line(kMaxHeaderBytes, "response header");
	total += status_line.size();
	// "HTTP/1.1 200 OK"
	if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ')
		throw HttpError(what + ": not an HTTP/1.x response: '" + status_line.substr(0, 60) + "'");
	auto [end, error] = std::from_chars(status_line.data() + 9, status_line.data() + 12, head.status);
	if (error != std::errc() || end != status_line.data() + 12 || head.status < 100)
		throw HttpError(what + ": bad status line '" + status_line.substr(0, 60) + "'");
	for (;;) {
		std::string line = connection.read_line(kMaxHeaderBytes, "response header");
		total += line.size() + 2;
		if (total > kMaxHeaderBytes)
			throw HttpError(what + ": response header is longer than " + std::to_string(kMaxHeaderBytes) + " bytes");
		if (line.empty())
			break;
		size_t colon = line.find(':');
		if (colon == std::string::npos)
			throw HttpError(what + ": malformed header line '" + line.substr(0, 60) + "'");
		const std::string name = lowercase(trim(std::string_view(line).substr(0, colon)));
		const std::string_view value = trim(std::string_view(line).substr(colon + 1));
		if (name == "content-length") {
			uint64_t length = 0;
			auto [length_end, length_error] = std::from_chars(value.data(), value.data() + value.size(), length);
			if (value.empty() || length_error != std::errc() || length_end != value.data() + value.size())
				throw HttpError(what + ": bad Content-Length '" + std::string(value.substr(0, 40)) + "'");
			if (head.content_length && *head.content_length != length)
				throw HttpError(what + ": conflicting Content-Length headers");
			head.content_length = length;
		} else if (name == "transfer-encoding") {
			if (lowercase(value) != "chunked")
				throw HttpError(what + ": unsupported Transfer-Encoding '" + std::string(value.substr(0, 40)) + "'");
			head.chunked = true;
		} else if (name == "location") {
			head.location = std::string(value);
		}
	}
	if (head.chunked)
		head.content_length.reset(); // RFC 9112: Transfer-Encoding overrides Content-Length
	return head;
}

// Counts body bytes and enforces the size limit as they arrive.
class BodyGuard {
public:
	BodyGuard(const HttpOptions& options, const std::string& what) : options_(options), what_(what) {}
	void add(size_t n)
	{
		received_ += n;
		if (received_ > options_.max_bytes)
			throw HttpError(what_ + ": the body is larger than the limit of " + std::to_string(options_.max_bytes) +
					" bytes");
	}
	uint64_t received() const { return received_; }

private:
	const HttpOptions& options_;
	const std::string& what_;
	uint64_t received_ = 0;
};

void read_body(Connection& connection, const ResponseHead& head, const HttpOptions& options, const std::string& what,
	       const BodySink& sink)
{
	if (head.content_length && *head.content_length > options.max_bytes)
		throw HttpError(what + ": Content-Length " + std::to_string(*head.content_length) +
				" is larger than the limit of " + std::to_string(options.max_bytes) + " bytes");
	BodyGuard guard(options, what);
	std::vector<uint8_t> buffer(64 * 1024);
	auto pass = [&](uint64_t limit) { // reads at most `limit` bytes; returns the count
		size_t n = connection.read_some(buffer.data(), static_cast<size_t>(std::min<uint64_t>(limit, buffer.size())));
		if (n) {
			guard.add(n);
			sink(std::span<const uint8_t>(buffer.data(), n), head.content_length);
		}
		return n;
	};
	if (head.chunked) {
		for (;;) {
			std::string line = connection.read_line(kMaxChunkLine, "chunk header");
			std::string_view size_text = trim(std::string_view(line).substr(0, line.find(';')));
			uint64_t size = 0;
			auto [end, error] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
			if (size_text.empty() || size_text.size() > 15 || error != std::errc() ||
			    end != size_text.data() + size_text.size())
				throw HttpError(what + ": bad chunk size '" + line.substr(0, 40) + "'");
			if (size == 0)
				break;
			for (uint64_t left = size; left > 0;) {
				size_t n = pass(left);
				if (n == 0)
					throw HttpError(what + ": the connection closed inside a chunk (truncated body)");
				left -= n;
			}
			if (!connection.read_line(2, "chunk end").empty())
				throw HttpError(what + ": chunk not followed by CRLF");
		}
		for (unsigned trailers = 0;; ++trailers) {
			if (trailers > 64)
				throw HttpError(what + ": too many trailer lines");
			if (connection.read_line(kMaxChunkLine, "trailer").empty())
				break;
		}
		return;
	}
	if (head.content_length) {
		for (uint64_t left = *head.content_length; left > 0;) {
			size_t n = pass(left);
			if (n == 0)
				throw HttpError(what + ": truncated body: " + std::to_string(guard.received()) + " of " +
						std::to_string(*head.content_length) + " bytes before the server closed");
			left -= n;
		}
		return;
	}
	while (pass(buffer.size()) != 0) { // no length: the body ends when the connection does
	}
}

} // namespace

ParsedUrl ParsedUrl::parse(std::string_view url)
{
	ParsedUrl parsed;
	std::string_view rest;
	if (url.starts_with("http://")) {
		rest = url.substr(7);
		parsed.port = 80;
	} else if (url.starts_with("https://")) {
		rest = url.substr(8);
		parsed.https = true;
		parsed.port = 443;
	} else {
		throw Error("unsupported URL '" + std::string(url.substr(0, 80)) + "' (use http:// or https://)");
	}
	if (url.find_first_of("# \t\r\n") != std::string_view::npos)
		throw Error("URL '" + std::string(url.substr(0, 80)) + "' has a fragment, a space or a control character");
	size_t slash = rest.find('/');
	std::string_view authority = rest.substr(0, slash);
	parsed.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
	if (authority.find('@') != std::string_view::npos)
		throw Error("URL '" + std::string(url.substr(0, 80)) + "': user names in URLs are not supported");
	std::string_view port_text;
	if (authority.starts_with('[')) {
		size_t close = authority.find(']');
		if (close == std::string_view::npos)
			throw Error("URL '" + std::string(url.substr(0, 80)) + "': unterminated [IPv6 address]");
		parsed.host = std::string(authority.substr(1, close - 1));
		std::string_view after = authority.substr(close + 1);
		if (!after.empty()) {
			if (after[0] != ':')
				throw Error("URL '" + std::string(url.substr(0, 80)) + "': junk after the IPv6 address");
			port_text = after.substr(1);
		}
	} else {
		size_t colon = authority.find(':');
		parsed.host = std::string(authority.substr(0, colon));
		if (colon != std::string_view::npos)
			port_text = authority.substr(colon + 1);
	}
	if (parsed.host.empty())
		throw Error("URL '" + std::string(url.substr(0, 80)) + "' has no host");
	if (!port_text.empty() || authority.ends_with(':')) {
		unsigned port = 0;
		auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
		if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
		    port > 65535)
			throw Error("URL '" + std::string(url.substr(0, 80)) + "' has a bad port");
		parsed.port = static_cast<uint16_t>(port);
	}
	return parsed;
}

std::string ParsedUrl::host_header() const
{
	std::string host_text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
	if (port != (https ? 443 : 80))
		host_text += ":" + std::to_string(port);
	return host_text;
}

std::string resolve_redirect(const ParsedUrl& base, std::string_view location)
{
	if (location.starts_with("http://") || location.starts_with("https://"))
		return std::string(location);
	if (location.starts_with('/') && !location.starts_with("//"))
		return std::string(base.https ? "https://" : "http://") + base.host_header() + std::string(location);
	throw Error("unsupported redirect target '" + std::string(location.substr(0, 80)) + "'");
}

std::string join_base_url(std::string_view base, std::string_view relative)
{
	std::string joined(base);
	if (joined.empty() || joined.back() != '/')
		joined += '/';
	joined += relative;
	return joined;
}

std::string http_fetch(const std::string& url, const HttpOptions& options, const BodySink& sink)
{
	std::string current = url;
	for (unsigned redirects = 0;; ++redirects) {
		const std::string what = "GET " + current;
		ParsedUrl parsed;
		try {
			parsed = ParsedUrl::parse(current);
		} catch (const HttpError&) {
			throw;
		} catch (const Error& error) {
			throw HttpError(what + ": " + error.what());
		}
		Connection connection(parsed, options, what);
		connection.write_all("GET " + parsed.target + " HTTP/1.1\r\nHost: " + parsed.host_header() +
				     "\r\nUser-Agent: httpcloop-boot\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n");
		ResponseHead head = read_head(connection, what);
		if (head.status == 301 || head.status == 302 || head.status == 303 || head.status == 307 ||
		    head.status == 308) {
			if (!head.location)
				throw HttpError(what + ": redirect (HTTP " + std::to_string(head.status) + ") without Location");
			if (redirects >= options.max_redirects)
				throw HttpError(what + ": more than " + std::to_string(options.max_redirects) + " redirects");
			try {
				current = resolve_redirect(parsed, *head.location);
			} catch (const Error& error) {
				throw HttpError(what + ": " + error.what());
			}
			continue;
		}
		if (head.status != 200)
			throw HttpError(what + ": HTTP status " + std::to_string(head.status) +
					(head.status == 404 ? " (not found: check the URL and that the files are published)" : ""));
		read_body(connection, head, options, what, sink);
		return current;
	}
}

std::string http_fetch_text(const std::string& url, const HttpOptions& options)
{
	std::string body;
	http_fetch(url, options, [&](std::span<const uint8_t> piece, std::optional<uint64_t>) {
		body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
	});
	return body;
}

} // namespace httpcloop
