// The kernel side of httpcloop tested on its own, as ublk's selftests do: this program
// speaks the generic netlink protocol of include/uapi/linux/httpcloop.h directly (no
// daemon) and checks what the module accepts and refuses. Run as root in a VM with the
// module loaded (tests/vm/t-kernel-api.sh); prints one line per check and exits 1 if any
// failed.
//
// usage: httpcloop_api_selftest [--random-iterations N]

#include <linux/capability.h>
#include <linux/httpcloop.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint32_t kBlockSize = 64 * 1024;
constexpr uint64_t kBlocks = 16;
constexpr uint64_t kImageSize = kBlockSize * kBlocks;

int g_failures = 0;

void check(bool ok, const std::string& what)
{
	std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
	if (!ok)
		g_failures++;
}

struct SockDeleter {
	void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
struct MsgDeleter {
	void operator()(nl_msg* msg) const { nlmsg_free(msg); }
};

// One generic netlink socket: each request waits for the kernel's acknowledgement and
// returns its error as a positive errno (0 for success).
class Channel {
public:
	bool open()
	{
		sock_.reset(nl_socket_alloc());
		if (!sock_ || genl_connect(sock_.get()) < 0)
			return false;
		nl_socket_disable_seq_check(sock_.get());
		nl_socket_modify_cb(sock_.get(), NL_CB_VALID, NL_CB_CUSTOM, &Channel::on_valid, this);
		nl_socket_modify_err_cb(sock_.get(), NL_CB_CUSTOM, &Channel::on_error, this);
		nl_socket_modify_cb(sock_.get(), NL_CB_ACK, NL_CB_CUSTOM, &Channel::on_ack, this);
		// A kernel that never answers fails the check instead of hanging the test.
		timeval timeout{10, 0};
		setsockopt(nl_socket_get_fd(sock_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
		family_ = genl_ctrl_resolve(sock_.get(), HTTPCLOOP_GENL_NAME);
		return family_ >= 0;
	}

	// Sends command `cmd` with the attributes `fill` adds; returns 0 or a positive errno.
	int request(uint8_t cmd, const std::function<void(nl_msg*)>& fill)
	{
		std::unique_ptr<nl_msg, MsgDeleter> msg(nlmsg_alloc());
		genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0, NLM_F_ACK, cmd, HTTPCLOOP_GENL_VERSION);
		fill(msg.get());
		reply_index_ = UINT32_MAX;
		error_ = 0;
		acked_ = false;
		if (nl_send_auto(sock_.get(), msg.get()) < 0)
			return EIO;
		while (!acked_) {
			int err = nl_recvmsgs_default(sock_.get());
			if (err < 0 && !acked_)
				return ETIMEDOUT;
		}
		return error_;
	}

	uint32_t reply_index() const { return reply_index_; }

	// Answers the FETCHes of device `index`'s partition scan in add_disk() with
	// BLOCK_FAILED (no daemon here; the scan then finds no partition table) until the
	// kernel says DEV_ONLINE; false if that takes more than `seconds`.
	bool fail_scan_until_online(uint32_t index, int seconds = 30)
	{
		for (int waited = 0; online_.count(index) == 0; waited++) {
			if (waited >= seconds * 10)
				return false;
			while (!fetches_.empty()) {
				auto [device, block] = fetches_.front();
				fetches_.pop_front();
				if (device == index)
					request(HTTPCLOOP_CMD_BLOCK_FAILED, [&](nl_msg* msg) {
						nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, device);
						nla_put_u64(msg, HTTPCLOOP_ATTR_BLOCK, block);
					});
			}
			pollfd pfd{nl_socket_get_fd(sock_.get()), POLLIN, 0};
			if (poll(&pfd, 1, 100) > 0)
				nl_recvmsgs_default(sock_.get());
		}
		return true;
	}

	// Waits up to `seconds` for FETCH {index, block} and answers it with BLOCK_READY.
	bool answer_fetch(uint32_t index, uint64_t block, int seconds = 10)
	{
		for (int waited = 0; waited <= seconds * 10; waited++) {
			for (auto it = fetches_.begin(); it != fetches_.end(); ++it) {
				if (it->first == index && it->second == block) {
					fetches_.erase(it);
					return request(HTTPCLOOP_CMD_BLOCK_READY, [&](nl_msg* msg) {
						       nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, index);
						       nla_put_u64(msg, HTTPCLOOP_ATTR_BLOCK, block);
					       }) == 0;
				}
			}
			pollfd pfd{nl_socket_get_fd(sock_.get()), POLLIN, 0};
			if (poll(&pfd, 1, 100) > 0)
				nl_recvmsgs_default(sock_.get());
		}
		return false;
	}

