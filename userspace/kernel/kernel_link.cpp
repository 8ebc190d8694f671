#include "kernel/kernel_link.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

#include <linux/httpcloop.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace httpcloop {
namespace {

// Room for the FETCH bursts of a deep queue; set with SO_RCVBUFFORCE as root.
constexpr int kReceiveBuffer = 4 * 1024 * 1024;
constexpr int kReplyTimeoutMs = 30'000;

struct SockDeleter {
	void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
struct MsgDeleter {
	void operator()(nl_msg* msg) const { nlmsg_free(msg); }
};
struct CbDeleter {
	void operator()(nl_cb* cb) const { nl_cb_put(cb); }
};
using UniqueSock = std::unique_ptr<nl_sock, SockDeleter>;
using UniqueMsg = std::unique_ptr<nl_msg, MsgDeleter>;
using UniqueCb = std::unique_ptr<nl_cb, CbDeleter>;

// The extended-ack message the kernel attached to an error, if any.
std::string extack_message(const nlmsgerr* err)
{
	auto* nlh = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(err) - NLMSG_HDRLEN);
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return {};
	size_t offset = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
	size_t total = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (offset >= total)
		return {};
	auto* attrs = reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(err) + offset));
	nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, static_cast<int>(total - offset), nullptr) < 0 ||
	    !tb[NLMSGERR_ATTR_MSG])
		return {};
	const char* text = static_cast<const char*>(nla_data(tb[NLMSGERR_ATTR_MSG]));
	return std::string(text, strnlen(text, nla_len(tb[NLMSGERR_ATTR_MSG])));
}

} // namespace

struct KernelLink::Impl {
	UniqueSock sock;
	UniqueCb cb;
	int family = 0;
	std::deque<KernelEvent> events;
	// The kernel's messages overflowed the socket (ENOBUFS): some FETCHes were lost.
	bool overrun = false;

	// The request being waited for, by sequence number.
	uint32_t waiting_seq = 0;
	bool done = false;
	int error = 0;
	std::string error_message;
	uint32_t reply_index = 0;

	static int on_valid(nl_msg* msg, void* arg) { return static_cast<Impl*>(arg)->valid(msg); }
	static int on_ack(nl_msg* msg, void* arg)
	{
		auto* self = static_cast<Impl*>(arg);
		if (nlmsg_hdr(msg)->nlmsg_seq == self->waiting_seq)
			self->done = true;
		return NL_STOP;
	}
	static int on_error(sockaddr_nl*, nlmsgerr* err, void* arg)
	{
		return static_cast<Impl*>(arg)->failed(err);
	}

	int valid(nl_msg* msg)
	{
		nlmsghdr* nlh = nlmsg_hdr(msg);
		nlattr* attrs[HTTPCLOOP_ATTR_MAX + 1] = {};
		if (genlmsg_parse(nlh, 0, attrs, HTTPCLOOP_ATTR_MAX, nullptr) < 0 || !attrs[HTTPCLOOP_ATTR_INDEX])
			return NL_SKIP;
		auto* gnlh = static_cast<genlmsghdr*>(nlmsg_data(nlh));
		uint32_t index = nla_get_u32(attrs[HTTPCLOOP_ATTR_INDEX]);
		switch (gnlh->cmd) {
		case HTTPCLOOP_CMD_DEV_ADD:
		case HTTPCLOOP_CMD_DEV_CLAIM:
			if (nlh->nlmsg_seq == waiting_seq)
				reply_index = index;
			break;
		case HTTPCLOOP_CMD_FETCH:
			if (attrs[HTTPCLOOP_ATTR_BLOCK])
				events.push_back({KernelEvent::Kind::fetch, index,
						  nla_get_u64(attrs[HTTPCLOOP_ATTR_BLOCK]), 0});
			break;
		case HTTPCLOOP_CMD_DEV_ONLINE:
			events.push_back({KernelEvent::Kind::online, index, 0,
					  attrs[HTTPCLOOP_ATTR_ERRNO]
						  ? static_cast<int>(nla_get_u32(attrs[HTTPCLOOP_ATTR_ERRNO]))
						  : 0});
			break;
		case HTTPCLOOP_CMD_DEV_RELEASED:
			events.push_back({KernelEvent::Kind::released, index, 0, 0,
					  attrs[HTTPCLOOP_ATTR_REASON] ? nla_get_u32(attrs[HTTPCLOOP_ATTR_REASON]) : 0});
			break;
		default:
			break;
		}
		return NL_OK;
	}

