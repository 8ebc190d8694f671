#include "daemon/daemon.hpp"

#include "cache/cache_store.hpp"
#include "crypto/sha256.hpp"
#include "daemon/control_socket.hpp"
#include "fetch/http_get.hpp"
#include "format/manifest.hpp"
#include "kernel/kernel_link.hpp"
#include "service/block_service.hpp"
#include "service/loaded_image.hpp"
#include "service/status_text.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/kmsg_sink.hpp"
#include "util/log.hpp"
#include "util/process_mark.hpp"
#include "util/syslog_sink.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

namespace httpcloop {

namespace {

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

// (32 MiB is the largest mmap threshold glibc accepts.)
constexpr int kKeptAllocationBytes = 32 * 1024 * 1024;

// The daemon serves the I/O the system may need to free memory: it must never wait on
// that memory itself, nor be chosen by the OOM killer.
void protect_from_memory_pressure()
{
	// Locked memory is faulted in, zeroed, as soon as it is mapped. Keep freed memory for
	// reuse, so that glibc neither maps each block-sized buffer afresh (its default for
	// anything over 128 KiB) nor hands the heap back to the system between blocks.
	mallopt(M_MMAP_THRESHOLD, kKeptAllocationBytes);
	mallopt(M_TRIM_THRESHOLD, kKeptAllocationBytes);
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		log_warning(std::string("mlockall failed: ") + strerror(errno) + "; the daemon may be paged out");
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
		log_warning(std::string("PR_SET_IO_FLUSHER failed: ") + strerror(errno));
	if (FILE* f = std::fopen("/proc/self/oom_score_adj", "w")) {
		std::fputs("-1000", f);
		std::fclose(f);
	}
}

// A root storage daemon (systemd.io/ROOT_STORAGE_DAEMONS) runs from the initramfs to
// power-off: systemd must spare it, and nothing of the initramfs may be needed by path
// after switch_root deletes it. Its cache and profile are held open already, its CAs are
// in memory and its host names stay resolved (FetchOptions::resolve_once).
void become_root_storage_daemon()
{
	if (!mark_as_root_storage_daemon())
		log_warning("cannot mark the daemon with '@' for systemd; it may be killed at shutdown");
	if (::chdir("/") != 0)
		log_warning(std::string("cannot change to /: ") + strerror(errno));
}

// Where the daemon's log goes once it has left the terminal.
void route_daemon_log(bool root_daemon)
{
	// The initramfs has no syslog; the kernel log is there from start to power-off.
	if (root_daemon && route_log_to_kernel_log())
		return;
	route_log_to_syslog();
}

UniqueFd block_signals()
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, nullptr);
	signal(SIGPIPE, SIG_IGN);
	UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	if (!fd)
		throw_errno("signalfd");
	return fd;
}

class Daemon {
public:
	Daemon(const AttachOptions& options, LoadedImage image, CacheStore cache)
		: options_(options), manifest_(std::move(image.manifest)), image_id_(image.id),
		  cache_(std::move(cache)), signals_(block_signals()),
		  service_(options.serve.service_options(image.id), manifest_, cache_,
			   [this](uint64_t block, std::string_view error) { on_block_done(block, error); })
	{
	}

	// Adds the device and serves it until detached. `on_online` is called once with
	// the device path when it exists, or with an error message.
	int run(const std::function<void(bool ok, const std::string& text)>& on_online);

private:
	// The event loop, until detached.
	void serve(const std::string& device, const std::function<void(bool ok, const std::string& text)>& on_online);
	void on_kernel_event(const KernelEvent& event);
	void record_attach();
	void on_block_done(uint64_t block, std::string_view error);
	bool try_detach(std::string& error);
	std::string status_report();
	std::string handle_control(std::string_view request);

	AttachOptions options_;
	Manifest manifest_;
	Sha256 image_id_;
	CacheStore cache_;
	// Before service_: its decode threads inherit the signal mask of the thread that
	// starts them, and a SIGTERM delivered to a thread that does not block it would kill
	// the daemon (default action) instead of reaching the signalfd and detaching.
	UniqueFd signals_;
	BlockService service_;
	std::optional<KernelLink> kernel_;
	std::optional<ControlServer> control_;
	uint32_t index_ = 0;
	bool online_ = false;
	bool stop_ = false;
};

int Daemon::run(const std::function<void(bool, const std::string&)>& on_online)
{
	kernel_.emplace(KernelLink::connect());
	std::span<const uint8_t> image_id(image_id_.data(), image_id_.size());
	if (options_.recover_index) {
		// The device exists and keeps its present bits; the kernel asks us again for
		// whatever its waiting reads need.
		index_ = *options_.recover_index;
		kernel_->claim_device(index_, image_id, cache_.data_fd());
	} else {
		std::vector<uint8_t> bitmap = cache_.present_bitmap();
		index_ = kernel_->add_device(
			{manifest_.image_size, manifest_.block_size, cache_.data_fd(), bitmap, image_id});
	}
	const std::string device = "/dev/httpcloop" + std::to_string(index_);
	start_background_work(service_, options_.serve, image_id_);
	if (options_.recover_index) {
		online_ = true;
		control_.emplace(ControlServer::listen(control_socket_path(index_)));
		on_online(true, device);
		log_info("took over " + device + " for " + options_.serve.url);
	}

	try {
		serve(device, on_online);
	} catch (...) {
		// Whatever went wrong, keep what was fetched: record it before going.
		service_.flush();
		throw;
	}
	service_.flush();
	return 0;
}

