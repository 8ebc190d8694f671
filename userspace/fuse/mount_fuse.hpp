#pragma once
// `httpcloop mount-fuse`: serves an image as MOUNTPOINT/image through FUSE, on the same
// fetch / verify / cache core as `attach`, with the same cache directory layout (a cache
// filled by one is used by the other).

#include "service/serve_options.hpp"

#include <filesystem>
#include <string>

namespace httpcloop {

struct MountFuseOptions {
	ServeOptions serve;
	std::filesystem::path mountpoint;
	// Never hand the kernel the cache file (FUSE passthrough), even when it could.
	bool no_passthrough = false;
};

// Mounts and serves until unmounted (umount, fusermount3 -u) or SIGTERM. In the
// background (the default) it returns once the mount is in place, the server going on in
// a child. Returns the process exit status.
int run_mount_fuse(const MountFuseOptions& options);

} // namespace httpcloop
