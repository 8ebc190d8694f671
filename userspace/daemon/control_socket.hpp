#pragma once
// The local control channel of a running daemon: a root-only SOCK_SEQPACKET
// socket at /run/httpcloop/httpcloopN.sock. One request message ("status",
// "detach"), one reply message of "key=value" lines; `httpcloop status` and
// `httpcloop detach` are its clients.

#include "util/fd.hpp"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop {

// /run/httpcloop: the kernel daemons' sockets and attach records, and the FUSE
// variant's sockets. Created (0700) if missing.
std::filesystem::path run_directory();
UniqueFd open_run_directory();
std::filesystem::path control_socket_path(uint32_t device_index);
std::string control_socket_name(uint32_t device_index);
// Where `attach` records how device N was attached (its working directory and
// arguments), for `attach --recover` to start a daemon that takes the device over.
std::filesystem::path attach_record_path(uint32_t device_index);
// A mount point as the FUSE variant names it: absolute, lexically normal, no trailing
// separator (not resolving symbolic links: the mount is where the user asked for it).
std::filesystem::path normal_mountpoint(const std::filesystem::path& mountpoint);
// The FUSE variant's, named after a hash of the mount point (normal_mountpoint): any
// spelling of the same mount point finds it.
std::filesystem::path fuse_control_socket_path(const std::filesystem::path& mountpoint);
// The FUSE variants' sockets that exist now.
std::vector<std::filesystem::path> fuse_control_sockets();

class ControlServer {
public:
	// Creates /run/httpcloop (0700) and listens at `path`, replacing a stale socket.
	static ControlServer listen(std::filesystem::path path);
	// Listens at `name` inside the open directory `directory` (for a daemon whose paths
	// may no longer lead there: a root daemon restarted after switch_root). `shown` is
	// the path used in messages.
	static ControlServer listen_in(int directory, const std::string& name, std::filesystem::path shown);
	ControlServer(ControlServer&&) noexcept = default;
	ControlServer& operator=(ControlServer&&) noexcept = default;
	~ControlServer();

	// What the event loop polls for input: the listening socket, then every client
	// accepted but not yet heard (at most kMaxPendingClients).
	std::vector<int> fds() const;
	static constexpr size_t kMaxPendingClients = 8;
	// Never blocks: accepts the waiting clients, answers each client whose request has
	// come with `handler`'s reply, and drops those that sent nothing for 2 s (or the
	// oldest, beyond kMaxPendingClients; looked at whenever the loop is woken for a
	// client). A silent client thus costs the loop nothing.
	void serve(const std::function<std::string(std::string_view request)>& handler);

private:
	ControlServer() = default;
	struct PendingClient {
		UniqueFd fd;
		std::chrono::steady_clock::time_point accepted;
	};
	void accept_waiting();

	std::filesystem::path path_; // for messages
	std::vector<PendingClient> pending_;
	UniqueFd directory_;
	std::string name_;
	UniqueFd listen_fd_;
	// The socket file we bound: only that one is removed when we go.
	dev_t device_ = 0;
	ino_t inode_ = 0;
};

// Sends `request` to the daemon listening at `path` and returns its reply; nullopt when
// no daemon listens there. Throws IoError for anything else.
std::optional<std::string> control_request(const std::filesystem::path& path, std::string_view request);

} // namespace httpcloop
