#include "fuse/image_fs.hpp"

#include "util/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>

namespace httpcloop {

namespace {

constexpr const char* kImagePath = "/image";

ImageFs& filesystem()
{
	return *static_cast<ImageFs*>(fuse_get_context()->private_data);
}

int image_getattr(const char* path, struct stat* st, fuse_file_info*)
{
	std::memset(st, 0, sizeof(*st));
	if (std::strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (std::strcmp(path, kImagePath) == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = static_cast<off_t>(filesystem().manifest.image_size);
		st->st_blksize = static_cast<blksize_t>(filesystem().manifest.block_size);
		st->st_blocks = (st->st_size + 511) / 512;
		return 0;
	}
	return -ENOENT;
}

int image_readdir(const char* path, void* buffer, fuse_fill_dir_t fill, off_t, fuse_file_info*,
		  fuse_readdir_flags)
{
	// nullpath_ok: no path; the root is the only directory there is to list.
	if (path != nullptr && std::strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buffer, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, kImagePath + 1, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	return 0;
}

// The image's file handle: reads carry it, so that they need no path (nullpath_ok).
constexpr uint64_t kImageHandle = 1;

int image_open(const char* path, fuse_file_info* info)
{
	if (std::strcmp(path, kImagePath) != 0)
		return -ENOENT;
	if ((info->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	info->fh = kImageHandle;
#ifdef FUSE_CAP_PASSTHROUGH
	ImageFs& fs = filesystem();
	info->backing_id = fs.passthrough.open_file(fs.cache);
	// The kernel refuses (EIO) a passthrough open with any other flag than direct_io,
	// parallel_direct_writes and noflush: the cache of a served open is not its business.
	if (info->backing_id != 0)
		return 0;
#endif
	// The image never changes while mounted: let the kernel keep what it cached.
	info->keep_cache = 1;
	return 0;
}

int image_release(const char*, fuse_file_info* info)
{
#ifdef FUSE_CAP_PASSTHROUGH
	filesystem().passthrough.release_file(info->backing_id);
#else
	(void)info;
#endif
	return 0;
}

// Waits until every block of [offset, offset + length) is in the cache file.
int wait_cached(ImageFs& fs, uint64_t offset, size_t length)
{
	const uint64_t first = offset / fs.manifest.block_size;
	const uint64_t last = (offset + length - 1) / fs.manifest.block_size;
	bool all_cached = true;
	for (uint64_t block = first; block <= last && all_cached; block++)
		all_cached = fs.cache.is_present(block);
	if (all_cached) {
		fs.stats.cache_reads++;
		return 0;
	}
	std::string error;
	if (!fs.service->wait_present(first, last, fs.io_timeout, error)) {
		fs.stats.io_errors++;
		log_error("read at " + std::to_string(offset) + ": " + error);
		return -EIO;
	}
	return 0;
}

// Answers a read with the cache file's descriptor and offset rather than its bytes:
// libfuse then splices them from the cache file's pages to /dev/fuse (large replies,
// FUSE_CAP_SPLICE_WRITE) or reads them straight into its reply, one copy fewer than a
// read() into our own buffer. The path is null (nullpath_ok): no lookup on the hot path.
int image_read_buf(const char*, fuse_bufvec** result, size_t size, off_t offset, fuse_file_info* info)
{
	if (info == nullptr || info->fh != kImageHandle)
		return -EBADF;
	ImageFs& fs = filesystem();
	fs.stats.reads++;
	if (offset < 0)
		return -EINVAL;
	const uint64_t image_size = fs.manifest.image_size;
	size_t length = 0;
	if (static_cast<uint64_t>(offset) < image_size && size != 0) {
		length = static_cast<size_t>(std::min<uint64_t>(size, image_size - offset));
		if (int error = wait_cached(fs, static_cast<uint64_t>(offset), length))
			return error;
	}
	// libfuse takes the vector and releases it with free(): it must come from malloc.
	auto* vector = static_cast<fuse_bufvec*>(std::malloc(sizeof(fuse_bufvec)));
	if (vector == nullptr)
		return -ENOMEM;
	*vector = FUSE_BUFVEC_INIT(length);
	if (length != 0) {
		vector->buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
		vector->buf[0].fd = fs.cache.data_fd();
		vector->buf[0].pos = offset;
	}
	*result = vector;
	return 0;
}

void* image_init(fuse_conn_info* connection, fuse_config* config)
{
	// Large reads cost one wait for all their missing blocks instead of one per page.
	connection->max_readahead = 1024 * 1024;
	// Replies spliced from the cache file (read_buf), where the kernel can.
	connection->want |= connection->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	// Must equal the max_read mount option (libfuse refuses to start otherwise).
	connection->max_read = static_cast<unsigned>(filesystem().max_read);
#ifdef FUSE_CAP_PASSTHROUGH
	if (filesystem().passthrough.wanted() && (connection->capable & FUSE_CAP_PASSTHROUGH) != 0) {
		connection->want |= FUSE_CAP_PASSTHROUGH;
		// The cache file may be on a stacked file system (overlayfs, in a system booted
		// from an httpcloop root): allow one level under us. Nothing stacks on us
		// (the image is used through a loop device).
		connection->max_backing_stack_depth = FUSE_BACKING_STACKED_OVER;
		filesystem().passthrough.set_negotiated();
	}
#endif
	config->nullpath_ok = 1;
	// Not config->kernel_cache: it would set keep_cache on every open, passthrough opens
	// too. image_open() sets it on the others.
	config->entry_timeout = 3600;
	config->attr_timeout = 3600;
	return fuse_get_context()->private_data;
}

fuse_operations make_operations()
{
	fuse_operations ops{};
	ops.getattr = image_getattr;
	ops.readdir = image_readdir;
	ops.open = image_open;
	ops.read_buf = image_read_buf;
	ops.release = image_release;
	ops.init = image_init;
	return ops;
}

} // namespace

const fuse_operations& ImageFs::operations()
{
	static const fuse_operations ops = make_operations();
	return ops;
}

} // namespace httpcloop
