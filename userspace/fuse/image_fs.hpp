#pragma once
// The FUSE file system of `mount-fuse`: one directory holding one read-only regular
// file, `image`, the image's plaintext, ready for `mount -o loop,ro` or `losetup -r`:
// the classic HTTP-FUSE CLOOP data path.
//
// Reads of cached blocks are answered at once with the cache file's descriptor (libfuse
// splices the bytes); reads that touch missing blocks wait for the service thread to
// fetch them (all of them in parallel), then are answered the same way.
// Once every block is cached, opens can be FUSE passthrough opens (passthrough.hpp): the
// kernel reads the cache file itself and the server sees none of their reads.
// libfuse calls these operations from several threads at once.

// 3.12: fuse_loop_mt() takes the fuse_loop_config of fuse_loop_cfg_create(). Under an
// older version it is the 3.2 function, which reads that structure as its own smaller
// one: it served with clone_fd on and started a thread for every request.
#define FUSE_USE_VERSION 312
#include <fuse.h> // pkg-config fuse3 names the directory: the libfuse built against

#include "cache/cache_store.hpp"
#include "format/manifest.hpp"
#include "fuse/passthrough.hpp"
#include "fuse/service_thread.hpp"

#include <atomic>
#include <chrono>

namespace httpcloop {

struct ImageFsStats {
	std::atomic<uint64_t> reads{0};      // read() calls
	std::atomic<uint64_t> cache_reads{0}; // reads that found every block cached
	std::atomic<uint64_t> io_errors{0};  // reads answered with EIO
};

struct ImageFs {
	ImageFs(const Manifest& manifest_, CacheStore& cache_) : manifest(manifest_), cache(cache_) {}

	const Manifest& manifest;
	CacheStore& cache;
	// Set once the server runs (after going to the background: threads start there).
	ServiceThread* service = nullptr;
	// Largest read the kernel sends (the max_read mount option): see fuse_max_read().
	size_t max_read = 0;
	// Longest a read waits for a missing block: longer than the whole fetch budget.
	std::chrono::seconds io_timeout{300};
	ImageFsStats stats;
	// Opens of a complete cache read the cache file in the kernel (Linux >= 6.9).
	Passthrough passthrough;

	static const fuse_operations& operations();
};

} // namespace httpcloop