	// Reads what the kernel sent so far and forgets the FETCHes in it.
	void forget_fetches()
	{
		pollfd pfd{nl_socket_get_fd(sock_.get()), POLLIN, 0};
		while (poll(&pfd, 1, 200) > 0)
			nl_recvmsgs_default(sock_.get());
		fetches_.clear();
	}

	// Closes the socket, as a daemon's exit does.
	void close() { sock_.reset(); }

	// Whether the kernel sent this socket DEV_RELEASED {index, reason}, now or within
	// `seconds` (events read meanwhile are kept).
	bool released(uint32_t index, uint32_t reason, int seconds = 5)
	{
		for (int waited = 0;; waited++) {
			for (const auto& event : released_)
				if (event.first == index && event.second == reason)
					return true;
			if (waited >= seconds * 10)
				return false;
			pollfd pfd{nl_socket_get_fd(sock_.get()), POLLIN, 0};
			if (poll(&pfd, 1, 100) > 0)
				nl_recvmsgs_default(sock_.get());
		}
	}
	uint32_t port() const { return nl_socket_get_local_port(sock_.get()); }

private:
	static int on_valid(nl_msg* msg, void* arg)
	{
		auto* self = static_cast<Channel*>(arg);
		nlattr* attrs[HTTPCLOOP_ATTR_MAX + 1] = {};
		if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, HTTPCLOOP_ATTR_MAX, nullptr) < 0)
			return NL_SKIP;
		auto* gnlh = static_cast<genlmsghdr*>(nlmsg_data(nlmsg_hdr(msg)));
		if ((gnlh->cmd == HTTPCLOOP_CMD_DEV_ADD || gnlh->cmd == HTTPCLOOP_CMD_DEV_CLAIM) &&
		    attrs[HTTPCLOOP_ATTR_INDEX])
			self->reply_index_ = nla_get_u32(attrs[HTTPCLOOP_ATTR_INDEX]);
		if (gnlh->cmd == HTTPCLOOP_CMD_FETCH && attrs[HTTPCLOOP_ATTR_INDEX] && attrs[HTTPCLOOP_ATTR_BLOCK])
			self->fetches_.emplace_back(nla_get_u32(attrs[HTTPCLOOP_ATTR_INDEX]),
						    nla_get_u64(attrs[HTTPCLOOP_ATTR_BLOCK]));
		if (gnlh->cmd == HTTPCLOOP_CMD_DEV_ONLINE && attrs[HTTPCLOOP_ATTR_INDEX])
			self->online_.insert(nla_get_u32(attrs[HTTPCLOOP_ATTR_INDEX]));
		if (gnlh->cmd == HTTPCLOOP_CMD_DEV_RELEASED && attrs[HTTPCLOOP_ATTR_INDEX] && attrs[HTTPCLOOP_ATTR_REASON])
			self->released_.emplace_back(nla_get_u32(attrs[HTTPCLOOP_ATTR_INDEX]),
						     nla_get_u32(attrs[HTTPCLOOP_ATTR_REASON]));
		// FETCH and DEV_ONLINE events are not this test's business.
		return NL_SKIP;
	}

	static int on_ack(nl_msg*, void* arg)
	{
		auto* self = static_cast<Channel*>(arg);
		self->error_ = 0;
		self->acked_ = true;
		return NL_STOP;
	}

	static int on_error(sockaddr_nl*, nlmsgerr* err, void* arg)
	{
		auto* self = static_cast<Channel*>(arg);
		self->error_ = -err->error;
		self->acked_ = true;
		return NL_STOP;
	}

	std::unique_ptr<nl_sock, SockDeleter> sock_;
	int family_ = -1;
	uint32_t reply_index_ = UINT32_MAX;
	int error_ = 0;
	bool acked_ = false;
	std::vector<std::pair<uint32_t, uint32_t>> released_; // DEV_RELEASED: index, reason
	std::deque<std::pair<uint32_t, uint64_t>> fetches_;   // FETCH: index, block
	std::set<uint32_t> online_;                            // DEV_ONLINE seen
};