	int failed(nlmsgerr* err)
	{
		std::string message = extack_message(err);
		if (err->msg.nlmsg_seq == waiting_seq && waiting_seq != 0) {
			done = true;
			error = -err->error;
			error_message = std::move(message);
			return NL_STOP;
		}
		// An unacknowledged BLOCK_READY/FAILED was refused: worth a log line, not fatal.
		log_warning("kernel refused a message: " + std::string(strerror(-err->error)) +
			    (message.empty() ? "" : " (" + message + ")"));
		return NL_SKIP;
	}

	UniqueMsg new_message(uint8_t cmd, int flags)
	{
		UniqueMsg msg(nlmsg_alloc());
		if (!msg || !genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
					 HTTPCLOOP_GENL_VERSION))
			throw Error("netlink: out of memory building a message");
		return msg;
	}

	// Reads everything that is waiting without blocking.
	void drain()
	{
		for (;;) {
			pollfd pfd{nl_socket_get_fd(sock.get()), POLLIN, 0};
			if (poll(&pfd, 1, 0) <= 0)
				return;
			int err = nl_recvmsgs(sock.get(), cb.get());
			if (err == -NLE_NOMEM) {
				// ENOBUFS: the socket overflowed and kernel messages were lost.
				overrun = true;
				continue;
			}
			if (err < 0 && err != -NLE_AGAIN)
				throw Error(std::string("netlink receive failed: ") + nl_geterror(err));
		}
	}

	// Sends `msg` with NLM_F_ACK and waits for its acknowledgement or error.
	void transact(nl_msg* msg, const char* what)
	{
		int sent = nl_send_auto(sock.get(), msg);
		if (sent < 0)
			throw Error(std::string(what) + ": netlink send failed: " + nl_geterror(sent));
		waiting_seq = nlmsg_hdr(msg)->nlmsg_seq;
		done = false;
		error = 0;
		error_message.clear();
		while (!done) {
			pollfd pfd{nl_socket_get_fd(sock.get()), POLLIN, 0};
			int ready = poll(&pfd, 1, kReplyTimeoutMs);
			if (ready == 0)
				throw Error(std::string(what) + ": the kernel did not answer");
			if (ready < 0 && errno != EINTR)
				throw_errno(std::string(what) + ": poll");
			if (ready > 0) {
				// libnl returns the kernel's error when our error handler stops; that is
				// an answer, handled below, not a receive failure.
				int err = nl_recvmsgs(sock.get(), cb.get());
				if (err == -NLE_NOMEM) {
					overrun = true; // as in drain(); the answer is still to come
					continue;
				}
				if (err < 0 && err != -NLE_AGAIN && !done)
					throw Error(std::string(what) + ": netlink receive failed: " + nl_geterror(err));
			}
		}
		waiting_seq = 0;
		if (error != 0)
			throw KernelError(std::string(what) + ": " +
						  (error_message.empty() ? strerror(error) : error_message) + " (" +
						  strerror(error) + ")",
					  error);
	}
};

KernelLink::KernelLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KernelLink::KernelLink(KernelLink&&) noexcept = default;
KernelLink& KernelLink::operator=(KernelLink&&) noexcept = default;
KernelLink::~KernelLink() = default;

KernelLink KernelLink::connect()
{
	auto impl = std::make_unique<Impl>();
	impl->sock.reset(nl_socket_alloc());
	impl->cb.reset(nl_cb_alloc(NL_CB_DEFAULT));
	if (!impl->sock || !impl->cb)
		throw Error("netlink: out of memory");
	nl_socket_disable_seq_check(impl->sock.get()); // kernel events carry sequence 0
	nl_socket_disable_auto_ack(impl->sock.get());
	if (int err = genl_connect(impl->sock.get()); err < 0)
		throw Error(std::string("netlink: cannot connect: ") + nl_geterror(err));

	int fd = nl_socket_get_fd(impl->sock.get());
	int one = 1;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	int receive_buffer = kReceiveBuffer;
	if (const char* size = std::getenv("HTTPCLOOP_NETLINK_RCVBUF"))
		receive_buffer = std::clamp(std::atoi(size), 1024, 256 * 1024 * 1024);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof(receive_buffer)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));

	// Resolving the family makes the kernel load the module through its
	// MODULE_ALIAS_GENL_FAMILY alias where it is installed.
	impl->family = genl_ctrl_resolve(impl->sock.get(), HTTPCLOOP_GENL_NAME);
	if (impl->family < 0)
		throw Error("the httpcloop kernel module is not loaded (insmod kernel/httpcloop.ko, "
			    "or modprobe httpcloop after make install)");
	nl_socket_set_nonblocking(impl->sock.get());

	Impl* raw = impl.get();
	nl_cb_set(impl->cb.get(), NL_CB_VALID, NL_CB_CUSTOM, &Impl::on_valid, raw);
	nl_cb_set(impl->cb.get(), NL_CB_ACK, NL_CB_CUSTOM, &Impl::on_ack, raw);
	nl_cb_err(impl->cb.get(), NL_CB_CUSTOM, &Impl::on_error, raw);
	return KernelLink(std::move(impl));
}