void Daemon::serve(const std::string& device, const std::function<void(bool, const std::string&)>& on_online)
{
	while (!stop_) {
		curl_waitfd fds[3] = {
			{kernel_->fd(), CURL_WAIT_POLLIN, 0},
			{signals_.get(), CURL_WAIT_POLLIN, 0},
			{control_ ? control_->fd() : -1, CURL_WAIT_POLLIN, 0},
		};
		service_.poll(fds, control_ ? 3 : 2, 1000);

		kernel_->dispatch_events([&](const KernelEvent& event) {
			if (event.kind == KernelEvent::Kind::online && event.index == index_ && !online_) {
				if (event.error != 0) {
					on_online(false, "the kernel could not add " + device + ": " + strerror(event.error));
					stop_ = true;
					return;
				}
				online_ = true;
				control_.emplace(ControlServer::listen(control_socket_path(index_)));
				record_attach();
				on_online(true, device);
				log_info("serving " + options_.serve.url + " as " + device);
				return;
			}
			on_kernel_event(event);
		});
		service_.process();

		if (fds[1].revents) {
			signalfd_siginfo info{};
			while (read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
				std::string error;
				if (!try_detach(error))
					log_error("not detaching: " + error + "; still serving " + device);
			}
		}
		if (control_ && fds[2].revents)
			control_->serve_one([this](std::string_view request) { return handle_control(request); });
	}
}

// Writes how this device was attached, NUL-separated (working directory, then the
// arguments), so that `attach --recover` can start a daemon just like this one.
void Daemon::record_attach()
{
	if (options_.command_line.empty())
		return;
	std::string text;
	for (const std::string& item : options_.command_line) {
		text += item;
		text += '\0';
	}
	try {
		write_file_atomically(attach_record_path(index_),
				      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600);
	} catch (const Error& e) {
		log_warning(std::string("cannot record the attach for --recover: ") + e.what());
	}
}

void Daemon::on_kernel_event(const KernelEvent& event)
{
	if (event.kind != KernelEvent::Kind::fetch || event.index != index_)
		return;
	service_.request(event.block);
}

void Daemon::on_block_done(uint64_t block, std::string_view error)
{
	if (block >= manifest_.block_count())
		return; // the kernel never asks for such a block; nothing to answer
	if (error.empty())
		kernel_->block_ready(index_, block);
	else
		kernel_->block_failed(index_, block, EIO);
}

bool Daemon::try_detach(std::string& error)
{
	try {
		kernel_->remove_device(index_);
	} catch (const Error& e) {
		error = e.what();
		return false;
	}
	log_info("detached /dev/httpcloop" + std::to_string(index_));
	stop_ = true;
	service_.flush();
	return true;
}

std::string Daemon::status_report()
{
	return service_status_text(options_.serve.url, image_id_, service_) + "frontend=kernel\n";
}

std::string Daemon::handle_control(std::string_view request)
{
	if (request == "status")
		return status_report();
	if (request == "prefetch") {
		service_.prefetch_all();
		return "ok=1\n";
	}
	if (request == "detach") {
		std::string error;
		return try_detach(error) ? "ok=1\n" : "ok=0\nerror=" + error + "\n";
	}
	return "ok=0\nerror=unknown request\n";
}

} // namespace

int run_attach(const AttachOptions& options)
{
	LoadedImage image = load_image(options.serve.urls(), options.serve.trust);
	CacheStore cache = CacheStore::open(options.serve.cache_dir, image.manifest, image.id);
	verify_cache_if_asked(cache, image.manifest, options.serve);

	if (options.serve.foreground) {
		if (options.lock_memory)
			protect_from_memory_pressure();
		if (options.root_daemon)
			become_root_storage_daemon();
		Daemon daemon(options, std::move(image), std::move(cache));
		bool failed = false;
		daemon.run([&](bool ok, const std::string& text) {
			if (ok) {
				std::cout << text << std::endl;
			} else {
				std::cerr << "httpcloop: " << text << std::endl;
				failed = true;
			}
		});
		return failed ? 1 : 0;
	}

	// Background: the child reports the device path (or an error) through a pipe,
	// so that `attach` returns only once the device can be mounted.
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		throw_errno("pipe");
	UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
	pid_t pid = fork();
	if (pid < 0)
		throw_errno("fork");
	if (pid > 0) {
		report_write.reset();
		std::string report;
		char buffer[512];
		ssize_t n;
		while ((n = read(report_read.get(), buffer, sizeof(buffer))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				report.append(buffer, static_cast<size_t>(n));
		if (report.rfind("/dev/", 0) == 0) {
			std::cout << report << std::flush;
			return 0;
		}
		std::cerr << "httpcloop: " << (report.empty() ? "the daemon exited during start-up\n" : report)
			  << std::flush;
		return 1;
	}

	report_read.reset();
	setsid();
	int status = 1;
	try {
		if (options.lock_memory)
			protect_from_memory_pressure();
		if (options.root_daemon)
			become_root_storage_daemon();
		Daemon daemon(options, std::move(image), std::move(cache));
		status = daemon.run([&](bool ok, const std::string& text) {
			std::string line = text + "\n";
			[[maybe_unused]] ssize_t n = write(report_write.get(), line.data(), line.size());
			report_write.reset();
			if (!ok)
				return;
			// Detach from the terminal: from now on the daemon speaks through syslog
			// (the kernel log for a root daemon).
			route_daemon_log(options.root_daemon);
			UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
			for (int fd = 0; fd <= 2; fd++)
				dup2(null_fd.get(), fd);
		});
	} catch (const std::exception& e) {
		if (report_write) {
			std::string line = std::string(e.what()) + "\n";
			[[maybe_unused]] ssize_t n = write(report_write.get(), line.data(), line.size());
		} else {
			log_error(e.what());
		}
	}
	_exit(status);
}

} // namespace httpcloop
