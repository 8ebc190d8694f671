#include "util/atomic_file.hpp"

#include "util/error.hpp"

#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace httpcloop {

namespace {

std::filesystem::path directory_of(const std::filesystem::path& path)
{
	return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// Writes `name` in the directory `directory_fd` through a temporary file, renamed over it.
void replace_in_directory(int directory_fd, const std::string& name, const std::filesystem::path& shown,
			  std::span<const uint8_t> bytes, unsigned mode)
{
	const std::string temp = "." + name + ".tmp." + std::to_string(::getpid());
	const std::string temp_shown = (directory_of(shown) / temp).string();
	{
		UniqueFd fd(::openat(directory_fd, temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
				     mode));
		if (!fd)
			throw_errno("cannot create " + temp_shown);
		try {
			pwrite_all(fd.get(), bytes, 0, temp_shown);
			if (::fsync(fd.get()) != 0)
				throw_errno("cannot sync " + temp_shown);
		} catch (...) {
			::unlinkat(directory_fd, temp.c_str(), 0);
			throw;
		}
	}
	if (::renameat(directory_fd, temp.c_str(), directory_fd, name.c_str()) != 0) {
		int saved_errno = errno;
		::unlinkat(directory_fd, temp.c_str(), 0);
		throw_errno("cannot rename " + temp_shown + " to " + shown.string(), saved_errno);
	}
	if (::fsync(directory_fd) != 0)
		throw_errno("cannot sync directory " + directory_of(shown).string());
}

} // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes, unsigned mode)
{
	AnchoredFile(path).write_atomically(bytes, mode);
}

void write_file_atomically_at(int directory_fd, const std::string& name, const std::filesystem::path& shown,
			      std::span<const uint8_t> bytes, unsigned mode)
{
	replace_in_directory(directory_fd, name, shown, bytes, mode);
}

AnchoredFile::AnchoredFile(const std::filesystem::path& path)
	: path_(path), name_(path.filename().string())
{
	if (name_.empty() || name_ == "." || name_ == "..")
		throw IoError("'" + path.string() + "' does not name a file");
	const std::filesystem::path directory = directory_of(path);
	directory_ = UniqueFd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!directory_)
		throw_errno("cannot open directory " + directory.string());
}

AnchoredFile AnchoredFile::in_directory(int directory_fd, const std::filesystem::path& path)
{
	AnchoredFile file;
	file.path_ = path;
	file.name_ = path.filename().string();
	if (file.name_.empty() || file.name_ == "." || file.name_ == "..")
		throw IoError("'" + path.string() + "' does not name a file");
	file.directory_ = UniqueFd(::fcntl(directory_fd, F_DUPFD_CLOEXEC, 0));
	if (!file.directory_)
		throw_errno("cannot keep directory " + directory_of(path).string());
	return file;
}

std::optional<std::string> AnchoredFile::read(size_t limit) const
{
	if (!directory_)
		return std::nullopt;
	UniqueFd fd(::openat(directory_.get(), name_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	if (!fd)
		return std::nullopt;
	std::string text;
	char buffer[65536];
	for (;;) {
		ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			throw_errno("cannot read " + path_.string());
		if (n == 0)
			return text;
		if (text.size() + static_cast<size_t>(n) > limit)
			return std::nullopt;
		text.append(buffer, static_cast<size_t>(n));
	}
}

void AnchoredFile::write_atomically(std::span<const uint8_t> bytes, unsigned mode) const
{
	if (!directory_)
		throw Error("no file to write");
	replace_in_directory(directory_.get(), name_, path_, bytes, mode);
}

} // namespace httpcloop
