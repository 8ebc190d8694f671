#include "fuse/passthrough.hpp"

#define FUSE_USE_VERSION 312
#include <fuse.h> // pkg-config fuse3 names the directory: the libfuse built against

#include "cache/cache_store.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <cstring>
#include <sys/ioctl.h>

namespace httpcloop {

namespace {

// FUSE_DEV_IOC_BACKING_OPEN of <linux/fuse.h> (Linux >= 6.9; Debian 12's headers are
// 6.1's): registers a descriptor as a backing file, returns its id.
struct FuseBackingMap {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
constexpr unsigned kFuseDevIocMagic = 229;
constexpr unsigned long kFuseDevIocBackingOpen = _IOW(kFuseDevIocMagic, 1, FuseBackingMap);

} // namespace

bool Passthrough::compiled_in()
{
#ifdef FUSE_CAP_PASSTHROUGH
	return true;
#else
	return false;
#endif
}

int32_t Passthrough::register_backing_file(const CacheStore& cache)
{
	// Only once the cache is complete and synced: nothing is written to it any more.
	if (cache.present_count() != cache.block_count() || cache.pending_commit() != 0)
		return 0;
	FuseBackingMap map{};
	map.fd = cache.data_fd();
	int id = ioctl(session_fd_, kFuseDevIocBackingOpen, &map);
	if (id <= 0) {
		// EPERM: not CAP_SYS_ADMIN; ELOOP: the cache is on too deep a stack of file systems.
		refused_ = std::string("the kernel refused the cache file as a backing file: ") +
			   (id < 0 ? std::strerror(errno) : "no id");
		log_info("FUSE passthrough off, " + refused_);
		return 0;
	}
	log_info("FUSE passthrough on: every block is cached, the kernel reads the cache file directly");
	return id;
}

int32_t Passthrough::open_file(const CacheStore& cache)
{
	std::lock_guard lock(mutex_);
	if (!negotiated_ || !refused_.empty() || served_open_ != 0) {
		served_open_++;
		return 0;
	}
	if (backing_id_ == 0)
		backing_id_ = register_backing_file(cache);
	if (backing_id_ == 0) {
		served_open_++;
		return 0;
	}
	passthrough_opens_++;
	return backing_id_;
}

void Passthrough::release_file(int32_t backing_id)
{
	std::lock_guard lock(mutex_);
	// Passthrough opens need no count: once registered, the backing file serves every
	// later open (the cache stays complete).
	if (backing_id == 0 && served_open_ > 0)
		served_open_--;
}

std::string Passthrough::state(const CacheStore& cache) const
{
	std::lock_guard lock(mutex_);
	if (!compiled_in())
		return "off (this build's libfuse has no passthrough: it needs >= 3.16)";
	if (session_fd_ < 0)
		return "off (--no-passthrough)";
	if (!negotiated_)
		return "off (the kernel offers none: it needs Linux >= 6.9 with CONFIG_FUSE_PASSTHROUGH)";
	if (!refused_.empty())
		return "off (" + refused_ + ")";
	if (backing_id_ != 0)
		return "on";
	if (cache.present_count() != cache.block_count())
		return "waiting (for every block to be cached)";
	if (served_open_ != 0)
		return "waiting (for the opens made before every block was cached to close)";
	return "ready (the next open gets it)";
}

uint64_t Passthrough::passthrough_opens() const
{
	std::lock_guard lock(mutex_);
	return passthrough_opens_;
}

} // namespace httpcloop
