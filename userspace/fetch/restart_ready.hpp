#pragma once
// What a daemon's fetcher needs from the file system and DNS, taken once before the
// daemon starts, so that every later daemon of the device (restarted by its supervisor,
// daemon/supervisor.hpp) inherits it instead of looking again: a root file system's
// daemon restarted after switch_root sees only the emptied initramfs, with neither the
// CA file nor /etc/resolv.conf.

#include "fetch/block_fetcher.hpp"

#include <string>
#include <vector>

namespace httpcloop {

// Reads the CA file (FetchOptions::ca_file) into FetchOptions::ca_bundle and, with
// FetchOptions::resolve_once, resolves the host of each http(s) URL of `urls` into
// FetchOptions::pinned_addresses. Throws Error if the CA file cannot be read; a host that
// does not resolve is left to libcurl (and its error then names it).
void take_fetch_inputs_now(FetchOptions& options, const std::vector<std::string>& urls);

} // namespace httpcloop