struct TempFile {
	std::string path;
	int fd = -1;
	TempFile(uint64_t size, int flags = O_RDWR)
	{
		char name[] = "/tmp/hcl-selftest-XXXXXX";
		int created = mkstemp(name);
		path = name;
		if (created >= 0) {
			if (ftruncate(created, static_cast<off_t>(size)) != 0)
				std::perror("ftruncate");
			close(created);
		}
		fd = ::open(path.c_str(), flags | O_CLOEXEC);
	}
	~TempFile()
	{
		if (fd >= 0)
			close(fd);
		unlink(path.c_str());
	}
};

std::vector<uint8_t> image_id(uint8_t fill)
{
	return std::vector<uint8_t>(HTTPCLOOP_IMAGE_ID_LEN, fill);
}

// A DEV_ADD message's attributes; every argument can be made wrong.
std::function<void(nl_msg*)> dev_add(uint64_t image_size, uint32_t block_size, int cache_fd,
				     const std::vector<uint8_t>& id)
{
	return [=](nl_msg* msg) {
		nla_put_u64(msg, HTTPCLOOP_ATTR_IMAGE_SIZE, image_size);
		nla_put_u32(msg, HTTPCLOOP_ATTR_BLOCK_SIZE, block_size);
		nla_put_u32(msg, HTTPCLOOP_ATTR_CACHE_FD, static_cast<uint32_t>(cache_fd));
		nla_put_u32(msg, HTTPCLOOP_ATTR_DAEMON_PID, static_cast<uint32_t>(getpid()));
		nla_put_u64(msg, HTTPCLOOP_ATTR_FEATURES, HTTPCLOOP_F_ALL);
		if (!id.empty())
			nla_put(msg, HTTPCLOOP_ATTR_IMAGE_ID, static_cast<int>(id.size()), id.data());
	};
}

std::function<void(nl_msg*)> index_only(uint32_t index)
{
	return [=](nl_msg* msg) { nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, index); };
}

std::function<void(nl_msg*)> block_attr(uint32_t index, uint64_t block)
{
	return [=](nl_msg* msg) {
		nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, index);
		nla_put_u64(msg, HTTPCLOOP_ATTR_BLOCK, block);
	};
}

std::function<void(nl_msg*)> seed(uint32_t index, uint64_t offset, std::vector<uint8_t> bits)
{
	return [=](nl_msg* msg) {
		nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, index);
		nla_put_u64(msg, HTTPCLOOP_ATTR_BITMAP_OFFSET, offset);
		nla_put(msg, HTTPCLOOP_ATTR_BITMAP, static_cast<int>(bits.size()), bits.data());
	};
}

std::function<void(nl_msg*)> claim(uint32_t index, const std::vector<uint8_t>& id, int cache_fd)
{
	return [=](nl_msg* msg) {
		nla_put_u32(msg, HTTPCLOOP_ATTR_INDEX, index);
		nla_put(msg, HTTPCLOOP_ATTR_IMAGE_ID, static_cast<int>(id.size()), id.data());
		nla_put_u32(msg, HTTPCLOOP_ATTR_CACHE_FD, static_cast<uint32_t>(cache_fd));
	};
}

std::string sysfs(uint32_t index, const std::string& name)
{
	std::string path = "/sys/block/httpcloop" + std::to_string(index) + "/httpcloop/" + name;
	FILE* f = std::fopen(path.c_str(), "r");
	if (!f)
		return "";
	char buffer[64] = {};
	if (!std::fgets(buffer, sizeof(buffer), f))
		buffer[0] = '\0';
	std::fclose(f);
	std::string text(buffer);
	while (!text.empty() && text.back() == '\n')
		text.pop_back();
	return text;
}

