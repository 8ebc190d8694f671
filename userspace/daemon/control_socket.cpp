#include "daemon/control_socket.hpp"

#include "crypto/sha256.hpp"
#include "util/error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace httpcloop {

namespace {

constexpr const char* kRunDirectory = "/run/httpcloop";
constexpr int kClientTimeoutMs = 2000;
constexpr size_t kMaxMessage = 64 * 1024;

sockaddr_un socket_address(const std::filesystem::path& path)
{
	sockaddr_un address{};
	address.sun_family = AF_UNIX;
	if (path.native().size() >= sizeof(address.sun_path))
		throw IoError("control socket path too long: " + path.native());
	std::strcpy(address.sun_path, path.c_str());
	return address;
}

bool wait_readable(int fd, int timeout_ms)
{
	pollfd pfd{fd, POLLIN, 0};
	int ready;
	do {
		ready = poll(&pfd, 1, timeout_ms);
	} while (ready < 0 && errno == EINTR);
	return ready > 0;
}

} // namespace

std::filesystem::path run_directory()
{
	return kRunDirectory;
}

UniqueFd open_run_directory()
{
	if (mkdir(kRunDirectory, 0700) != 0 && errno != EEXIST)
		throw_errno(std::string("cannot create ") + kRunDirectory);
	UniqueFd fd(::open(kRunDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!fd)
		throw_errno(std::string("cannot open ") + kRunDirectory);
	return fd;
}

std::string control_socket_name(uint32_t device_index)
{
	return "httpcloop" + std::to_string(device_index) + ".sock";
}

std::filesystem::path control_socket_path(uint32_t device_index)
{
	return std::filesystem::path(kRunDirectory) / control_socket_name(device_index);
}

std::filesystem::path attach_record_path(uint32_t device_index)
{
	return std::filesystem::path(kRunDirectory) / ("httpcloop" + std::to_string(device_index) + ".attach");
}

std::filesystem::path normal_mountpoint(const std::filesystem::path& mountpoint)
{
	std::filesystem::path normal = std::filesystem::absolute(mountpoint).lexically_normal();
	// "/mnt/x/" is "/mnt/x": a trailing separator (shell completion adds one) names the
	// same mount point. The root keeps its only separator.
	if (!normal.has_filename() && normal.has_relative_path())
		normal = normal.parent_path();
	return normal;
}

std::filesystem::path fuse_control_socket_path(const std::filesystem::path& mountpoint)
{
	const std::string path = normal_mountpoint(mountpoint).native();
	Sha256 digest = sha256(std::span(reinterpret_cast<const uint8_t*>(path.data()), path.size()));
	return std::filesystem::path(kRunDirectory) / ("fuse-" + to_hex(digest).substr(0, 16) + ".sock");
}

std::vector<std::filesystem::path> fuse_control_sockets()
{
	std::vector<std::filesystem::path> sockets;
	std::error_code error;
	for (const auto& entry : std::filesystem::directory_iterator(kRunDirectory, error)) {
		const std::string name = entry.path().filename().string();
		if (name.rfind("fuse-", 0) == 0 && entry.path().extension() == ".sock")
			sockets.push_back(entry.path());
	}
	std::sort(sockets.begin(), sockets.end());
	return sockets;
}

ControlServer ControlServer::listen(std::filesystem::path path)
{
	if (mkdir(kRunDirectory, 0700) != 0 && errno != EEXIST)
		throw_errno(std::string("cannot create ") + kRunDirectory);
	const std::filesystem::path parent = path.parent_path().empty() ? "." : path.parent_path();
	UniqueFd directory(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!directory)
		throw_errno("cannot open " + parent.native());
	return listen_in(directory.get(), path.filename().native(), path);
}

ControlServer ControlServer::listen_in(int directory, const std::string& name, std::filesystem::path shown)
{
	ControlServer server;
	server.directory_ = UniqueFd(fcntl(directory, F_DUPFD_CLOEXEC, 0));
	if (!server.directory_)
		throw_errno("cannot hold the directory of " + shown.native());
	server.listen_fd_ = UniqueFd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!server.listen_fd_)
		throw_errno("control socket");
	sockaddr_un address = socket_address(name);
	// A previous daemon for this device is gone, or is handing it over to us.
	unlinkat(directory, name.c_str(), 0);
	// bind() takes a path only: name it relative to the directory, entered for the call.
	UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (fchdir(directory) != 0)
		throw_errno("cannot enter the directory of " + shown.native());
	int bound = bind(server.listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
	int bind_errno = errno;
	if (cwd && fchdir(cwd.get()) != 0 && chdir("/") != 0) {
		// Nowhere better to be; the daemon uses no relative path.
	}
	if (bound != 0)
		throw_errno("cannot bind " + shown.native(), bind_errno);
	// Only root may talk to the daemon: a socket left open to others is no socket at all.
	if (fchmodat(directory, name.c_str(), 0600, 0) != 0)
		throw_errno("cannot restrict " + shown.native() + " to its owner");
	if (::listen(server.listen_fd_.get(), 8) != 0)
		throw_errno("cannot listen on " + shown.native());
	struct stat status{};
	if (fstatat(directory, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0)
		throw_errno("cannot stat " + shown.native());
	server.device_ = status.st_dev;
	server.inode_ = status.st_ino;
	server.name_ = name;
	server.path_ = std::move(shown);
	return server;
}

ControlServer::~ControlServer()
{
	// Only our own socket: after a take-over, a newer daemon of the same device may have
	// bound the path again, and its socket must stay.
	struct stat status{};
	if (listen_fd_ && directory_ &&
	    fstatat(directory_.get(), name_.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(status.st_mode) &&
	    status.st_dev == device_ && status.st_ino == inode_)
		unlinkat(directory_.get(), name_.c_str(), 0);
}

std::vector<int> ControlServer::fds() const
{
	std::vector<int> fds{listen_fd_.get()};
	for (const PendingClient& client : pending_)
		fds.push_back(client.fd.get());
	return fds;
}

void ControlServer::accept_waiting()
{
	for (;;) {
		UniqueFd client(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (!client)
			return; // EAGAIN: no one else waits (or an error: try at the next wake-up)
		// Only root or the daemon's own user may ask (the socket's mode says so too; this
		// holds even if the directory's or the socket's mode were changed).
		ucred peer{};
		socklen_t length = sizeof(peer);
		if (getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
		    (peer.uid != 0 && peer.uid != geteuid()))
			continue;
		if (pending_.size() == kMaxPendingClients)
			pending_.erase(pending_.begin());
		pending_.push_back({std::move(client), std::chrono::steady_clock::now()});
	}
}

void ControlServer::serve(const std::function<std::string(std::string_view)>& handler)
{
	accept_waiting();
	const auto now = std::chrono::steady_clock::now();
	std::erase_if(pending_, [&](PendingClient& client) {
		std::string request(kMaxMessage, '\0');
		ssize_t n = recv(client.fd.get(), request.data(), request.size(), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return now - client.accepted > std::chrono::milliseconds(kClientTimeoutMs);
		if (n <= 0)
			return true; // gone, or an error
		request.resize(static_cast<size_t>(n));
		std::string reply = handler(request);
		send(client.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
		return true;
	});
}

std::optional<std::string> control_request(const std::filesystem::path& path, std::string_view request)
{
	UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	if (!fd)
		throw_errno("control socket");
	sockaddr_un address = socket_address(path);
	if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return std::nullopt;
		throw_errno("cannot reach the daemon at " + path.native());
	}
	if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0)
		throw_errno("cannot talk to the daemon at " + path.native());
	// A detach waits for the kernel to remove the device: allow for it.
	if (!wait_readable(fd.get(), 60'000))
		throw IoError("the daemon at " + path.native() + " did not answer");
	std::string reply(kMaxMessage, '\0');
	ssize_t n = recv(fd.get(), reply.data(), reply.size(), 0);
	if (n < 0)
		throw_errno("cannot read the daemon's answer");
	reply.resize(static_cast<size_t>(n));
	return reply;
}

} // namespace httpcloop
