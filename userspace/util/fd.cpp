#include "util/fd.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace httpcloop {

void UniqueFd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_); // nothing useful to do on failure of close of a read or synced fd
	fd_ = fd;
}

UniqueFd open_or_throw(const std::string& path, int flags, unsigned mode)
{
	int fd;
	do {
		fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		throw_errno("cannot open " + path);
	return UniqueFd(fd);
}

void pwrite_all(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& what)
{
	while (!bytes.empty()) {
		ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw_errno("cannot write " + what);
		}
		if (n == 0)
			throw IoError("cannot write " + what + ": write returned 0");
		bytes = bytes.subspan(static_cast<size_t>(n));
		offset += static_cast<uint64_t>(n);
	}
}

size_t pread_full(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& what)
{
	size_t done = 0;
	while (done < out.size()) {
		ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw_errno("cannot read " + what);
		}
		if (n == 0)
			break;
		done += static_cast<size_t>(n);
	}
	return done;
}

void pread_exact(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& what)
{
	size_t got = pread_full(fd, out, offset, what);
	if (got != out.size())
		throw IoError("cannot read " + what + ": unexpected end of file at offset " +
			      std::to_string(offset + got));
}

} // namespace httpcloop
