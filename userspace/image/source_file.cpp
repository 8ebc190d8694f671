#include "image/source_file.hpp"

#include "util/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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
		source.regular = true;
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

bool SourceFile::range_is_hole(uint64_t offset, uint64_t length)
{
	if (!regular || !seek_data_works_)
		return false;
	if (offset < hole_checked_from_ || offset >= data_at_) {
		const off_t data = ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_DATA);
		if (data < 0 && errno != ENXIO) {
			seek_data_works_ = false; // EINVAL: no SEEK_DATA here; read everything
			return false;
		}
		hole_checked_from_ = offset;
		data_at_ = data < 0 ? size : static_cast<uint64_t>(data); // ENXIO: no data past offset
	}
	return offset + length <= data_at_;
}

} // namespace httpcloop
