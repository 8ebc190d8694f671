#include "daemon/supervisor.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>

namespace httpcloop {

namespace {

using Clock = std::chrono::steady_clock;

// A worker that dies sooner than this probably failed to start (an unreadable cache, a
// kernel that refuses the claim): wait before the next one, longer each time. One that
// lived longer served the device, and its successor starts at once.
constexpr auto kShortLife = std::chrono::seconds(2);
constexpr auto kFirstDelay = std::chrono::milliseconds(200);
constexpr auto kMaxDelay = std::chrono::seconds(5);

sigset_t supervisor_signals()
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	return set;
}

pid_t start_worker(const SupervisorHooks& hooks, unsigned restart, uint32_t index, int report_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		throw_errno("cannot start the daemon: fork");
	if (pid > 0)
		return pid;
	// The worker keeps SIGTERM, SIGINT and SIGHUP blocked: they stay pending until its
	// signalfd reads them, so one sent at any moment detaches rather than kills it.
	sigset_t child;
	sigemptyset(&child);
	sigaddset(&child, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &child, nullptr);
	int status = kWorkerFailed;
	try {
		status = hooks.run_worker(restart, index, report_fd);
	} catch (const std::exception& e) {
		log_error(e.what());
	}
	_exit(status);
}

// Waits for `worker` to end, passing termination signals on; returns its wait status.
int wait_worker(pid_t worker, const sigset_t& signals)
{
	for (;;) {
		int status = 0;
		pid_t ended = waitpid(worker, &status, WNOHANG);
		if (ended == worker)
			return status;
		if (ended < 0 && errno != EINTR)
			throw_errno("waiting for the daemon");
		siginfo_t info{};
		timespec tick{1, 0};
		int signal = sigtimedwait(&signals, &info, &tick);
		if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP)
			kill(worker, signal);
	}
}

// Sleeps for `delay`, still passing termination signals on to the next worker: they are
// kept and returned (0 if none came).
int pause_before_restart(Clock::duration delay, const sigset_t& signals)
{
	int pending = 0;
	const auto end = Clock::now() + delay;
	for (auto now = Clock::now(); now < end; now = Clock::now()) {
		auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(end - now);
		timespec wait{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
		siginfo_t info{};
		int signal = sigtimedwait(&signals, &info, &wait);
		if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP)
			pending = signal;
	}
	return pending;
}

// The first worker's report, until it closes the pipe; termination signals that come
// meanwhile are passed on (the worker removes the device again once it is online).
std::string read_report(int fd, pid_t worker, const sigset_t& signals)
{
	std::string report;
	char buffer[512];
	for (;;) {
		pollfd pfd{fd, POLLIN, 0};
		int ready = poll(&pfd, 1, 200);
		siginfo_t info{};
		timespec now{0, 0};
		for (int signal; (signal = sigtimedwait(&signals, &info, &now)) > 0;)
			if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP)
				kill(worker, signal);
		if (ready <= 0)
			continue;
		ssize_t n = read(fd, buffer, sizeof(buffer));
		if (n > 0)
			report.append(buffer, static_cast<size_t>(n));
		else if (n == 0 || errno != EINTR)
			return report;
	}
}

// N of a report "/dev/httpcloopN\n".
std::optional<uint32_t> reported_index(const std::string& report)
{
	constexpr std::string_view prefix = "/dev/httpcloop";
	if (report.rfind(prefix, 0) != 0)
		return std::nullopt;
	try {
		return static_cast<uint32_t>(std::stoul(report.substr(prefix.size())));
	} catch (const std::exception&) {
		return std::nullopt;
	}
}

std::string describe_end(int status)
{
	if (WIFSIGNALED(status))
		return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
		       strsignal(WTERMSIG(status)) + ")";
	return "exited with status " + std::to_string(WEXITSTATUS(status));
}

} // namespace

int supervise(const SupervisorHooks& hooks)
{
	const sigset_t signals = supervisor_signals();
	sigprocmask(SIG_BLOCK, &signals, nullptr);

	int report_fds[2];
	if (pipe2(report_fds, O_CLOEXEC) != 0)
		throw_errno("pipe");
	UniqueFd report_read(report_fds[0]), report_write(report_fds[1]);
	pid_t worker = start_worker(hooks, 0, 0, report_write.get());
	report_write.reset();
	const std::string report = read_report(report_read.get(), worker, signals);
	hooks.on_report(report);
	const std::optional<uint32_t> index = reported_index(report);
	if (!index) {
		wait_worker(worker, signals);
		return kWorkerFailed;
	}

	const std::string device = "/dev/httpcloop" + std::to_string(*index);
	Clock::duration delay = kFirstDelay;
	for (unsigned restart = 1;; restart++) {
		const auto started = Clock::now();
		const int status = wait_worker(worker, signals);
		if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerFinished)
			return 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerNothingToServe) {
			log_info("the daemon of " + device + " has nothing left to serve; the supervisor exits");
			return 0;
		}
		int pending = 0;
		if (Clock::now() - started < kShortLife) {
			log_warning("the daemon of " + device + " (pid " + std::to_string(worker) + ") " +
				    describe_end(status) + "; starting another in " +
				    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) +
				    " ms");
			pending = pause_before_restart(delay, signals);
			delay = std::min<Clock::duration>(delay * 2, kMaxDelay);
		} else {
			log_warning("the daemon of " + device + " (pid " + std::to_string(worker) + ") " +
				    describe_end(status) + "; starting another");
			delay = kFirstDelay;
		}
		worker = start_worker(hooks, restart, *index, -1);
		if (pending)
			kill(worker, pending);
	}
}

} // namespace httpcloop
