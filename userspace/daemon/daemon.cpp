#include "daemon/daemon.hpp"

#include "cache/cache_store.hpp"
#include "crypto/sha256.hpp"
#include "daemon/control_socket.hpp"
#include "daemon/decode_pool.hpp"
#include "fetch/http_get.hpp"
#include "format/block_name.hpp"
#include "format/manifest.hpp"
#include "kernel/kernel_link.hpp"
#include "trust/load_verified.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace httpcloop {

namespace {

using Clock = std::chrono::steady_clock;

// Written blocks are fdatasync'ed and recorded at least this often, and after this many.
constexpr auto kCommitInterval = std::chrono::seconds(1);
constexpr size_t kCommitBatch = 64;
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(100);

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

// The daemon serves the I/O the system may need to free memory: it must never wait on
// that memory itself, nor be chosen by the OOM killer.
void protect_from_memory_pressure()
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		log_warning(std::string("mlockall failed: ") + strerror(errno) + "; the daemon may be paged out");
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
		log_warning(std::string("PR_SET_IO_FLUSHER failed: ") + strerror(errno));
	if (FILE* f = std::fopen("/proc/self/oom_score_adj", "w")) {
		std::fputs("-1000", f);
		std::fclose(f);
	}
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

struct LoadedImage {
	Manifest manifest;
	Sha256 id;
};

LoadedImage load_image(const std::string& url, const TrustOptions& trust)
{
	VerifiedManifest verified = load_verified_manifest(url, trust);
	LoadedImage image{Manifest::parse(verified.bytes), verified.id};
	if (image.manifest.is_packed())
		throw FormatError("this image is packed (blocks.pack), which this version cannot read yet");
	return image;
}

class Daemon {
public:
	Daemon(const AttachOptions& options, LoadedImage image, CacheStore cache)
		: options_(options), manifest_(std::move(image.manifest)), image_id_(image.id),
		  cache_(std::move(cache)), fetcher_(options.fetch),
		  decoder_(manifest_, cache_, std::max(2u, std::thread::hardware_concurrency())),
		  signals_(block_signals()), random_(std::random_device{}())
	{
	}

	// Adds the device and serves it until detached. `on_online` is called once with
	// the device path when it exists, or with an error message.
	int run(const std::function<void(bool ok, const std::string& text)>& on_online);

private:
	void on_kernel_event(const KernelEvent& event);
	void start_download(uint64_t block);
	void attempt_failed(uint64_t block, const std::string& error, bool retryable);
	void on_downloaded(FetchResult& result);
	void on_decoded(const DecodeResult& result);
	void run_due_retries();
	void commit_if_due(bool force);
	bool try_detach(std::string& error);
	std::string status_report();
	std::string handle_control(std::string_view request);
	int poll_timeout_ms() const;

	AttachOptions options_;
	Manifest manifest_;
	Sha256 image_id_;
	CacheStore cache_;
	BlockFetcher fetcher_;
	DecodePool decoder_;
	UniqueFd signals_;
	std::optional<KernelLink> kernel_;
	std::optional<ControlServer> control_;
	uint32_t index_ = 0;
	bool online_ = false;
	bool stop_ = false;

	std::unordered_map<uint64_t, unsigned> attempts_; // blocks being fetched
	std::multimap<Clock::time_point, uint64_t> retries_;
	Clock::time_point last_commit_ = Clock::now();
	std::mt19937 random_;

