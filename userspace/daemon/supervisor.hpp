#pragma once
// Keeps a device's daemon alive. A root file system's device has no service manager to
// restart its daemon, and every read of a block not yet cached waits for one: so the
// daemon runs in a child process ("worker") of a small supervisor, and when the worker
// dies without having finished (SIGKILL, a crash, the OOM killer, a fatal error), the
// supervisor starts a new worker that takes the device over (DEV_CLAIM). The kernel asks
// the new worker again for every block that waiting reads need, so no read fails if it
// comes within the module's dead_timeout.
//
// The supervisor itself runs no network, cache or kernel code: it forks, waits and
// forwards SIGTERM, SIGINT and SIGHUP to the worker (which detaches on them). It is
// single-threaded, so forking it is safe, and every worker starts from its memory: the
// verified manifest, the options and the directories opened at start, which a root
// daemon still reaches after switch_root has emptied the initramfs.

#include "util/fd.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace httpcloop {

// How a worker ends, as its exit status.
enum WorkerExit : int {
	kWorkerFinished = 0,     // detached, removed or handed over: nothing more to do
	kWorkerFailed = 1,       // failed while serving: start another
	kWorkerNothingToServe = 3, // never came online, or the device is gone
};

struct SupervisorHooks {
	// Runs in a new worker process and returns its exit status. `restart` is 0 for the
	// first worker, which adds (or claims) the device and writes one line to
	// `report_fd`: the device path once it is online, or an error. Later workers take
	// device `index` over.
	std::function<int(unsigned restart, uint32_t index, int report_fd)> run_worker;
	// Called in the supervisor with the first worker's report line.
	std::function<void(const std::string& line)> on_report;
};

// Runs workers until one finishes (or the first one fails to bring the device online);
// returns the supervisor's exit status. Call in a process of its own (it blocks signals
// and reaps children).
int supervise(const SupervisorHooks& hooks);

} // namespace httpcloop