int KernelLink::fd() const { return nl_socket_get_fd(impl_->sock.get()); }

uint32_t KernelLink::add_device(const DeviceConfig& config)
{
	auto first = config.bitmap.first(std::min<size_t>(config.bitmap.size(), HTTPCLOOP_MAX_BITMAP_CHUNK));
	UniqueMsg msg = impl_->new_message(HTTPCLOOP_CMD_DEV_ADD, NLM_F_ACK);
	if (nla_put_u64(msg.get(), HTTPCLOOP_ATTR_IMAGE_SIZE, config.image_size) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_BLOCK_SIZE, config.block_size) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_CACHE_FD, static_cast<uint32_t>(config.cache_fd)) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_DAEMON_PID, static_cast<uint32_t>(getpid())) < 0 ||
	    nla_put_u64(msg.get(), HTTPCLOOP_ATTR_FEATURES, HTTPCLOOP_F_ALL) < 0 ||
	    (!first.empty() && nla_put(msg.get(), HTTPCLOOP_ATTR_BITMAP, static_cast<int>(first.size()),
				       first.data()) < 0) ||
	    (config.image_id.size() == HTTPCLOOP_IMAGE_ID_LEN &&
	     nla_put(msg.get(), HTTPCLOOP_ATTR_IMAGE_ID, HTTPCLOOP_IMAGE_ID_LEN, config.image_id.data()) < 0) ||
	    (config.io_timeout_s && nla_put_u32(msg.get(), HTTPCLOOP_ATTR_IO_TIMEOUT, config.io_timeout_s) < 0) ||
	    (config.dead_timeout_s && nla_put_u32(msg.get(), HTTPCLOOP_ATTR_DEAD_TIMEOUT, config.dead_timeout_s) < 0))
		throw Error("netlink: message too large");
	impl_->reply_index = UINT32_MAX;
	impl_->transact(msg.get(), "adding the device");
	uint32_t index = impl_->reply_index;
	if (index == UINT32_MAX)
		throw Error("adding the device: the kernel's reply carried no device index");

	for (size_t offset = first.size(); offset < config.bitmap.size(); offset += HTTPCLOOP_MAX_BITMAP_CHUNK) {
		auto chunk = config.bitmap.subspan(offset, std::min<size_t>(config.bitmap.size() - offset,
									   HTTPCLOOP_MAX_BITMAP_CHUNK));
		UniqueMsg seed = impl_->new_message(HTTPCLOOP_CMD_DEV_SEED, NLM_F_ACK);
		if (nla_put_u32(seed.get(), HTTPCLOOP_ATTR_INDEX, index) < 0 ||
		    nla_put_u64(seed.get(), HTTPCLOOP_ATTR_BITMAP_OFFSET, uint64_t{offset} * 8) < 0 ||
		    nla_put(seed.get(), HTTPCLOOP_ATTR_BITMAP, static_cast<int>(chunk.size()), chunk.data()) < 0)
			throw Error("netlink: message too large");
		impl_->transact(seed.get(), "seeding the present-block bitmap");
	}
	return index;
}

