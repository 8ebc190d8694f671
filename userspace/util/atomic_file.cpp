#include "util/atomic_file.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace httpcloop {

void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes, unsigned mode)
{
	const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
	const std::filesystem::path temp = directory / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));
	{
		UniqueFd fd = open_or_throw(temp.string(), O_WRONLY | O_CREAT | O_TRUNC, mode);
		try {
			pwrite_all(fd.get(), bytes, 0, temp.string());
			if (::fsync(fd.get()) != 0)
				throw_errno("cannot sync " + temp.string());
		} catch (...) {
			::unlink(temp.c_str());
			throw;
		}
	}
	if (::rename(temp.c_str(), path.c_str()) != 0) {
		int saved_errno = errno;
		::unlink(temp.c_str());
		throw_errno("cannot rename " + temp.string() + " to " + path.string(), saved_errno);
	}
	UniqueFd directory_fd = open_or_throw(directory.string(), O_RDONLY | O_DIRECTORY);
	if (::fsync(directory_fd.get()) != 0)
		throw_errno("cannot sync directory " + directory.string());
}

} // namespace httpcloop