bool wait_for(const std::function<bool()>& condition, int seconds = 10)
{
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
	while (!condition()) {
		if (std::chrono::steady_clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return true;
}

std::string device(uint32_t index)
{
	return "/dev/httpcloop" + std::to_string(index);
}

// Reads block `block` of the device with O_DIRECT; returns 0 or errno.
// Writes `text` to a sysfs file; returns 0 or the errno.
int write_text(const std::string& path, const std::string& text)
{
	int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int result = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : errno;
	close(fd);
	return result;
}

std::string read_text(const std::string& path)
{
	std::string text(64, '\0');
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text.data(), text.size());
	if (fd >= 0)
		close(fd);
	text.resize(n > 0 ? static_cast<size_t>(n) : 0);
	while (!text.empty() && text.back() == '\n')
		text.pop_back();
	return text;
}

int read_block(uint32_t index, uint64_t block)
{
	int fd = ::open(device(index).c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return errno;
	void* buffer = nullptr;
	if (posix_memalign(&buffer, 4096, kBlockSize) != 0) {
		close(fd);
		return ENOMEM;
	}
	ssize_t n = pread(fd, buffer, kBlockSize, static_cast<off_t>(block * kBlockSize));
	int result = n == static_cast<ssize_t>(kBlockSize) ? 0 : n < 0 ? errno : EIO;
	std::free(buffer);
	close(fd);
	return result;
}

// Runs `body` in a child process; returns its exit status (0: the checks passed).
int in_child(const std::function<int()>& body)
{
	std::fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(body());
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// Drops `capability` from this process's effective set (it keeps the others).
bool drop_effective(int capability)
{
	__user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2] = {};
	if (syscall(SYS_capget, &header, data) != 0)
		return false;
	data[capability / 32].effective &= ~(1U << (capability % 32));
	return syscall(SYS_capset, &header, data) == 0;
}

void remove_all_devices(Channel& channel)
{
	for (uint32_t index = 0; index < 64; index++)
		if (access(("/sys/block/httpcloop" + std::to_string(index)).c_str(), F_OK) == 0)
			channel.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(index));
}

void random_messages(Channel& owner, Channel& stranger, uint32_t scratch, unsigned iterations)
{
	std::mt19937 random(12345);
	unsigned sent = 0, accepted = 0;
	for (unsigned i = 0; i < iterations; i++) {
		Channel& channel = (random() & 1) ? owner : stranger;
		uint8_t cmd = static_cast<uint8_t>(random() % (HTTPCLOOP_CMD_MAX + 3));
		unsigned nattrs = random() % 5;
		int err = channel.request(cmd, [&](nl_msg* msg) {
			for (unsigned a = 0; a < nattrs; a++) {
				int type = static_cast<int>(random() % (HTTPCLOOP_ATTR_MAX + 3));
				switch (random() % 3) {
				case 0: // often the scratch device, so that commands reach their checks
					nla_put_u32(msg, type, (random() & 1) ? scratch : static_cast<uint32_t>(random()));
					break;
				case 1:
					nla_put_u64(msg, type, (random() & 1) ? random() % (kBlocks + 2) : random());
					break;
				default: {
					std::vector<uint8_t> bytes(random() % 48);
					for (uint8_t& b : bytes)
						b = static_cast<uint8_t>(random());
					nla_put(msg, type, static_cast<int>(bytes.size()), bytes.data());
				}
				}
			}
		});
		sent++;
		if (err == 0)
			accepted++;
	}
	check(sent == iterations, "random messages: " + std::to_string(sent) + " sent, " + std::to_string(accepted) +
					  " accepted, the rest refused");
}

} // namespace