namespace {

// DEV_CLAIM {INDEX, IMAGE_ID, CACHE_FD, DAEMON_PID}, with `flags` (NLM_F_ACK or 0).
UniqueMsg claim_message(KernelLink::Impl& impl, int flags, uint32_t index, std::span<const uint8_t> image_id,
			int cache_fd)
{
	if (image_id.size() != HTTPCLOOP_IMAGE_ID_LEN)
		throw Error("taking over a device: an image id has " + std::to_string(HTTPCLOOP_IMAGE_ID_LEN) + " bytes");
	UniqueMsg msg = impl.new_message(HTTPCLOOP_CMD_DEV_CLAIM, flags);
	if (nla_put_u32(msg.get(), HTTPCLOOP_ATTR_INDEX, index) < 0 ||
	    nla_put(msg.get(), HTTPCLOOP_ATTR_IMAGE_ID, HTTPCLOOP_IMAGE_ID_LEN, image_id.data()) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_CACHE_FD, static_cast<uint32_t>(cache_fd)) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_DAEMON_PID, static_cast<uint32_t>(getpid())) < 0)
		throw Error("netlink: message too large");
	return msg;
}

} // namespace

void KernelLink::claim_device(uint32_t index, std::span<const uint8_t> image_id, int cache_fd)
{
	UniqueMsg msg = claim_message(*impl_, NLM_F_ACK, index, image_id, cache_fd);
	impl_->reply_index = UINT32_MAX;
	impl_->transact(msg.get(), ("taking over /dev/httpcloop" + std::to_string(index)).c_str());
	if (impl_->reply_index != index)
		throw Error("taking over /dev/httpcloop" + std::to_string(index) +
			    ": this kernel module does not know DEV_CLAIM (load a newer httpcloop module)");
}

void KernelLink::reclaim_device(uint32_t index, std::span<const uint8_t> image_id, int cache_fd)
{
	// No acknowledgement: on a socket that overflows, the kernel's answer may be lost as
	// well (the FETCHes it re-sends race with it), and nothing may wait for it. A refusal
	// still comes back as an error message, and is logged.
	UniqueMsg msg = claim_message(*impl_, 0, index, image_id, cache_fd);
	if (int sent = nl_send_auto(impl_->sock.get(), msg.get()); sent < 0)
		throw Error(std::string("claiming the device again: netlink send failed: ") + nl_geterror(sent));
}

void KernelLink::remove_device(uint32_t index)
{
	UniqueMsg msg = impl_->new_message(HTTPCLOOP_CMD_DEV_REMOVE, NLM_F_ACK);
	if (nla_put_u32(msg.get(), HTTPCLOOP_ATTR_INDEX, index) < 0)
		throw Error("netlink: message too large");
	impl_->transact(msg.get(), ("removing /dev/httpcloop" + std::to_string(index)).c_str());
}

void KernelLink::block_ready(uint32_t index, uint64_t block)
{
	UniqueMsg msg = impl_->new_message(HTTPCLOOP_CMD_BLOCK_READY, 0);
	if (nla_put_u32(msg.get(), HTTPCLOOP_ATTR_INDEX, index) < 0 ||
	    nla_put_u64(msg.get(), HTTPCLOOP_ATTR_BLOCK, block) < 0)
		throw Error("netlink: message too large");
	if (int err = nl_send_auto(impl_->sock.get(), msg.get()); err < 0)
		throw Error(std::string("netlink: sending BLOCK_READY failed: ") + nl_geterror(err));
}

void KernelLink::block_failed(uint32_t index, uint64_t block, int error)
{
	UniqueMsg msg = impl_->new_message(HTTPCLOOP_CMD_BLOCK_FAILED, 0);
	if (nla_put_u32(msg.get(), HTTPCLOOP_ATTR_INDEX, index) < 0 ||
	    nla_put_u64(msg.get(), HTTPCLOOP_ATTR_BLOCK, block) < 0 ||
	    nla_put_u32(msg.get(), HTTPCLOOP_ATTR_ERRNO, static_cast<uint32_t>(error)) < 0)
		throw Error("netlink: message too large");
	if (int err = nl_send_auto(impl_->sock.get(), msg.get()); err < 0)
		throw Error(std::string("netlink: sending BLOCK_FAILED failed: ") + nl_geterror(err));
}

bool KernelLink::take_overrun()
{
	return std::exchange(impl_->overrun, false);
}

void KernelLink::dispatch_events(const std::function<void(const KernelEvent&)>& handler)
{
	impl_->drain();
	while (!impl_->events.empty()) {
		KernelEvent event = impl_->events.front();
		impl_->events.pop_front();
		handler(event);
	}
}

} // namespace httpcloop
