#pragma once
// Ordering the boot URL and its mirrors: reachable before unreachable, and a mirror that
// answered clearly faster (in less than half the time and by more than 50 ms) before a
// slower one. Latencies closer than that are noise on a LAN or loopback, so the order of
// the command line (the boot URL first) stands among them.

#include <cstddef>
#include <optional>
#include <vector>

namespace httpcloop::boot {

// `seconds[i]`: how long source i took to serve the boot manifest, or nullopt if it did
// not. Returns the indices of the reachable sources, best first.
std::vector<size_t> rank_sources(const std::vector<std::optional<double>>& seconds);

} // namespace httpcloop::boot