// --stuck-cache CACHE SOURCE: a device whose every block is present, so that every read
// goes to the cache file CACHE, which the caller makes hang for a while (a FUSE file whose
// server holds its data back); IO_TIMEOUT is 1 s. The kernel must report the slow read
// (the caller checks the kernel log) and, once CACHE answers, complete every read with
// SOURCE's bytes: a read from the cache file is never failed early, since it fills the
// request's own pages.
int stuck_cache(const char* cache_path, const char* source_path)
{
	Channel owner;
	if (!owner.open()) {
		std::fprintf(stderr, "cannot reach the httpcloop netlink family: is the module loaded?\n");
		return 2;
	}
	int cache = ::open(cache_path, O_RDONLY | O_CLOEXEC);
	int source = ::open(source_path, O_RDONLY | O_CLOEXEC);
	struct stat info {};
	check(cache >= 0 && source >= 0 && fstat(source, &info) == 0 && info.st_size > 0 &&
		      info.st_size % kBlockSize == 0 && info.st_size / kBlockSize <= 8 * HTTPCLOOP_MAX_BITMAP_CHUNK,
	      "the cache file and the source open, the source a whole number of blocks");
	if (g_failures)
		return 1;
	const uint64_t size = static_cast<uint64_t>(info.st_size);
	const std::vector<uint8_t> all_present((size / kBlockSize + 7) / 8, 0xff);
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD,
			    [&](nl_msg* msg) {
				    dev_add(size, kBlockSize, cache, image_id(0x5c))(msg);
				    nla_put(msg, HTTPCLOOP_ATTR_BITMAP, static_cast<int>(all_present.size()),
					    all_present.data());
				    nla_put_u32(msg, HTTPCLOOP_ATTR_IO_TIMEOUT, 1);
			    }) == 0,
	      "DEV_ADD with every block present and IO_TIMEOUT 1");
	if (g_failures)
		return 1;
	const uint32_t index = owner.reply_index();
	// The partition scan reads from the stuck cache file: online once it answers.
	check(owner.fail_scan_until_online(index, 120), "DEV_ONLINE once the cache file answers the scan");
	check(wait_for([&] { return access(device(index).c_str(), F_OK) == 0; }), device(index) + " appears");
	int fd = ::open(device(index).c_str(), O_RDONLY | O_CLOEXEC);
	std::vector<char> got(size), want(size);
	check(fd >= 0 && pread(fd, got.data(), size, 0) == static_cast<ssize_t>(size) &&
		      pread(source, want.data(), size, 0) == static_cast<ssize_t>(size),
	      "the whole device reads");
	check(got == want, "every byte read through the device is the source's");
	if (fd >= 0)
		close(fd);
	check(owner.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(index)) == 0, "DEV_REMOVE");
	close(cache);
	close(source);
	return g_failures ? 1 : 0;
}

