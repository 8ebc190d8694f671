#pragma once
// Starting the downloaded kernel: kexec_file_load(2), then reboot(LINUX_REBOOT_CMD_KEXEC).
// kexec_file_load (rather than kexec_load) lets the running kernel parse and, where the
// platform requires it, verify the image itself; no kexec-tools are needed.

#include <filesystem>
#include <optional>
#include <string>

namespace httpcloop::boot {

// Loads the kernel (and initrd, if any) with `cmdline`; throws Error explaining a refusal.
void kexec_load_files(const std::filesystem::path& kernel, const std::optional<std::filesystem::path>& initrd,
		      const std::string& cmdline);

// Unloads what kexec_load_files loaded (after a failure to reboot into it).
void kexec_unload();

// Syncs and jumps into the loaded kernel. Returns only on failure (then throws Error).
[[noreturn]] void kexec_reboot();

} // namespace httpcloop::boot
