#include "image/source_file.hpp"

#include "util/error.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

namespace httpcloop {

SourceFile open_source(const std::filesystem::path& path)
{
	const std::string name = path.string();
	SourceFile source;
	source.fd = open_or_throw(name, O_RDONLY);
	struct stat status{};
	if (::fstat(source.fd.get(), &status) != 0)
		throw_errno("cannot stat " + name);
	if (S_ISREG(status.st_mode)) {
		source.size = static_cast<uint64_t>(status.st_size);
	} else if (S_ISBLK(status.st_mode)) {
		if (::ioctl(source.fd.get(), BLKGETSIZE64, &source.size) != 0)
			throw_errno("cannot get the size of block device " + name);
	} else {
		throw Error(name + " is not a regular file or a block device");
	}
	if (source.size == 0)
		throw Error(name + " is empty");
	// Only a hint: sequential reads benefit from a larger readahead.
	::posix_fadvise(source.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
	return source;
}

} // namespace httpcloop
