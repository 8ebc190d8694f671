#include "boot/boot_cache.hpp"

#include "boot/console.hpp"
#include "boot/run_program.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace httpcloop::boot {

namespace {

constexpr const char* kMountPoint = "/run/httpcloop-boot-cache";
constexpr const char* kSubdirectory = "httpcloop-boot";
constexpr std::chrono::milliseconds kDeviceWait{10000}; // USB storage can take a while to appear
constexpr const char* kAutomaticCache = "LABEL=HTTPCLOOP-CACHE";

bool is_hex_name(const std::string& name)
{
	if (name.size() != 64)
		return false;
	for (char c : name)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	return true;
}

// LABEL=… and UUID=… through BusyBox findfs; /dev/NODE as is. Waits for the node.
std::optional<std::string> resolve_device(const std::string& spec, std::chrono::milliseconds wait)
{
	const auto deadline = std::chrono::steady_clock::now() + wait;
	for (;;) {
		std::string device = spec;
		if (spec.starts_with("LABEL=") || spec.starts_with("UUID=")) {
			const std::string by = spec.starts_with("LABEL=") ? "/dev/disk/by-label/" : "/dev/disk/by-uuid/";
			device = by + spec.substr(spec.find('=') + 1);
			if (access(device.c_str(), F_OK) != 0) {
				// No udev in a BusyBox initramfs: ask findfs (blkid's probe) instead.
				std::vector<std::string> findfs = find_tool("findfs");
				device.clear();
				if (!findfs.empty()) {
					findfs.push_back(spec);
					device = run_program_line(findfs).value_or("");
				}
			}
		}
		if (!device.empty() && access(device.c_str(), F_OK) == 0)
			return device;
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(std::chrono::milliseconds(250));
	}
}

// Tries the block file systems the kernel has registered (/proc/filesystems without
// "nodev"), then the usual ones by name, which makes the kernel load their modules.
bool mount_device(const std::string& device)
{
	::mkdir("/run", 0755);
	::mkdir(kMountPoint, 0755);
	std::vector<std::string> types;
	std::ifstream filesystems("/proc/filesystems");
	for (std::string line; std::getline(filesystems, line);) {
		if (line.starts_with("nodev"))
			continue;
		size_t start = line.find_first_not_of(" \t");
		if (start != std::string::npos)
			types.push_back(line.substr(start));
	}
	for (const char* type : {"ext4", "vfat", "exfat", "btrfs", "xfs"})
		if (std::find(types.begin(), types.end(), type) == types.end())
			types.push_back(type);
	for (const std::string& type : types) {
		if (::mount(device.c_str(), kMountPoint, type.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) {
			say("cache: mounted " + device + " (" + type + ") on " + kMountPoint);
			return true;
		}
	}
	return false;
}

void make_directories(const std::filesystem::path& path)
{
	std::error_code error;
	std::filesystem::create_directories(path, error);
	if (error)
		throw IoError("cannot create " + path.string() + ": " + error.message());
}

} // namespace

FileDigest digest_file(const std::filesystem::path& path)
{
	UniqueFd fd = open_or_throw(path.string(), O_RDONLY);
	Sha256Hasher hasher;
	FileDigest digest;
	std::vector<uint8_t> buffer(1 << 20);
	for (;;) {
		size_t n = pread_full(fd.get(), buffer, digest.size, path.string());
		if (n == 0)
			break;
		hasher.update(std::span<const uint8_t>(buffer.data(), n));
		digest.size += n;
	}
	digest.sha256 = hasher.final();
	return digest;
}

BootCache BootCache::open(const std::optional<std::string>& configured)
{
	BootCache cache;
	std::optional<std::string> spec = configured;
	bool automatic = false;
	// As the preboot (PID 1) without httpcloop.cache=, a file system labelled
	// HTTPCLOOP-CACHE (a USB stick, a partition) is used when present, as InetBoot did.
	if (!spec && getpid() == 1 && resolve_device(kAutomaticCache, std::chrono::milliseconds(0))) {
		spec = kAutomaticCache;
		automatic = true;
	}
	if (spec) {
		std::filesystem::path directory;
		if (spec->starts_with("/dev/") || spec->starts_with("LABEL=") || spec->starts_with("UUID=")) {
			std::optional<std::string> device =
				resolve_device(*spec, automatic ? std::chrono::milliseconds(0) : kDeviceWait);
			if (!device)
				warn("cache device " + *spec + " not found after 10 s; downloading to RAM");
			else if (!mount_device(*device))
				warn("cannot mount " + *device + " (no file system the kernel knows?); downloading to RAM");
			else
				directory = std::filesystem::path(kMountPoint) / kSubdirectory;
		} else {
			directory = *spec;
		}
		if (!directory.empty()) {
			try {
				make_directories(directory);
				cache.directory_ = directory;
				cache.persistent_ = true;
				return cache;
			} catch (const Error& error) {
				warn(std::string(error.what()) + "; downloading to RAM");
			}
		}
	}
	const char* tmp = std::getenv("TMPDIR");
	cache.directory_ = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("httpcloop-boot." + std::to_string(getpid()));
	make_directories(cache.directory_);
	return cache;
}

std::optional<std::filesystem::path> BootCache::find(const BootFile& file) const
{
	const std::filesystem::path path = final_path(file);
	struct stat status{};
	if (::stat(path.c_str(), &status) != 0)
		return std::nullopt;
	try {
		if (static_cast<uint64_t>(status.st_size) == file.size && digest_file(path).sha256 == file.sha256)
			return path;
	} catch (const Error& error) {
		warn(std::string("cache: ") + error.what());
	}
	warn("cache: " + path.string() + " is damaged (size or SHA-256 differs); downloading it again");
	::unlink(path.c_str());
	return std::nullopt;
}

std::filesystem::path BootCache::temporary_path(const BootFile& file) const
{
	return directory_ / ("." + to_hex(file.sha256) + ".part");
}

std::filesystem::path BootCache::final_path(const BootFile& file) const
{
	return directory_ / to_hex(file.sha256);
}

void BootCache::prune(const std::vector<BootFile>& keep) const
{
	if (!persistent_)
		return;
	std::error_code error;
	for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
		const std::string name = entry.path().filename().string();
		bool wanted = false;
		for (const BootFile& file : keep)
			wanted = wanted || name == to_hex(file.sha256);
		if (!wanted && (is_hex_name(name) || (name.starts_with(".") && name.ends_with(".part"))))
			std::filesystem::remove(entry.path(), error);
	}
}

} // namespace httpcloop::boot
