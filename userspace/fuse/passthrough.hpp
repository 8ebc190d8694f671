#pragma once
// FUSE passthrough for mount-fuse's image file: once every block is in the cache file,
// opens of MOUNTPOINT/image are handed the cache file as their backing file, and the
// kernel reads it directly, with no round trip through the server per read (the round
// trip bounds a 4 KiB read through FUSE to about 0.1 x the local file: README, "the FUSE
// floor"). It needs Linux >= 6.9 (CONFIG_FUSE_PASSTHROUGH), a libfuse that can ask for
// it (>= 3.16: FUSE_CAP_PASSTHROUGH at compile time) and CAP_SYS_ADMIN (the kernel
// refuses a backing file to others); anything missing, and the server serves every read
// itself, as before.
//
// The cache file may hand out only what is verified: a block missing from it reads as
// zeros there. So a file is opened with passthrough only when every block is present
// and durable (nothing is written to the cache file after that), and the kernel then
// never asks the server for its reads.
//
// The kernel keeps one I/O mode per inode: while a served (cached-mode) open of the
// image exists, a passthrough open fails with EIO, and the reverse. So passthrough is
// chosen only when no served open exists, and once chosen for every later open (the
// cache stays complete). The kernel ends an open's I/O mode before it
// sends RELEASE, so counting opens from OPEN to RELEASE errs on the safe side.
//
// Thread-safety: every member function may be called from any libfuse thread.

#include <cstdint>
#include <mutex>
#include <string>

namespace httpcloop {

class CacheStore;

class Passthrough {
public:
	// Whether this build can ask the kernel for passthrough (libfuse >= 3.16).
	static bool compiled_in();

	// Before the file system starts: the /dev/fuse descriptor of the session, or -1 (off).
	void set_session_fd(int fd) { session_fd_ = fd; }
	bool wanted() const { return session_fd_ >= 0; }
	// From FUSE_INIT: the kernel and libfuse agreed to it.
	void set_negotiated() { negotiated_ = true; }

	// An open of the image: the backing id to open it with, or 0 to serve its reads.
	int32_t open_file(const CacheStore& cache);
	// Its release, with what open_file() returned for it.
	void release_file(int32_t backing_id);

	// For `status`: "on", "ready (...)", "waiting (...for what...)" or "off (...why...)".
	std::string state(const CacheStore& cache) const;
	uint64_t passthrough_opens() const;

private:
	int32_t register_backing_file(const CacheStore& cache);

	int session_fd_ = -1;
	bool negotiated_ = false;
	mutable std::mutex mutex_;
	int32_t backing_id_ = 0;  // registered once, for the life of the connection
	std::string refused_;     // why the kernel refused the backing file (then never again)
	unsigned served_open_ = 0;        // served opens not released yet
	uint64_t passthrough_opens_ = 0;  // passthrough opens made, for status
};

} // namespace httpcloop
