#include "fuse/mount_fuse.hpp"

#include "cache/cache_store.hpp"
#include "daemon/control_socket.hpp"
#include "fuse/image_fs.hpp"
#include "fuse/service_thread.hpp"
#include "service/loaded_image.hpp"
#include "service/status_text.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "daemon/service_manager.hpp"
#include "util/syslog_sink.hpp"

#include <fuse_lowlevel.h> // pkg-config fuse3: the directory of the libfuse built against

#include <fstream>
#include <memory>
#include <unistd.h>

namespace httpcloop {

namespace {

constexpr unsigned kFuseThreads = 16;

// The largest read the kernel is to send, so that libfuse can splice every reply from
// the cache file (read_buf): a reply goes through a pipe that must hold it whole, and
// only a process with CAP_SYS_RESOURCE may grow a pipe beyond fs.pipe-max-size (1 MiB
// by default; a user's mount-fuse, or root in a container, may not). Without splice,
// libfuse maps, fills and unmaps a buffer for every large reply: measured on the host,
// 1 MiB reads ran at 0.14 x the local file with 1 MiB requests, 0.71-0.82 x with
// 512 KiB ones. So: the largest power of two up to 1 MiB that leaves the pipe a page
// for the reply's header, and at least 128 KiB (the kernel's own default).
size_t fuse_max_read()
{
	constexpr size_t kLargest = 1024 * 1024;
	constexpr size_t kSmallest = 128 * 1024;
	size_t pipe_max = kLargest;
	if (size_t value = 0; std::ifstream("/proc/sys/fs/pipe-max-size") >> value)
		pipe_max = value;
	const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	size_t size = kLargest;
	while (size > kSmallest && size + page > pipe_max)
		size /= 2;
	return size;
}

// RAII owners of libfuse's handles.
struct FuseArgs {
	fuse_args args = FUSE_ARGS_INIT(0, nullptr);
	FuseArgs() = default;
	FuseArgs(const FuseArgs&) = delete;
	FuseArgs& operator=(const FuseArgs&) = delete;
	~FuseArgs() { fuse_opt_free_args(&args); }
	void add(const std::string& argument)
	{
		if (fuse_opt_add_arg(&args, argument.c_str()) != 0)
			throw Error("libfuse: out of memory");
	}
};

struct FuseDeleter {
	void operator()(fuse* handle) const { fuse_destroy(handle); }
};
using UniqueFuse = std::unique_ptr<fuse, FuseDeleter>;

struct LoopConfigDeleter {
	void operator()(fuse_loop_config* config) const { fuse_loop_cfg_destroy(config); }
};

// Unmounts on the way out, whatever path that is.
class FuseMount {
public:
	FuseMount(fuse* handle, const std::filesystem::path& mountpoint) : handle_(handle)
	{
		if (fuse_mount(handle, mountpoint.c_str()) != 0)
			throw Error("cannot mount FUSE at " + mountpoint.native() +
				    " (is it an existing directory, and is /dev/fuse there?)");
	}
	FuseMount(const FuseMount&) = delete;
	FuseMount& operator=(const FuseMount&) = delete;
	~FuseMount() { fuse_unmount(handle_); }

private:
	fuse* handle_;
};

class SignalHandlers {
public:
	explicit SignalHandlers(fuse_session* session) : session_(session)
	{
		if (fuse_set_signal_handlers(session) != 0)
			throw Error("libfuse: cannot set signal handlers");
	}
	SignalHandlers(const SignalHandlers&) = delete;
	SignalHandlers& operator=(const SignalHandlers&) = delete;
	~SignalHandlers() { fuse_remove_signal_handlers(session_); }

private:
	fuse_session* session_;
};

std::string status_text(const MountFuseOptions& options, const LoadedImage& image, ServiceThread& service,
			const ImageFs& fs)
{
	return service_status_text(options.serve.url, image.id, service.service()) +
	       "frontend=fuse\n"
	       "mountpoint=" + options.mountpoint.native() + "\n"
	       "reads=" + std::to_string(fs.stats.reads) + "\n"
	       "cache_reads=" + std::to_string(fs.stats.cache_reads) + "\n"
	       "io_errors=" + std::to_string(fs.stats.io_errors) + "\n"
	       "passthrough=" + fs.passthrough.state(fs.cache) + "\n"
	       "passthrough_opens=" + std::to_string(fs.passthrough.passthrough_opens()) + "\n";
}

} // namespace

int run_mount_fuse(const MountFuseOptions& given)
{
	MountFuseOptions options = given;
	options.mountpoint = normal_mountpoint(options.mountpoint);
	LoadedImage image = load_image(options.serve.urls(), options.serve.trust);
	CacheStore cache = CacheStore::open(options.serve.cache_dir, image.manifest, image.id);
	verify_cache_if_asked(cache, image.manifest, options.serve);
	ImageFs fs{image.manifest, cache};

	FuseArgs args;
	args.add("httpcloop");
	args.add("-o");
	// fsname shows the source in /proc/mounts; allow_other lets non-root users (and
	// tools running as them) read the image when root mounts it.
	std::string mount_options = "ro,default_permissions,fsname=httpcloop,subtype=httpcloop";
	if (geteuid() == 0)
		mount_options += ",allow_other";
	fs.max_read = fuse_max_read();
	mount_options += ",max_read=" + std::to_string(fs.max_read);
	args.add(mount_options);

	UniqueFuse handle(fuse_new(&args.args, &ImageFs::operations(), sizeof(fuse_operations), &fs));
	if (!handle)
		throw Error("libfuse: cannot create the file system");
	FuseMount mount(handle.get(), options.mountpoint);
	if (!options.no_passthrough && Passthrough::compiled_in())
		fs.passthrough.set_session_fd(fuse_session_fd(fuse_get_session(handle.get())));

	// Forks in the background case: threads start only after this.
	if (fuse_daemonize(options.serve.foreground ? 1 : 0) != 0)
		throw Error("cannot go to the background");
	if (!options.serve.foreground)
		route_log_to_syslog();
	SignalHandlers signals(fuse_get_session(handle.get()));

	ServiceThread service(options.serve.service_options(image.id), image.manifest, cache);
	fs.service = &service;
	service.start(ControlServer::listen(fuse_control_socket_path(options.mountpoint)),
		      [&](std::string_view request) -> std::string {
			      if (request == "status")
				      return status_text(options, image, service, fs);
			      if (request == "prefetch") {
				      service.service().prefetch_all();
				      return "ok=1\n";
			      }
			      return "ok=0\nerror=unknown request\n";
		      },
		      [&](BlockService& started) { start_background_work(started, options.serve, image.id); });
	log_info("serving " + options.serve.url + " at " + options.mountpoint.native() + "/image");
	notify_ready("serving " + options.mountpoint.native() + "/image", getpid());

	std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop_config(fuse_loop_cfg_create());
	if (!loop_config)
		throw Error("libfuse: out of memory");
	// Up to kFuseThreads requests served at once (reads of missing blocks wait in them).
	// Idle threads are kept (libfuse's default; a limit on them would end a thread and
	// start another for nearly every request).
	fuse_loop_cfg_set_max_threads(loop_config.get(), kFuseThreads);
	int status = fuse_loop_mt(handle.get(), loop_config.get());
	log_info("unmounted " + options.mountpoint.native());
	return status == 0 ? 0 : 1;
}

} // namespace httpcloop
