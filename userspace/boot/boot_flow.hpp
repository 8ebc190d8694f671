#pragma once
// The preboot's whole job, in order: network, iscript, boot manifest (fastest verified
// mirror), kernel and initrd (cache, or download with retries and fail-over, every byte
// verified), then kexec. See docs/format.md, "Preboot parameters".

#include "boot_format/kernel_cmdline.hpp"

#include <string>

namespace httpcloop::boot {

struct BootRun {
	BootParameters parameters;       // from the kernel command line, with options applied
	std::string pubkey_file_option;  // --pubkey FILE (wins over httpcloop.pubkey=)
	bool dry_run = false;            // everything but kexec_file_load and the reboot
};

// Returns 0 after a dry run or an iscript-only boot; otherwise kexecs and does not return.
// Throws Error (TrustError, HttpError, …) with what went wrong and what to check.
int run_boot(const BootRun& run);

} // namespace httpcloop::boot
