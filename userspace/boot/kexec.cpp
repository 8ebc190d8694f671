#include "boot/kexec.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace httpcloop::boot {

namespace {

std::string explain_kexec_errno(int error)
{
	switch (error) {
	case EPERM:
		return "not permitted: run as root (CAP_SYS_BOOT), and check that kexec is not disabled "
		       "(/proc/sys/kernel/kexec_load_disabled) or forbidden by lockdown";
	case ENOSYS:
		return "this kernel has no kexec_file_load (it needs CONFIG_KEXEC_FILE)";
	case ENOEXEC:
		return "the kernel refused the image: it is not a kernel it can boot (on x86 a bzImage is needed)";
	case EKEYREJECTED:
	case EBADMSG:
		return "the kernel requires a signed kernel image (lockdown or CONFIG_KEXEC_SIG_FORCE) and rejected this one";
	case EBUSY:
		return "another kexec load is in progress";
	case ENOMEM:
		return "not enough memory to stage the new kernel and initrd";
	case EINVAL:
		return "invalid argument (command line too long, or an initrd the kernel cannot use)";
	default:
		return strerror(error);
	}
}

} // namespace

void kexec_load_files(const std::filesystem::path& kernel, const std::optional<std::filesystem::path>& initrd,
		      const std::string& cmdline)
{
	UniqueFd kernel_fd = open_or_throw(kernel.string(), O_RDONLY);
	UniqueFd initrd_fd;
	unsigned long flags = 0;
	if (initrd)
		initrd_fd = open_or_throw(initrd->string(), O_RDONLY);
	else
		flags |= KEXEC_FILE_NO_INITRAMFS;
	// The length counts the terminating NUL.
	long result = ::syscall(SYS_kexec_file_load, kernel_fd.get(), initrd ? initrd_fd.get() : -1, cmdline.size() + 1,
				cmdline.c_str(), flags);
	if (result != 0)
		throw Error("kexec_file_load failed: " + explain_kexec_errno(errno));
}

void kexec_unload()
{
	::syscall(SYS_kexec_file_load, -1, -1, 0UL, nullptr, static_cast<unsigned long>(KEXEC_FILE_UNLOAD));
}

void kexec_reboot()
{
	::sync();
	::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, nullptr);
	int error = errno;
	kexec_unload();
	throw Error(std::string("reboot into the loaded kernel failed: ") + strerror(error));
}

} // namespace httpcloop::boot
