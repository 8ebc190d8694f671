#include "util/small_file.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <span>
#include <sys/stat.h>

namespace httpcloop {

std::string read_small_file(const std::filesystem::path& path, size_t limit, std::string_view what)
{
	const std::string name = std::string(what) + " " + path.native();
	UniqueFd fd = open_or_throw(path.native(), O_RDONLY);
	struct stat status{};
	if (::fstat(fd.get(), &status) != 0)
		throw_errno("cannot stat " + name);
	if (!S_ISREG(status.st_mode))
		throw IoError(name + " is not a regular file");
	// One byte more than allowed, so that a file over the limit is noticed.
	std::string bytes(limit + 1, '\0');
	auto span = std::span(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
	bytes.resize(pread_full(fd.get(), span, 0, name));
	if (bytes.size() > limit)
		throw IoError(name + " is larger than " + std::to_string(limit) + " bytes");
	return bytes;
}

} // namespace httpcloop