	uint64_t blocks_fetched_ = 0;
	uint64_t blocks_failed_ = 0;
	uint64_t integrity_errors_ = 0;
	uint64_t fetch_requests_from_kernel_ = 0;
};

int Daemon::run(const std::function<void(bool, const std::string&)>& on_online)
{
	kernel_.emplace(KernelLink::connect());
	std::vector<uint8_t> bitmap = cache_.present_bitmap();
	index_ = kernel_->add_device({manifest_.image_size, manifest_.block_size, cache_.data_fd(), bitmap});
	const std::string device = "/dev/httpcloop" + std::to_string(index_);

	while (!stop_) {
		curl_waitfd fds[4] = {
			{kernel_->fd(), CURL_WAIT_POLLIN, 0},
			{decoder_.notify_fd(), CURL_WAIT_POLLIN, 0},
			{signals_.get(), CURL_WAIT_POLLIN, 0},
			{control_ ? control_->fd() : -1, CURL_WAIT_POLLIN, 0},
		};
		fetcher_.poll(fds, control_ ? 4 : 3, poll_timeout_ms());

		kernel_->dispatch_events([&](const KernelEvent& event) {
			if (event.kind == KernelEvent::Kind::online && event.index == index_ && !online_) {
				if (event.error != 0) {
					on_online(false, "the kernel could not add " + device + ": " + strerror(event.error));
					stop_ = true;
					return;
				}
				online_ = true;
				control_.emplace(ControlServer::listen(control_socket_path(index_)));
				on_online(true, device);
				log_info("serving " + options_.url + " as " + device);
				return;
			}
			on_kernel_event(event);
		});
		for (FetchResult& result : fetcher_.collect())
			on_downloaded(result);
		if (fds[1].revents)
			for (const DecodeResult& result : decoder_.collect())
				on_decoded(result);
		run_due_retries();
		commit_if_due(false);

		if (fds[2].revents) {
			signalfd_siginfo info{};
			while (read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
				std::string error;
				if (!try_detach(error))
					log_error("not detaching: " + error + "; still serving " + device);
			}
		}
		if (control_ && fds[3].revents)
			control_->serve_one([this](std::string_view request) { return handle_control(request); });
	}
	commit_if_due(true);
	return 0;
}

int Daemon::poll_timeout_ms() const
{
	auto timeout = std::chrono::milliseconds(1000);
	if (!retries_.empty()) {
		auto until = std::chrono::duration_cast<std::chrono::milliseconds>(retries_.begin()->first - Clock::now());
		timeout = std::clamp(until, std::chrono::milliseconds(0), timeout);
	}
	return static_cast<int>(timeout.count());
}

void Daemon::on_kernel_event(const KernelEvent& event)
{
	if (event.kind != KernelEvent::Kind::fetch || event.index != index_)
		return;
	fetch_requests_from_kernel_++;
	if (event.block >= manifest_.block_count()) {
		log_warning("kernel asked for block " + std::to_string(event.block) + " beyond the image");
		return;
	}
	if (cache_.is_present(event.block)) {
		kernel_->block_ready(index_, event.block);
		return;
	}
	if (attempts_.count(event.block))
		return; // already on its way
	attempts_[event.block] = 0;
	start_download(event.block);
}

void Daemon::start_download(uint64_t block)
{
	attempts_[block]++;
	const BlockEntry& entry = manifest_.blocks[block];
	fetcher_.start(block, join_url(options_.url, block_relpath(entry.stored_hash)), entry.stored_size);
}

void Daemon::attempt_failed(uint64_t block, const std::string& error, bool retryable)
{
	unsigned attempts = attempts_[block];
	if (retryable && attempts < options_.max_attempts) {
		// Exponential backoff with jitter, so that many failing blocks do not retry in step.
		auto delay = kFirstRetryDelay * (1u << (attempts - 1));
		delay += std::chrono::milliseconds(std::uniform_int_distribution<int>(
			0, static_cast<int>(delay.count() / 2))(random_));
		log_warning("block " + std::to_string(block) + ": " + error + "; retrying");
		retries_.emplace(Clock::now() + delay, block);
		return;
	}
	log_error("block " + std::to_string(block) + " failed after " + std::to_string(attempts) +
		  (attempts == 1 ? " attempt: " : " attempts: ") + error);
	attempts_.erase(block);
	blocks_failed_++;
	kernel_->block_failed(index_, block, EIO);
}

void Daemon::on_downloaded(FetchResult& result)
{
	if (!result.ok) {
		attempt_failed(result.block, result.error, result.retryable);
		return;
	}
	decoder_.submit({result.block, std::move(result.body)});
}

void Daemon::on_decoded(const DecodeResult& result)
{
	if (!result.ok) {
		integrity_errors_++;
		attempt_failed(result.block, result.error, true);
		return;
	}
	cache_.mark_written(result.block);
	attempts_.erase(result.block);
	blocks_fetched_++;
	kernel_->block_ready(index_, result.block);
}

void Daemon::run_due_retries()
{
	const auto now = Clock::now();
	while (!retries_.empty() && retries_.begin()->first <= now) {
		uint64_t block = retries_.begin()->second;
		retries_.erase(retries_.begin());
		start_download(block);
	}
}

void Daemon::commit_if_due(bool force)
{
	size_t pending = cache_.pending_commit();
	if (pending == 0)
		return;
	if (force || pending >= kCommitBatch || Clock::now() - last_commit_ >= kCommitInterval) {
		try {
			cache_.commit();
		} catch (const Error& e) {
			// The blocks stay readable; they are only not recorded, so they are fetched
			// again after a restart.
			log_error(std::string("cannot record cached blocks: ") + e.what());
		}
		last_commit_ = Clock::now();
	}
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
	commit_if_due(true);
	return true;
}

std::string Daemon::status_report()
{
	const FetchCounters& http = fetcher_.counters();
	std::ostringstream out;
	out << "url=" << options_.url << '\n'
	    << "pid=" << getpid() << '\n'
	    << "image_id=" << to_hex(image_id_) << '\n'
	    << "cache_dir=" << cache_.directory().native() << '\n'
	    << "codec=" << codec_name(manifest_.codec) << '\n'
	    << "image_size=" << manifest_.image_size << '\n'
	    << "block_size=" << manifest_.block_size << '\n'
	    << "blocks_total=" << manifest_.block_count() << '\n'
	    << "blocks_cached=" << cache_.present_count() << '\n'
	    << "fetch_requests=" << fetch_requests_from_kernel_ << '\n'
	    << "blocks_fetched=" << blocks_fetched_ << '\n'
	    << "blocks_failed=" << blocks_failed_ << '\n'
	    << "integrity_errors=" << integrity_errors_ << '\n'
	    << "http_requests=" << http.requests << '\n'
	    << "http_bytes=" << http.bytes << '\n'
	    << "http_errors=" << http.errors << '\n'
	    << "in_flight=" << attempts_.size() << '\n';
	return out.str();
}

std::string Daemon::handle_control(std::string_view request)
{
	if (request == "status")
		return status_report();
	if (request == "detach") {
		std::string error;
		return try_detach(error) ? "ok=1\n" : "ok=0\nerror=" + error + "\n";
	}
	return "ok=0\nerror=unknown request\n";
}

// Routes log lines to syslog once the daemon has left the terminal.
void log_to_syslog()
{
	openlog("httpcloop", LOG_PID, LOG_DAEMON);
	set_log_sink([](LogLevel level, std::string_view message) {
		int priority = level == LogLevel::error ? LOG_ERR : level == LogLevel::warning ? LOG_WARNING : LOG_INFO;
		syslog(priority, "%.*s", static_cast<int>(message.size()), message.data());
	});
}

} // namespace

int run_attach(const AttachOptions& options)
{
	LoadedImage image = load_image(options.url, options.trust);
	CacheStore cache = CacheStore::open(options.cache_dir, image.manifest, image.id);

	if (options.foreground) {
		if (options.lock_memory)
			protect_from_memory_pressure();
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
		Daemon daemon(options, std::move(image), std::move(cache));
		status = daemon.run([&](bool ok, const std::string& text) {
			std::string line = text + "\n";
			[[maybe_unused]] ssize_t n = write(report_write.get(), line.data(), line.size());
			report_write.reset();
			if (!ok)
				return;
			// Detach from the terminal: from now on the daemon speaks through syslog.
			log_to_syslog();
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