int main(int argc, char** argv)
{
	setvbuf(stdout, nullptr, _IOLBF, 0);
	if (argc == 4 && std::string(argv[1]) == "--stuck-cache")
		return stuck_cache(argv[2], argv[3]);
	unsigned iterations = 3000;
	if (argc == 3 && std::string(argv[1]) == "--random-iterations")
		iterations = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));

	Channel owner, stranger;
	if (!owner.open() || !stranger.open()) {
		std::fprintf(stderr, "cannot reach the httpcloop netlink family: is the module loaded?\n");
		return 2;
	}
	TempFile cache(kImageSize);
	TempFile other_cache(kImageSize);
	TempFile short_cache(kImageSize - 1);
	TempFile write_only(kImageSize, O_WRONLY);
	int directory = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const auto id = image_id(0xab);

	// DEV_ADD refusals: nothing is created.
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, directory, id)) == EINVAL,
	      "DEV_ADD with a directory as the cache file: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, write_only.fd, id)) == EINVAL,
	      "DEV_ADD with a cache file not open for reading: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, short_cache.fd, id)) == EINVAL,
	      "DEV_ADD with a cache file shorter than the image: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, 9999, id)) == EBADF,
	      "DEV_ADD with a descriptor that is not open: EBADF");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, 96 * 1024, cache.fd, id)) == EINVAL,
	      "DEV_ADD with a block size that is not a power of two: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, 4096, cache.fd, id)) != 0,
	      "DEV_ADD with a block size below the minimum: refused");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, cache.fd, std::vector<uint8_t>(31, 1))) !=
		      0,
	      "DEV_ADD with an image id of 31 bytes: refused");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(0, kBlockSize, cache.fd, id)) == EINVAL,
	      "DEV_ADD of an empty image: EINVAL");
	check(access("/sys/block/httpcloop0", F_OK) != 0, "no device after the refused DEV_ADDs");

	// A device.
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, cache.fd, id)) == 0, "DEV_ADD");
	const uint32_t index = owner.reply_index();
	check(index != UINT32_MAX, "DEV_ADD's reply names the device");
	// add_disk() reads the partition table: its reads wait for blocks, and meanwhile no
	// command may wait for them (they need the lock that every command takes).
	check(wait_for([&] { return access(("/sys/block/httpcloop" + std::to_string(index)).c_str(), F_OK) == 0 &&
				   sysfs(index, "parked") != "0"; }),
	      "the partition scan waits for a block");
	check(stranger.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(index)) == EBUSY,
	      "DEV_REMOVE while the partition scan waits: EBUSY at once");
	check(owner.fail_scan_until_online(index), "DEV_ONLINE once the scan's reads are answered");
	check(wait_for([&] { return access(device(index).c_str(), F_OK) == 0; }), device(index) + " appears");
	check(sysfs(index, "daemon_pid") == std::to_string(getpid()), "sysfs daemon_pid is the sender's");

	// Only the owner answers.
	check(stranger.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index, 0)) == EPERM,
	      "BLOCK_READY from a socket that does not own the device: EPERM");
	check(stranger.request(HTTPCLOOP_CMD_BLOCK_FAILED, block_attr(index, 0)) == EPERM,
	      "BLOCK_FAILED from a socket that does not own the device: EPERM");
	check(stranger.request(HTTPCLOOP_CMD_DEV_SEED, seed(index, 0, {0xff})) == EPERM,
	      "DEV_SEED from a socket that does not own the device: EPERM");
	check(owner.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index, kBlocks)) == ERANGE,
	      "BLOCK_READY for a block beyond the image: ERANGE");
	check(owner.request(HTTPCLOOP_CMD_BLOCK_FAILED, block_attr(index, UINT64_MAX)) == ERANGE,
	      "BLOCK_FAILED for block 2^64-1: ERANGE");
	check(owner.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index + 7, 0)) == ENODEV,
	      "BLOCK_READY for a device that does not exist: ENODEV");
	check(owner.request(HTTPCLOOP_CMD_DEV_SEED, seed(index, 3, {0xff})) == EINVAL,
	      "DEV_SEED at a block offset that is not a multiple of 8: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_SEED, seed(index, kBlocks, {0xff})) == EINVAL,
	      "DEV_SEED beyond the image: EINVAL");
	check(owner.request(HTTPCLOOP_CMD_DEV_SEED, seed(index, 8, {0xff, 0xff})) == EINVAL,
	      "DEV_SEED with more bits than the image has: EINVAL");
	check(sysfs(index, "blocks_present") == "0", "no block present after the refused answers");
	// An answer nobody asked for is how readahead and prefetch announce blocks.
	check(owner.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index, 2)) == 0,
	      "BLOCK_READY for a block never asked for: accepted (readahead)");
	check(sysfs(index, "blocks_present") == "1", "... and that block is present");
	check(owner.request(HTTPCLOOP_CMD_BLOCK_FAILED, block_attr(index, 5)) == 0,
	      "BLOCK_FAILED for a block never asked for: accepted, nothing waits");
	check(owner.request(HTTPCLOOP_CMD_DEV_SEED, seed(index, 8, {0x01})) == 0, "DEV_SEED of block 8");
	check(sysfs(index, "blocks_present") == "2", "blocks_present counts it");
	check(read_block(index, 2) == 0, "a present block reads from the cache file");

	// Take-over.
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(index, image_id(0xcd), cache.fd)) == EINVAL,
	      "DEV_CLAIM naming another image: EINVAL");
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(index, id, other_cache.fd)) == EINVAL,
	      "DEV_CLAIM with another cache file: EINVAL");
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(index + 7, id, cache.fd)) == ENODEV,
	      "DEV_CLAIM of a device that does not exist: ENODEV");
	check(sysfs(index, "claims") == "0", "no claim counted after the refusals");
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(index, id, cache.fd)) == 0,
	      "DEV_CLAIM with the image id and the same cache file");
	check(stranger.reply_index() == index, "DEV_CLAIM's reply names the device");
	check(sysfs(index, "claims") == "1", "sysfs claims");
	check(owner.released(index, HTTPCLOOP_RELEASED_CLAIMED), "the former owner is told: DEV_RELEASED CLAIMED");
	check(!stranger.released(index, HTTPCLOOP_RELEASED_CLAIMED, 0), "the claimant is not told it was replaced");
	check(owner.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index, 3)) == EPERM,
	      "the old owner's answers are refused after the claim: EPERM");
	check(stranger.request(HTTPCLOOP_CMD_BLOCK_READY, block_attr(index, 3)) == 0, "the new owner answers");

	// A device without an image id cannot be claimed.
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, other_cache.fd, {})) == 0,
	      "DEV_ADD without an image id");
	const uint32_t anonymous = owner.reply_index();
	check(owner.fail_scan_until_online(anonymous), "DEV_ONLINE for the device without an image id");
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(anonymous, id, other_cache.fd)) == EOPNOTSUPP,
	      "DEV_CLAIM of a device added without an image id: EOPNOTSUPP");

	// Removal while open.
	check(wait_for([&] { return access(device(anonymous).c_str(), F_OK) == 0; }), device(anonymous) + " appears");
	int open_fd = ::open(device(index).c_str(), O_RDONLY | O_CLOEXEC);
	check(open_fd >= 0, "open " + device(index));
	check(owner.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(index)) == EBUSY, "DEV_REMOVE while open: EBUSY");
	close(open_fd);

	// A cache file truncated under the device: reads fail, never return wrong bytes.
	check(ftruncate(cache.fd, 0) == 0, "truncate the cache file");
	check(read_block(index, 3) == EIO, "a present block of a truncated cache file: EIO");

	// Per-device timeouts (DEV_ADD): refused out of range, shown in sysfs, and they, not
	// the module parameters, bound the waits. The module's io_timeout is raised for this
	// (new devices read it at DEV_ADD), so that the two cannot be confused.
	TempFile timed_cache(kImageSize);
	const auto timed_id = image_id(0x77);
	auto timed = [&](std::optional<uint32_t> io, std::optional<uint32_t> dead) {
		auto base = dev_add(kImageSize, kBlockSize, timed_cache.fd, timed_id);
		return std::function<void(nl_msg*)>([=](nl_msg* msg) {
			base(msg);
			if (io)
				nla_put_u32(msg, HTTPCLOOP_ATTR_IO_TIMEOUT, *io);
			if (dead)
				nla_put_u32(msg, HTTPCLOOP_ATTR_DEAD_TIMEOUT, *dead);
		});
	};
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, timed(0, std::nullopt)) == ERANGE, "DEV_ADD with IO_TIMEOUT 0: ERANGE");
	check(owner.request(HTTPCLOOP_CMD_DEV_ADD, timed(std::nullopt, 24 * 3600 + 1)) == ERANGE,
	      "DEV_ADD with DEAD_TIMEOUT over a day: ERANGE");
	check(write_text("/sys/module/httpcloop/parameters/io_timeout", "0") != 0, "io_timeout=0 refused");
	check(write_text("/sys/module/httpcloop/parameters/dead_timeout", "86401") != 0, "dead_timeout=86401 refused");
	const std::string module_io_timeout = read_text("/sys/module/httpcloop/parameters/io_timeout");
	check(write_text("/sys/module/httpcloop/parameters/io_timeout", "120") == 0, "io_timeout=120 accepted");
	Channel lessee;
	check(lessee.open(), "a daemon's socket");
	check(lessee.request(HTTPCLOOP_CMD_DEV_ADD, timed(2, 2)) == 0, "DEV_ADD with IO_TIMEOUT 2 and DEAD_TIMEOUT 2");
	const uint32_t timed_index = lessee.reply_index();
	check(lessee.fail_scan_until_online(timed_index), "DEV_ONLINE for the timed device");
	write_text("/sys/module/httpcloop/parameters/io_timeout", module_io_timeout);
	check(sysfs(timed_index, "io_timeout") == "2" && sysfs(timed_index, "dead_timeout") == "2",
	      "sysfs shows the device's own timeouts");
	auto timed_read = [&](uint64_t block, double& seconds) {
		auto start = std::chrono::steady_clock::now();
		int result = in_child([&] { return read_block(timed_index, block); });
		seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
		return result;
	};
	double seconds = 0;
	const int unanswered = timed_read(5, seconds); // (before the message that shows `seconds`)
	check(unanswered == EIO && seconds < 60, "io_timeout: an unanswered read fails with EIO after " +
							 std::to_string(seconds) + " s (device 2 s, module 120 s)");
	lessee.forget_fetches(); // the timed-out read's FETCH: the next one must be new
	pid_t again = fork();
	if (again == 0)
		_exit(read_block(timed_index, 5));
	check(lessee.answer_fetch(timed_index, 5), "a fresh read of the timed-out block asks for it again");
	int status = 0;
	waitpid(again, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "... and completes once it is ready");
	pid_t waiting = fork();
	if (waiting == 0)
		_exit(read_block(timed_index, 6));
	check(wait_for([&] { return sysfs(timed_index, "parked") != "0"; }), "a read of block 6 waits");
	auto closed = std::chrono::steady_clock::now();
	lessee.close();
	waitpid(waiting, &status, 0);
	seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - closed).count();
	check(WIFEXITED(status) && WEXITSTATUS(status) == EIO && seconds < 15,
	      "dead_timeout: with the owner gone the read fails after " + std::to_string(seconds) +
		      " s (device 2 s, module 30 s)");
	check(timed_read(6, seconds) == EIO, "a fresh read with no owner fails at once");
	check(stranger.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(timed_index, timed_id, timed_cache.fd)) == 0,
	      "a new owner claims the device after dead_timeout");
	waiting = fork();
	if (waiting == 0)
		_exit(read_block(timed_index, 6));
	check(stranger.answer_fetch(timed_index, 6), "a fresh read of the block asks the new owner");
	waitpid(waiting, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "... and completes");
	check(owner.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(timed_index)) == 0, "DEV_REMOVE of the timed device");

	// Privilege: creating and removing devices needs CAP_SYS_ADMIN, not only CAP_NET_ADMIN.
	// In a child made unprivileged by `unprivilege`: DEV_ADD, DEV_REMOVE and DEV_CLAIM
	// must be refused with EPERM (0), or, with `family_may_be_missing`, the family not
	// even seen (another network namespace: also 0).
	auto refused_when = [&](const std::function<bool()>& unprivilege, bool family_may_be_missing) {
		return in_child([&] {
			if (!unprivilege())
				return 3;
			Channel inside;
			if (!inside.open())
				return family_may_be_missing ? 0 : 4;
			if (inside.request(HTTPCLOOP_CMD_DEV_ADD, dev_add(kImageSize, kBlockSize, other_cache.fd, id)) != EPERM)
				return 5;
			if (inside.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(anonymous)) != EPERM)
				return 6;
			if (inside.request(HTTPCLOOP_CMD_DEV_CLAIM, claim(index, id, cache.fd)) != EPERM)
				return 7;
			return 0;
		});
	};
	check(refused_when([] { return drop_effective(CAP_SYS_ADMIN); }, false) == 0,
	      "with CAP_NET_ADMIN but not CAP_SYS_ADMIN: DEV_ADD, DEV_REMOVE and DEV_CLAIM refused (EPERM)");
	// Another network namespace does not see the family at all; if it did, a namespace's
	// own root would still be refused (CAP_SYS_ADMIN is checked in the initial user
	// namespace).
	check(refused_when([] { return unshare(CLONE_NEWNET) == 0; }, true) == 0,
	      "root of a new network namespace cannot add a device");
	// Root of a new user namespace: all capabilities there, none in the initial one.
	// unshare(2) refuses a new user namespace to a chrooted process (the VM guest runs
	// its tests in a chroot), so the child first leaves the chroot for PID 1's root; it
	// needs no file from here on.
	auto in_new_user_namespace = [](int flags) {
		if (unshare(CLONE_NEWUSER | flags) == 0)
			return true;
		return errno == EPERM && chroot("/proc/1/root") == 0 && chdir("/") == 0 &&
		       unshare(CLONE_NEWUSER | flags) == 0;
	};
	// In the initial network namespace the family is there, the privilege is not.
	check(refused_when([&] { return in_new_user_namespace(0); }, false) == 0,
	      "root of a new user namespace: DEV_ADD, DEV_REMOVE and DEV_CLAIM refused (EPERM)");
	check(refused_when([&] { return in_new_user_namespace(CLONE_NEWNET); }, true) == 0,
	      "root of a new user and network namespace cannot add a device");
	check(access(device(anonymous).c_str(), F_OK) == 0, device(anonymous) + " is still there");

	random_messages(owner, stranger, anonymous, iterations);

	// Removed by another socket: the owner is told, so that it exits.
	check(owner.request(HTTPCLOOP_CMD_DEV_REMOVE, index_only(index)) == 0, "DEV_REMOVE of the claimed device");
	check(stranger.released(index, HTTPCLOOP_RELEASED_REMOVED), "its owner is told: DEV_RELEASED REMOVED");

	remove_all_devices(owner);
	check(wait_for([] {
		      for (int i = 0; i < 64; i++)
			      if (access(("/sys/block/httpcloop" + std::to_string(i)).c_str(), F_OK) == 0)
				      return false;
		      return true;
	      }),
	      "every device removed");
	close(directory);
	std::printf("%d failed\n", g_failures);
	return g_failures ? 1 : 0;
}
