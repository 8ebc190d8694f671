// The FUSE floor (make bench, the fuse-floor section): the least a FUSE file system can do
// to serve a file, with the same choices as `httpcloop mount-fuse` and nothing else. It
// exposes FILE as MOUNTPOINT/image and answers each read with FILE's descriptor
// (read_buf: libfuse splices or reads it into its reply), with mount-fuse's mount options,
// init settings and multithreaded loop. Measured beside mount-fuse on a full cache, it
// tells what the FUSE protocol itself costs on this kernel, which no FUSE server can go
// below; the difference is httpcloop's own.
//
// usage: httpcloop_fuse_floor FILE MOUNTPOINT MAX_READ   (foreground; unmount to stop)
//   MAX_READ: the max_read mount option mount-fuse chose (its /proc/mounts line).

#define FUSE_USE_VERSION 312
#include <fuse.h> // pkg-config fuse3 names the directory: the libfuse built against

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr const char* kImagePath = "/image";
constexpr unsigned kFuseThreads = 16; // as mount-fuse

struct Floor {
	int fd = -1;
	off_t size = 0;
	unsigned max_read = 0;
};

Floor& floor_state()
{
	return *static_cast<Floor*>(fuse_get_context()->private_data);
}

int floor_getattr(const char* path, struct stat* st, fuse_file_info*)
{
	std::memset(st, 0, sizeof(*st));
	if (path != nullptr && std::strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (path != nullptr && std::strcmp(path, kImagePath) == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = floor_state().size;
		return 0;
	}
	return -ENOENT;
}

int floor_readdir(const char*, void* buffer, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags)
{
	fill(buffer, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	fill(buffer, kImagePath + 1, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
	return 0;
}

int floor_open(const char* path, fuse_file_info* info)
{
	if (std::strcmp(path, kImagePath) != 0)
		return -ENOENT;
	if ((info->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	info->keep_cache = 1;
	return 0;
}

int floor_read_buf(const char*, fuse_bufvec** result, size_t size, off_t offset, fuse_file_info*)
{
	const Floor& state = floor_state();
	size_t length = 0;
	if (offset >= 0 && offset < state.size)
		length = static_cast<size_t>(std::min<off_t>(static_cast<off_t>(size), state.size - offset));
	// libfuse releases the vector with free().
	auto* vector = static_cast<fuse_bufvec*>(std::malloc(sizeof(fuse_bufvec)));
	if (vector == nullptr)
		return -ENOMEM;
	*vector = FUSE_BUFVEC_INIT(length);
	if (length != 0) {
		vector->buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
		vector->buf[0].fd = state.fd;
		vector->buf[0].pos = offset;
	}
	*result = vector;
	return 0;
}

void* floor_init(fuse_conn_info* connection, fuse_config* config)
{
	Floor& state = floor_state();
	connection->max_readahead = 1024 * 1024;
	connection->want |= connection->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	connection->max_read = state.max_read;
	config->nullpath_ok = 1;
	config->kernel_cache = 1;
	config->entry_timeout = 3600;
	config->attr_timeout = 3600;
	return &state;
}

struct ArgsDeleter {
	void operator()(fuse_args* args) const { fuse_opt_free_args(args); }
};
struct FuseDeleter {
	void operator()(fuse* handle) const { fuse_destroy(handle); }
};
struct LoopConfigDeleter {
	void operator()(fuse_loop_config* config) const { fuse_loop_cfg_destroy(config); }
};
struct FdCloser {
	int fd;
	~FdCloser()
	{
		if (fd >= 0)
			close(fd);
	}
};

} // namespace

int main(int argc, char** argv)
{
	if (argc != 4) {
		std::fprintf(stderr, "usage: httpcloop_fuse_floor FILE MOUNTPOINT MAX_READ\n");
		return 2;
	}
	Floor state;
	state.fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	FdCloser closer{state.fd};
	struct stat st {};
	if (state.fd < 0 || fstat(state.fd, &st) != 0) {
		std::fprintf(stderr, "httpcloop_fuse_floor: cannot open %s: %s\n", argv[1], std::strerror(errno));
		return 1;
	}
	state.size = st.st_size;
	char* end = nullptr;
	const unsigned long max_read = std::strtoul(argv[3], &end, 10);
	if (end == argv[3] || *end != '\0' || max_read < 4096 || max_read > (1UL << 24)) {
		std::fprintf(stderr, "httpcloop_fuse_floor: MAX_READ must be a number of bytes, 4096 to 16 MiB\n");
		return 2;
	}
	state.max_read = static_cast<unsigned>(max_read);

	fuse_operations ops{};
	ops.getattr = floor_getattr;
	ops.readdir = floor_readdir;
	ops.open = floor_open;
	ops.read_buf = floor_read_buf;
	ops.init = floor_init;

	fuse_args args = FUSE_ARGS_INIT(0, nullptr);
	std::unique_ptr<fuse_args, ArgsDeleter> args_owner(&args);
	const std::string options = "ro,default_permissions,allow_other,fsname=httpcloop-floor,max_read=" + std::to_string(max_read);
	if (fuse_opt_add_arg(&args, "httpcloop_fuse_floor") != 0 || fuse_opt_add_arg(&args, "-o") != 0 ||
	    fuse_opt_add_arg(&args, options.c_str()) != 0)
		return 1;
	std::unique_ptr<fuse, FuseDeleter> handle(fuse_new(&args, &ops, sizeof(ops), &state));
	if (!handle || fuse_mount(handle.get(), argv[2]) != 0) {
		std::fprintf(stderr, "httpcloop_fuse_floor: cannot mount %s\n", argv[2]);
		return 1;
	}
	std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop_config(fuse_loop_cfg_create());
	if (!loop_config)
		return 1;
	fuse_loop_cfg_set_max_threads(loop_config.get(), kFuseThreads);
	const int status = fuse_loop_mt(handle.get(), loop_config.get());
	fuse_unmount(handle.get());
	return status == 0 ? 0 : 1;
}
