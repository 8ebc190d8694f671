#pragma once
// The daemon's side of the httpcloop generic netlink protocol
// (include/uapi/linux/httpcloop.h), over one libnl-genl socket.
//
// The socket that adds a device owns it: the kernel sends that socket FETCH
// and DEV_ONLINE, and accepts BLOCK_READY / BLOCK_FAILED / DEV_SEED only from
// it. Requests that need an answer (add, seed, remove) wait for the kernel's
// acknowledgement; events that arrive meanwhile are queued and delivered by
// dispatch_events(), so a FETCH sent during add_disk's partition scan is never
// lost. BLOCK_READY and BLOCK_FAILED are sent without an acknowledgement: they
// are the hot path, and a failure still comes back as an error and is logged.

#include <netlink/netlink.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace httpcloop {

struct DeviceConfig {
	uint64_t image_size = 0;
	uint32_t block_size = 0;
	int cache_fd = -1;
	// Present bits for blocks from 0; what does not fit in one message is sent with seed().
	std::span<const uint8_t> bitmap;
	// The manifest's SHA-256: a daemon that takes the device over must name it.
	std::span<const uint8_t> image_id;
	// Seconds (1 to a day); 0: the module parameter's.
	uint32_t io_timeout_s = 0;
	uint32_t dead_timeout_s = 0;
};

struct KernelEvent {
	// released: this socket no longer owns the device (DEV_RELEASED); `reason` says why.
	enum class Kind { fetch, online, released } kind;
	uint32_t index = 0;
	uint64_t block = 0; // fetch
	int error = 0;      // online: add_disk failed with this errno
	uint32_t reason = 0; // released: HTTPCLOOP_RELEASED_*
};

class KernelLink {
public:
	// Connects and resolves the family; throws Error explaining how to load the module.
	static KernelLink connect();

	KernelLink(KernelLink&&) noexcept;
	KernelLink& operator=(KernelLink&&) noexcept;
	~KernelLink();

	int fd() const;

	// Adds a device and returns its index (N of /dev/httpcloopN). Sends the whole
	// bitmap, in DEV_SEED chunks after the first.
	uint32_t add_device(const DeviceConfig& config);
	// Takes over the existing device `index` (its daemon died, or is being replaced):
	// this socket becomes its owner, and the kernel asks it again for every block that
	// waiting reads need. Refused unless the device serves `image_id` from the same cache
	// file as `cache_fd`; throws Error with the kernel's message.
	void claim_device(uint32_t index, std::span<const uint8_t> image_id, int cache_fd);
	// claim_device() by the owner itself, to have every outstanding FETCH sent again,
	// without waiting for the kernel's answer (see take_overrun()).
	void reclaim_device(uint32_t index, std::span<const uint8_t> image_id, int cache_fd);
	// Throws Error with the kernel's message ("device is in use ...") on failure.
	void remove_device(uint32_t index);
	void block_ready(uint32_t index, uint64_t block);
	void block_failed(uint32_t index, uint64_t block, int error);

	// Whether kernel messages were lost since the last call (the socket overflowed:
	// ENOBUFS). Lost FETCHes are never sent again by themselves: claim the device again
	// (claim_device with this socket) and the kernel re-sends every outstanding one.
	// The receive buffer is 4 MiB (HTTPCLOOP_NETLINK_RCVBUF=BYTES sets another).
	bool take_overrun();

	// Reads whatever the kernel sent without blocking, then hands every queued event
	// to `handler`.
	void dispatch_events(const std::function<void(const KernelEvent&)>& handler);

	struct Impl;

private:
	explicit KernelLink(std::unique_ptr<Impl> impl);
	std::unique_ptr<Impl> impl_;
};

} // namespace httpcloop
