#include "daemon/daemon.hpp"

#include "cache/cache_store.hpp"
#include "crypto/sha256.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/supervisor.hpp"
#include "fetch/http_get.hpp"
#include "fetch/restart_ready.hpp"
#include "daemon/service_manager.hpp"
#include "format/manifest.hpp"
#include "kernel/kernel_link.hpp"
#include "service/block_service.hpp"
#include "service/loaded_image.hpp"
#include "service/status_text.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/kv_text.hpp"
#include "util/fd.hpp"
#include "util/kmsg_sink.hpp"
#include "util/log.hpp"
#include "util/process_mark.hpp"
#include "util/syslog_sink.hpp"

#include <linux/httpcloop.h>

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <vector>

namespace httpcloop {

namespace {

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

// (32 MiB is the largest mmap threshold glibc accepts.)
constexpr int kKeptAllocationBytes = 32 * 1024 * 1024;
// The stack of every thread started after protect_from_memory_pressure(): the decode
// workers hash, decompress (their codec contexts are on the heap) and pwrite; libcurl's
// resolver threads call getaddrinfo. A quarter of a MiB is many times what they use.
constexpr size_t kThreadStackBytes = 256 * 1024;

// glibc gives a new thread a stack the size of RLIMIT_STACK (8 MiB by default), and under
// mlockall(MCL_FUTURE) every byte of it is faulted in and locked when the thread starts:
// two decode workers alone pinned 16 MiB, a third of the daemon's memory. Threads
// created from here on get kThreadStackBytes instead.
void limit_thread_stacks()
{
	struct Attributes {
		pthread_attr_t attr;
		bool ok = pthread_attr_init(&attr) == 0;
		~Attributes()
		{
			if (ok)
				pthread_attr_destroy(&attr);
		}
	} attributes;
	if (!attributes.ok || pthread_attr_setstacksize(&attributes.attr, kThreadStackBytes) != 0 ||
	    pthread_setattr_default_np(&attributes.attr) != 0)
		log_warning("cannot set the threads' stack size: each thread locks the default stack");
}

// The daemon serves the I/O the system may need to free memory: it must never wait on
// that memory itself, nor be chosen by the OOM killer.
void protect_from_memory_pressure()
{
	// Locked memory is faulted in, zeroed, as soon as it is mapped. Keep freed memory for
	// reuse, so that glibc neither maps each block-sized buffer afresh (its default for
	// anything over 128 KiB) nor hands the heap back to the system between blocks.
	mallopt(M_MMAP_THRESHOLD, kKeptAllocationBytes);
	mallopt(M_TRIM_THRESHOLD, kKeptAllocationBytes);
	limit_thread_stacks();
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

// What every daemon of a device keeps open from the start, so that a daemon restarted
// after switch_root (whose paths lead into the emptied initramfs) still reaches them.
struct DaemonAnchors {
	UniqueFd run_directory; // /run/httpcloop: control socket, attach record
	UniqueFd cache_directory; // --cache DIR
	AnchoredFile record_profile; // --record-profile FILE's directory, if asked
};

// A daemon that takes a device over (restarted by the supervisor, `attach --recover`,
// `restart`) extends the boot profile being recorded instead of starting it again.
ServiceOptions daemon_service_options(const AttachOptions& options, const Sha256& image_id)
{
	ServiceOptions service = options.serve.service_options(image_id);
	service.continue_profile = options.recover_index.has_value();
	return service;
}

// How long a daemon that handed its cache over (`httpcloop restart`) waits for the new
// daemon's claim before it takes the cache back and serves on.
constexpr auto kHandoverTimeout = std::chrono::seconds(60);

class Daemon {
public:
	Daemon(const AttachOptions& options, LoadedImage image, CacheStore cache, int run_directory)
		: options_(options), manifest_(std::move(image.manifest)), image_id_(image.id),
		  cache_(std::move(cache)), run_directory_(run_directory), signals_(block_signals()),
		  service_(daemon_service_options(options, image.id), manifest_, cache_,
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
	std::string hand_over();
	void take_back(const std::string& why);
	void listen_for_control();
	void recover_lost_fetches();

	AttachOptions options_;
	Manifest manifest_;
	Sha256 image_id_;
	CacheStore cache_;
	int run_directory_;
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
	bool detach_when_online_ = false; // a signal came before the device was online
	// Blocks the kernel asked for and has no answer for yet. Only used if a signal comes
	// before the device is online: then they are failed at once (see serve()).
	std::set<uint64_t> unanswered_;
	// Set once such a device is online: removing it is tried until then.
	std::optional<std::chrono::steady_clock::time_point> detach_deadline_;
	// Set while the cache is handed over to a new daemon that has not claimed yet.
	std::optional<std::chrono::steady_clock::time_point> handover_deadline_;
	// recover_lost_fetches(): when it last claimed, and whether it owes another claim.
	std::optional<std::chrono::steady_clock::time_point> last_reclaim_;
	bool reclaim_pending_ = false;
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
		index_ = kernel_->add_device({manifest_.image_size, manifest_.block_size, cache_.data_fd(), bitmap,
					      image_id, options_.io_timeout_s, options_.dead_timeout_s});
	}
	const std::string device = "/dev/httpcloop" + std::to_string(index_);
	start_background_work(service_, options_.serve, image_id_);
	if (options_.recover_index) {
		online_ = true;
		listen_for_control();
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
		std::vector<curl_waitfd> fds = {
			{kernel_->fd(), CURL_WAIT_POLLIN, 0},
			{signals_.get(), CURL_WAIT_POLLIN, 0},
		};
		if (control_)
			for (int fd : control_->fds())
				fds.push_back({fd, CURL_WAIT_POLLIN, 0});
		service_.poll(fds.data(), static_cast<unsigned>(fds.size()), 1000);

		kernel_->dispatch_events([&](const KernelEvent& event) {
			if (event.kind == KernelEvent::Kind::online && event.index == index_ && !online_) {
				if (event.error != 0) {
					on_online(false, "the kernel could not add " + device + ": " + strerror(event.error));
					stop_ = true;
					return;
				}
				if (detach_when_online_) {
					// Interrupted while it was being added (Ctrl-C on a cold attach):
					// remove it, trying for a while (the partition scan's own open of
					// the disk may be released a little later).
					detach_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(10);
					return;
				}
				online_ = true;
				listen_for_control();
				record_attach();
				on_online(true, device);
				log_info("serving " + options_.serve.url + " as " + device);
				return;
			}
			on_kernel_event(event);
		});
		if (kernel_->take_overrun() || reclaim_pending_)
			recover_lost_fetches();
		if (detach_deadline_) {
			std::string error;
			if (try_detach(error)) {
				on_online(false, "interrupted: " + device + " was removed again");
			} else if (std::chrono::steady_clock::now() > *detach_deadline_) {
				on_online(false, "interrupted, but " + device + " cannot be removed: " + error);
				stop_ = true;
			}
		}
		service_.process();
		if (handover_deadline_ && std::chrono::steady_clock::now() > *handover_deadline_)
			take_back("no new daemon took " + device + " over within " +
				  std::to_string(kHandoverTimeout.count()) + " s");

		if (fds[1].revents) {
			signalfd_siginfo info{};
			while (read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
				std::string error;
				if (!online_) {
					// add_disk may still read the partition table: removing the
					// device now is refused (EBUSY); do it once it is online.
					detach_when_online_ = true;
					log_info("interrupted: " + device + " is removed once the kernel has added it");
					// add_disk() may be reading the partition table: fail its reads
					// now, so that it ends without waiting for the server.
					for (uint64_t block : unanswered_)
						kernel_->block_failed(index_, block, EIO);
					unanswered_.clear();
				} else if (!try_detach(error)) {
					log_error("not detaching: " + error + "; still serving " + device);
				}
			}
		}
		if (control_ && std::any_of(fds.begin() + 2, fds.end(), [](const curl_waitfd& fd) { return fd.revents != 0; }))
			control_->serve([this](std::string_view request) { return handle_control(request); });
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
		const std::filesystem::path path = attach_record_path(index_);
		write_file_atomically_at(run_directory_, path.filename().native(), path,
					 std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0600);
	} catch (const Error& e) {
		log_warning(std::string("cannot record the attach for --recover: ") + e.what());
	}
}

// FETCHes lost to a full netlink socket would leave their reads waiting until io_timeout:
// claiming our own device again makes the kernel send every outstanding one anew (a
// repeated FETCH is harmless). Once a second at most, so that a socket that keeps
// overflowing still lets the FETCHes that got through be served.
void Daemon::recover_lost_fetches()
{
	const auto now = std::chrono::steady_clock::now();
	if (last_reclaim_ && now - *last_reclaim_ < std::chrono::seconds(1)) {
		reclaim_pending_ = true;
		return;
	}
	last_reclaim_ = now;
	reclaim_pending_ = false;
	log_warning("kernel messages to the daemon of /dev/httpcloop" + std::to_string(index_) +
		    " were lost (netlink socket full); asking for the outstanding requests again");
	std::span<const uint8_t> image_id(image_id_.data(), image_id_.size());
	try {
		kernel_->reclaim_device(index_, image_id, cache_.data_fd());
	} catch (const Error& e) {
		log_error(std::string("cannot ask the kernel again: ") + e.what());
	}
}

void Daemon::listen_for_control()
{
	control_.emplace(ControlServer::listen_in(run_directory_, control_socket_name(index_), control_socket_path(index_)));
}

void Daemon::on_kernel_event(const KernelEvent& event)
{
	if (event.index != index_)
		return;
	if (event.kind == KernelEvent::Kind::fetch) {
		if (detach_when_online_) {
			kernel_->block_failed(index_, event.block, EIO); // interrupted while being added
			return;
		}
		if (!online_)
			unanswered_.insert(event.block);
		service_.request(event.block);
	} else if (event.kind == KernelEvent::Kind::released) {
		const std::string device = "/dev/httpcloop" + std::to_string(index_);
		if (event.reason == HTTPCLOOP_RELEASED_CLAIMED) {
			// The cache is the new daemon's now (hand_over() stopped our record).
			log_info(device + " was taken over by a new daemon; this one exits");
		} else {
			log_info(device + " was removed; the daemon exits");
			service_.flush();
		}
		stop_ = true;
	}
}

// `httpcloop restart`: the new daemon, its manifest loaded, asks for the cache. Ours is
// committed and unlocked; we go on answering the kernel until the new daemon claims the
// device (DEV_RELEASED), or take the cache back if it never does.
std::string Daemon::hand_over()
{
	if (handover_deadline_)
		return "ok=0\nerror=a hand-over is already under way\n";
	try {
		cache_.hand_over();
	} catch (const Error& e) {
		return std::string("ok=0\nerror=") + e.what() + "\n";
	}
	handover_deadline_ = std::chrono::steady_clock::now() + kHandoverTimeout;
	log_info("handing /dev/httpcloop" + std::to_string(index_) + " over to a new daemon");
	return "ok=1\npid=" + std::to_string(getpid()) + "\n";
}

void Daemon::take_back(const std::string& why)
{
	handover_deadline_.reset();
	try {
		cache_.take_back();
		log_warning(why + "; serving on");
	} catch (const Error& e) {
		log_error(why + ", and the cache cannot be taken back: " + e.what() +
			  "; serving on without recording fetched blocks");
	}
}

void Daemon::on_block_done(uint64_t block, std::string_view error)
{
	if (block >= manifest_.block_count())
		return; // the kernel never asks for such a block; nothing to answer
	unanswered_.erase(block);
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
	if (request == "handover")
		return hand_over();
	if (request == "take-back") {
		if (handover_deadline_)
			take_back("the new daemon failed to take the device over");
		return "ok=1\n";
	}
	return "ok=0\nerror=unknown request\n";
}


// `httpcloop restart`: the device's running daemon hands its cache over to this process,
// or, if this process fails before its claim, gets it back.
class HandoverRequest {
public:
	explicit HandoverRequest(uint32_t index) : index_(index)
	{
		const std::string device = "/dev/httpcloop" + std::to_string(index);
		std::optional<std::string> reply = control_request(control_socket_path(index), "handover");
		if (!reply)
			throw Error("no daemon serves " + device + " (use `httpcloop attach --recover " + device +
				    "` to start one)");
		KeyValues answer = parse_key_values(*reply);
		if (answer["ok"] != "1")
			throw Error("the daemon of " + device + " refused to hand it over: " + answer["error"]);
	}
	HandoverRequest(const HandoverRequest&) = delete;
	HandoverRequest& operator=(const HandoverRequest&) = delete;
	~HandoverRequest()
	{
		if (done_)
			return;
		try {
			control_request(control_socket_path(index_), "take-back");
		} catch (const std::exception&) {
			// It takes the cache back by itself after kHandoverTimeout.
		}
	}
	void done() { done_ = true; }

private:
	uint32_t index_;
	bool done_ = false;
};

// `attach` in the foreground of a terminal waits for the daemon's report (one line, or
// nothing if it died first). Ctrl-C (SIGINT), SIGTERM or SIGHUP meanwhile is passed to the
// supervisor, whose daemon removes the device again as soon as it can: `attach` returns
// once that is done (or after 60 s), leaving no device behind, and sets `interrupted`.
std::string wait_for_report(int report_fd, pid_t supervisor, bool& interrupted)
{
	sigset_t set, old_mask;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old_mask);
	UniqueFd signals(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
	std::string report;
	char buffer[512];
	for (;;) {
		pollfd fds[2] = {{report_fd, POLLIN, 0}, {signals.get(), POLLIN, 0}};
		if (poll(fds, signals ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (signals && fds[1].revents) {
			signalfd_siginfo info{};
			while (read(signals.get(), &info, sizeof(info)) == sizeof(info))
				interrupted = true;
			if (interrupted) {
				std::cerr << "httpcloop: interrupted; removing the device again..." << std::endl;
				kill(supervisor, SIGTERM);
			}
		}
		if (fds[0].revents) {
			ssize_t n = read(report_fd, buffer, sizeof(buffer));
			if (n > 0)
				report.append(buffer, static_cast<size_t>(n));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break;
			if (!interrupted && report.find('\n') != std::string::npos)
				break;
		}
	}
	if (interrupted) {
		// The daemon and its supervisor are gone once the device is.
		for (int waited = 0; waited < 600 && waitpid(supervisor, nullptr, WNOHANG) == 0; waited++)
			usleep(100'000);
	}
	sigprocmask(SIG_SETMASK, &old_mask, nullptr);
	return report;
}

DaemonAnchors open_anchors(const AttachOptions& options)
{
	DaemonAnchors anchors;
	anchors.run_directory = open_run_directory();
	anchors.cache_directory = UniqueFd(::open(options.serve.cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!anchors.cache_directory)
		throw_errno("cannot open cache directory " + options.serve.cache_dir.string());
	if (!options.serve.record_profile.empty())
		anchors.record_profile = AnchoredFile(options.serve.record_profile);
	return anchors;
}

// Leaves the terminal: from now on the process speaks through syslog (the kernel log for
// a root daemon).
void leave_terminal(bool root_daemon)
{
	route_daemon_log(root_daemon);
	UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
	for (int fd = 0; fd <= 2; fd++)
		dup2(null_fd.get(), fd);
}

// One worker of the supervisor (daemon/supervisor.hpp). The first serves with the cache
// the attach opened and reports to `report_fd`; later ones take device `index` over.
int run_worker(const AttachOptions& options, const LoadedImage& image, std::optional<CacheStore>& first_cache,
	       const DaemonAnchors& anchors, unsigned restart, uint32_t index, int report_fd)
{
	// Memory locks are not inherited across fork.
	if (options.lock_memory)
		protect_from_memory_pressure();
	UniqueFd report(report_fd);
	auto send_report = [&](const std::string& text) {
		if (!report)
			return;
		std::string line = text + "\n";
		[[maybe_unused]] ssize_t n = write(report.get(), line.data(), line.size());
		report.reset();
	};
	AttachOptions worker_options = options;
	worker_options.serve.record_profile_directory = anchors.record_profile.directory_fd();
	std::optional<CacheStore> cache;
	try {
		if (restart == 0) {
			cache = std::move(first_cache);
		} else {
			worker_options.recover_index = index;
			worker_options.handover = false;
			cache = CacheStore::open_in_directory(anchors.cache_directory.get(), options.serve.cache_dir,
							      image.manifest, image.id);
		}
		Daemon daemon(worker_options, image, std::move(*cache), anchors.run_directory.get());
		bool online = false;
		daemon.run([&](bool ok, const std::string& text) {
			send_report(text);
			online = ok;
			if (ok && restart == 0)
				leave_terminal(options.root_daemon);
		});
		return online ? kWorkerFinished : kWorkerNothingToServe;
	} catch (const KernelError& e) {
		if (restart > 0 && e.errnum == ENODEV) {
			log_info(std::string(e.what()) + ": nothing left to serve");
			return kWorkerNothingToServe;
		}
		if (report) {
			send_report(e.what());
			return kWorkerNothingToServe;
		}
		log_error(e.what());
		return kWorkerFailed;
	} catch (const std::exception& e) {
		if (report) {
			send_report(e.what());
			return kWorkerNothingToServe;
		}
		log_error(e.what());
		return kWorkerFailed;
	}
}

} // namespace

int run_attach(const AttachOptions& attach_options)
{
	AttachOptions options = attach_options;
	LoadedImage image = load_image(options.serve.urls(), options.serve.trust);
	// Every daemon of the device starts from what is taken here (the supervisor's memory).
	options.serve.fetch.ca_file = options.serve.trust.ca_file; // (what service_options() hands the fetcher)
	take_fetch_inputs_now(options.serve.fetch, options.serve.urls());
	std::optional<HandoverRequest> handover;
	if (options.handover)
		handover.emplace(*options.recover_index);
	std::optional<CacheStore> cache = CacheStore::open(options.serve.cache_dir, image.manifest, image.id);
	verify_cache_if_asked(*cache, image.manifest, options.serve);
	DaemonAnchors anchors = open_anchors(options);

	if (options.serve.foreground) {
		// A service manager supervises a daemon in the foreground.
		if (options.lock_memory)
			protect_from_memory_pressure();
		if (options.root_daemon)
			become_root_storage_daemon();
		Daemon daemon(options, std::move(image), std::move(*cache), anchors.run_directory.get());
		bool failed = false;
		daemon.run([&](bool ok, const std::string& text) {
			if (ok) {
				if (handover)
					handover->done();
				std::cout << text << std::endl;
				notify_ready("serving " + text, getpid());
			} else {
				std::cerr << "httpcloop: " << text << std::endl;
				failed = true;
			}
		});
		return failed ? 1 : 0;
	}

	// Background: the supervisor's first worker reports the device path (or an error)
	// through a pipe, so that `attach` returns only once the device can be mounted.
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		throw_errno("pipe");
	UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
	pid_t pid = fork();
	if (pid < 0)
		throw_errno("fork");
	if (pid > 0) {
		report_write.reset();
		cache.reset();
		bool interrupted = false;
		std::string report = wait_for_report(report_read.get(), pid, interrupted);
		if (interrupted) {
			std::cerr << "httpcloop: " << (report.empty() ? "interrupted\n" : report) << std::flush;
			return 130;
		}
		if (report.rfind("/dev/", 0) == 0) {
			if (handover)
				handover->done();
			std::cout << report << std::flush;
			return 0;
		}
		std::cerr << "httpcloop: " << (report.empty() ? "the daemon exited during start-up\n" : report)
			  << std::flush;
		return 1;
	}

	// The supervisor. Its copy of the hand-over request belongs to the caller.
	if (handover)
		handover->done();
	report_read.reset();
	setsid();
	int status = kWorkerFailed;
	try {
		if (options.lock_memory)
			protect_from_memory_pressure();
		if (options.root_daemon)
			become_root_storage_daemon();
		SupervisorHooks hooks;
		hooks.run_worker = [&](unsigned restart, uint32_t index, int report_fd) {
			// The caller's pipe is the supervisor's to write and close: a worker
			// holding it open would keep `attach` waiting.
			report_write.reset();
			return run_worker(options, image, cache, anchors, restart, index, report_fd);
		};
		hooks.on_report = [&](const std::string& line) {
			const bool serving = line.rfind("/dev/", 0) == 0;
			// Type=notify: the supervisor is the unit's main process from now on. Said
			// before `attach` (the process systemd started) can see the report and exit.
			if (serving)
				notify_ready("serving " + line, getpid());
			[[maybe_unused]] ssize_t n = write(report_write.get(), line.data(), line.size());
			report_write.reset();
			// The first worker has the cache (and its lock) now; the supervisor keeps none.
			cache.reset();
			if (serving)
				leave_terminal(options.root_daemon);
		};
		status = supervise(hooks);
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
