#pragma once
// RAII owner of a file descriptor, plus the read/write loops that every caller of
// pread/pwrite would otherwise get subtly wrong (short transfers, EINTR).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace httpcloop {

class UniqueFd {
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	~UniqueFd() { reset(); }

	UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
	UniqueFd& operator=(UniqueFd&& other) noexcept
	{
		if (this != &other)
			reset(other.release());
		return *this;
	}
	UniqueFd(const UniqueFd&) = delete;
	UniqueFd& operator=(const UniqueFd&) = delete;

	int get() const { return fd_; }
	bool valid() const { return fd_ >= 0; }
	explicit operator bool() const { return valid(); }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd = -1);

private:
	int fd_ = -1;
};

// open(2) with O_CLOEXEC added; throws IoError naming `path` on failure.
UniqueFd open_or_throw(const std::string& path, int flags, unsigned mode = 0);

// Writes all of `bytes` at `offset`, retrying short writes and EINTR. `what` names the
// file in the error message.
void pwrite_all(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& what);

// Reads exactly `out.size()` bytes at `offset`; throws if the file ends first.
void pread_exact(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& what);

// Reads up to `out.size()` bytes at `offset`, stopping early only at end of file.
// Returns the number of bytes read.
size_t pread_full(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& what);

} // namespace httpcloop
