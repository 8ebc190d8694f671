#pragma once
// Networking for the preboot: loopback always; a real interface by DHCP (BusyBox udhcpc)
// when the kernel (ip=) or a hook has not configured one already.

#include "boot_format/kernel_cmdline.hpp"

#include <string>
#include <vector>

namespace httpcloop::boot {

// Sets lo up (an initramfs starts with it down). Never throws; warns.
void bring_up_loopback();

// With NetworkMode::none, or when every URL's host is a loopback address, or when an
// interface other than lo already has an IPv4 address: nothing. Otherwise runs
// `udhcpc -i IF -n -q` on each interface in turn until one gets a lease. Throws Error
// with what to check when none does.
void ensure_network(NetworkMode mode, const std::vector<std::string>& urls, unsigned timeout_s);

} // namespace httpcloop::boot
