#pragma once
// `httpcloop attach`: the daemon that serves one image to the kernel.
//
// It loads and verifies the manifest, opens the image's cache, adds the device
// (handing the kernel the cache file and the present-block bitmap), then runs
// one event loop: FETCH from the kernel -> download (libcurl multi) -> verify
// and decompress on a worker -> write to the cache file -> BLOCK_READY.
// Written blocks are made durable and recorded in batches.

#include "service/serve_options.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace httpcloop {

struct AttachOptions {
	ServeOptions serve;
	bool lock_memory = true; // mlockall and friends; off only for tests without privileges
	// The device's timeouts in seconds (DEV_ADD); 0: the module parameters'.
	uint32_t io_timeout_s = 0;
	uint32_t dead_timeout_s = 0;
	// --root: this daemon serves the root file system, started from the initramfs. It
	// marks itself for systemd ('@' in argv[0]), leaves every path of the initramfs
	// (cwd "/", logs to the kernel log), and keeps what it will need later in memory.
	bool root_daemon = false;
	// --recover: take over this existing device (its daemon died) instead of adding one.
	std::optional<uint32_t> recover_index;
	// `httpcloop restart`: the device's daemon is alive; it hands the cache over before
	// this one claims the device (with recover_index).
	bool handover = false;
	// How this attach was asked for (working directory, then the arguments after
	// "attach"): recorded once the device is online, for a later `attach --recover`.
	std::vector<std::string> command_line;
};

// Runs the daemon. In the background (the default) the calling process returns as soon
// as the device exists, after printing its path; the daemon goes on in a child.
// Returns the process exit status.
int run_attach(const AttachOptions& options);

} // namespace httpcloop
