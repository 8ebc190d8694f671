#include "fuse/image_fs.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <span>

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
	if (std::strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buffer, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, kImagePath + 1, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	return 0;
}

int image_open(const char* path, fuse_file_info* info)
{
	if (std::strcmp(path, kImagePath) != 0)
		return -ENOENT;
	if ((info->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	// The image never changes while mounted: let the kernel keep what it cached.
	info->keep_cache = 1;
	return 0;
}

int image_read(const char* path, char* buffer, size_t size, off_t offset, fuse_file_info*)
{
	if (std::strcmp(path, kImagePath) != 0)
		return -ENOENT;
	ImageFs& fs = filesystem();
	fs.stats.reads++;
	const uint64_t image_size = fs.manifest.image_size;
	if (offset < 0)
		return -EINVAL;
	if (static_cast<uint64_t>(offset) >= image_size || size == 0)
		return 0;
	const size_t length = static_cast<size_t>(std::min<uint64_t>(size, image_size - offset));
	const uint64_t first = static_cast<uint64_t>(offset) / fs.manifest.block_size;
	const uint64_t last = (static_cast<uint64_t>(offset) + length - 1) / fs.manifest.block_size;

	bool all_cached = true;
	for (uint64_t block = first; block <= last && all_cached; block++)
		all_cached = fs.cache.is_present(block);
	if (all_cached) {
		fs.stats.cache_reads++;
	} else {
		std::string error;
		if (!fs.service->wait_present(first, last, fs.io_timeout, error)) {
			fs.stats.io_errors++;
			log_error("read at " + std::to_string(offset) + ": " + error);
			return -EIO;
		}
	}
	try {
		std::span<uint8_t> out(reinterpret_cast<uint8_t*>(buffer), length);
		size_t got = pread_full(fs.cache.data_fd(), out, static_cast<uint64_t>(offset), "the cache file");
		if (got != length) {
			fs.stats.io_errors++;
			return -EIO;
		}
	} catch (const Error& e) {
		fs.stats.io_errors++;
		log_error(e.what());
		return -EIO;
	}
	return static_cast<int>(length);
}

void* image_init(fuse_conn_info* connection, fuse_config* config)
{
	// Large reads cost one wait for all their missing blocks instead of one per page.
	connection->max_readahead = 1024 * 1024;
	config->kernel_cache = 1;
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
	ops.read = image_read;
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
