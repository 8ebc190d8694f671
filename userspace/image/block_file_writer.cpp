#include "image/block_file_writer.hpp"

#include "format/block_name.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/log.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace httpcloop {

namespace {

void make_directory(const std::filesystem::path& path)
{
	if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
		throw_errno("cannot create directory " + path.string());
}

} // namespace

BlockFileWriter::BlockFileWriter(std::filesystem::path output_dir) : output_dir_(std::move(output_dir))
{
	std::error_code error;
	std::filesystem::create_directories(output_dir_, error);
	if (error)
		throw IoError("cannot create output directory " + output_dir_.string() + ": " + error.message());
	if (::access(output_dir_.c_str(), W_OK) != 0)
		throw_errno("output directory " + output_dir_.string() + " is not writable");
	make_directory(output_dir_ / "blocks");
}

bool BlockFileWriter::write_if_absent(const Sha256& stored_hash, std::span<const uint8_t> stored)
{
	{
		std::lock_guard lock(claimed_mutex_);
		if (!claimed_.insert(stored_hash).second)
			return false;
	}
	const std::filesystem::path final_path = output_dir_ / block_relpath(stored_hash);
	struct stat status{};
	if (::stat(final_path.c_str(), &status) == 0) {
		// Same name means same content, except for a file a crash left short (renamed
		// before its data reached the disk); the size check catches that cheaply.
		if (S_ISREG(status.st_mode) && static_cast<uint64_t>(status.st_size) == stored.size())
			return false;
		log_warning("replacing damaged block file " + final_path.string());
	}
	make_directory(final_path.parent_path());

	const std::filesystem::path temp_path =
		final_path.parent_path() / (".tmp." + std::to_string(::getpid()) + "." + std::to_string(temp_counter_++));
	{
		UniqueFd fd = open_or_throw(temp_path.string(), O_WRONLY | O_CREAT | O_EXCL, 0644);
		try {
			pwrite_all(fd.get(), stored, 0, temp_path.string());
		} catch (...) {
			::unlink(temp_path.c_str());
			throw;
		}
	}
	if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
		int saved_errno = errno;
		::unlink(temp_path.c_str());
		throw_errno("cannot rename " + temp_path.string() + " to " + final_path.string(), saved_errno);
	}
	return true;
}

} // namespace httpcloop
