#include "cache/cache_store.hpp"

#include "cache/cache_layout.hpp"
#include "cache/present_record.hpp"
#include "util/atomic_file.hpp"
#include "util/bitmap.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <variant>

namespace httpcloop {

namespace {

namespace fs = std::filesystem;
using namespace cache_layout;

// The cache directory DIR/<image id>, opened without following a symbolic link at its
// last component, created (0700) if missing, and accepted only if it is a directory owned
// by this user that nobody else may write to: a cache anyone else can change could have
// its files replaced by links that make the daemon overwrite or resize other files.
// (DIR itself may be shared, e.g. root's /var/cache/httpcloop, but not writable by all.)
UniqueFd open_private_directory(int cache_dir_fd, const fs::path& cache_dir, const std::string& name)
{
	UniqueFd parent(::fcntl(cache_dir_fd, F_DUPFD_CLOEXEC, 0));
	if (!parent)
		throw_errno("cannot open cache directory " + cache_dir.string());
	struct stat status{};
	if (::fstat(parent.get(), &status) != 0)
		throw_errno("cannot stat cache directory " + cache_dir.string());
	if ((status.st_mode & S_IWOTH) && !(status.st_mode & S_ISVTX))
		throw IoError("cache directory " + cache_dir.string() +
			      " is writable by every user: refusing it (chmod o-w, or choose another --cache)");

	const std::string path = (cache_dir / name).string();
	if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
		throw_errno("cannot create cache directory " + path);
	UniqueFd directory(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!directory) {
		if (errno == ELOOP || errno == ENOTDIR)
			throw IoError("cache path " + path + " is not a directory (a symbolic link or a file): refusing it");
		throw_errno("cannot open cache directory " + path);
	}
	if (::fstat(directory.get(), &status) != 0)
		throw_errno("cannot stat cache directory " + path);
	if (status.st_uid != ::geteuid())
		throw IoError("cache directory " + path + " belongs to user " + std::to_string(status.st_uid) +
			      ", not to this one (" + std::to_string(::geteuid()) + "): refusing it");
	if (status.st_mode & (S_IWGRP | S_IWOTH))
		throw IoError("cache directory " + path + " is writable by other users: refusing it (chmod go-w)");
	return directory;
}

// Opens NAME inside the cache directory, never through a symbolic link.
UniqueFd open_in(int directory, const char* name, int flags, const fs::path& shown)
{
	UniqueFd fd(::openat(directory, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600));
	if (!fd && errno == ELOOP)
		throw IoError((shown / name).string() + " is a symbolic link: refusing it");
	if (!fd && (errno != ENOENT || (flags & O_CREAT)))
		throw_errno("cannot open " + (shown / name).string());
	return fd;
}

UniqueFd take_lock(int directory, const fs::path& shown)
{
	UniqueFd fd = open_in(directory, kLockName, O_RDWR | O_CREAT, shown);
	if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			throw Error("cache " + shown.string() + " is in use by another httpcloop process");
		throw_errno("cannot lock cache " + shown.string());
	}
	return fd;
}

// Reads a whole small file, at most `limit` bytes plus one, so an oversized file is
// detected without reading all of it.
std::vector<uint8_t> read_bounded(int fd, size_t limit, const std::string& what)
{
	std::vector<uint8_t> bytes(limit + 1);
	bytes.resize(pread_full(fd, bytes, 0, what));
	return bytes;
}

void fsync_or_throw(int fd, const std::string& what)
{
	if (::fsync(fd) != 0)
		throw_errno("cannot sync " + what);
}

void fdatasync_or_throw(int fd, const std::string& what)
{
	if (::fdatasync(fd) != 0)
		throw_errno("cannot sync " + what);
}

// A copy of the image's manifest in its cache, for other images' daemons to find the
// blocks they share with this one (SiblingBlocks). Written once; its readers check that
// its SHA-256 is the directory's name, so a torn or stale copy is only ignored. Not being
// able to write it costs only that sharing: logged, never fatal.
void keep_manifest_copy(int directory, const fs::path& shown, const Manifest& manifest, const Sha256& manifest_id)
{
	struct stat status{};
	if (::fstatat(directory, kManifestName, &status, AT_SYMLINK_NOFOLLOW) == 0)
		return;
	try {
		const std::vector<uint8_t> bytes = manifest.serialize();
		if (sha256(bytes) != manifest_id)
			return; // not the published bytes (cannot happen for a manifest that parsed)
		write_file_atomically_at(directory, kManifestName, shown, bytes, 0600);
	} catch (const std::exception& e) {
		log_warning("cache " + shown.string() + ": cannot keep a copy of the manifest (" + e.what() +
			    "); other images cannot reuse its blocks");
	}
}

uint64_t count_bits(std::span<const uint8_t> bitmap)
{
	uint64_t count = 0;
	for (uint8_t byte : bitmap)
		count += static_cast<uint64_t>(std::popcount(byte));
	return count;
}

} // namespace

CacheStore::CacheStore(CacheStore&&) noexcept = default;
CacheStore& CacheStore::operator=(CacheStore&&) noexcept = default;
CacheStore::~CacheStore() = default;

CacheStore CacheStore::open(const fs::path& cache_dir, const Manifest& manifest, const Sha256& manifest_id)
{
	std::error_code error;
	fs::create_directories(cache_dir, error);
	if (error)
		throw IoError("cannot create cache directory " + cache_dir.string() + ": " + error.message());
	UniqueFd cache_dir_fd(::open(cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!cache_dir_fd)
		throw_errno("cannot open cache directory " + cache_dir.string());
	return open_in_directory(cache_dir_fd.get(), cache_dir, manifest, manifest_id);
}

CacheStore CacheStore::open_in_directory(int cache_dir_fd, const fs::path& cache_dir, const Manifest& manifest,
					 const Sha256& manifest_id)
{
	CacheStore store;
	store.directory_ = cache_dir / to_hex(manifest_id);
	store.image_size_ = manifest.image_size;
	store.block_size_ = manifest.block_size;
	store.block_count_ = manifest.block_count();
	store.directory_fd_ = open_private_directory(cache_dir_fd, cache_dir, to_hex(manifest_id));
	// Lock before looking at anything else: another process may be mid-commit.
	store.lock_fd_ = take_lock(store.directory_fd_.get(), store.directory_);

	const std::string data_path = (store.directory_ / kDataName).string();
	store.data_fd_ = open_in(store.directory_fd_.get(), kDataName, O_RDWR | O_CREAT, store.directory_);
	struct stat status{};
	if (::fstat(store.data_fd_.get(), &status) != 0)
		throw_errno("cannot stat " + data_path);
	if (!S_ISREG(status.st_mode))
		throw IoError(data_path + " is not a regular file");
	const bool data_size_matches = static_cast<uint64_t>(status.st_size) == manifest.image_size;

	// The record must be reset before the data file is resized, or a crash in between
	// would leave old bits describing zero-filled data.
	store.load_or_reset_record(manifest, manifest_id, data_size_matches);
	if (!data_size_matches && ::ftruncate(store.data_fd_.get(), static_cast<off_t>(manifest.image_size)) != 0)
		throw_errno("cannot size " + data_path);

	store.holes_.assign(present_record::bitmap_size(store.block_count_), 0);
	store.present_ = store.durable_;
	for (uint64_t index = 0; index < store.block_count_; ++index) {
		if (manifest.blocks[index].is_hole()) {
			set_bit(store.holes_, index);
			set_bit(store.present_, index);
		}
	}
	store.present_count_ = count_bits(store.present_);
	keep_manifest_copy(store.directory_fd_.get(), store.directory_, manifest, manifest_id);
	store.siblings_ = SiblingBlocks::scan(cache_dir_fd, cache_dir, manifest, manifest_id, store.present_);
	return store;
}

void CacheStore::load_or_reset_record(const Manifest& manifest, const Sha256& manifest_id, bool data_size_matches)
{
	const PresentRecordIdentity identity{manifest.block_count(), manifest.block_size, manifest_id};
	const fs::path record_path = directory_ / kRecordName;
	UniqueFd fd = open_in(directory_fd_.get(), kRecordName, O_RDWR, directory_);
	if (fd) {
		std::vector<uint8_t> bytes = read_bounded(fd.get(), present_record::file_size(identity.block_count),
							  record_path.string());
		auto decoded = present_record::decode(bytes, identity);
		if (auto* bitmap = std::get_if<std::vector<uint8_t>>(&decoded)) {
			if (data_size_matches) {
				durable_ = std::move(*bitmap);
				record_fd_ = std::move(fd);
				return;
			}
			log_warning("cache " + directory_.string() + ": data file is not " +
				    std::to_string(manifest.image_size) + " bytes; discarding the present record");
		} else {
			log_warning("cache " + directory_.string() + ": discarding present record (" +
				    std::get<std::string>(decoded) + "); the cache starts empty");
		}
	}
	write_fresh_record(manifest, manifest_id);
}

void CacheStore::write_fresh_record(const Manifest& manifest, const Sha256& manifest_id)
{
	const PresentRecordIdentity identity{manifest.block_count(), manifest.block_size, manifest_id};
	durable_.assign(present_record::bitmap_size(identity.block_count), 0);
	const std::vector<uint8_t> bytes = present_record::encode(identity, durable_);

	// Replace atomically, so a crash leaves either the old record or the new empty one.
	const fs::path temp_path = directory_ / kRecordTempName;
	const fs::path record_path = directory_ / kRecordName;
	UniqueFd temp = open_in(directory_fd_.get(), kRecordTempName, O_RDWR | O_CREAT | O_TRUNC, directory_);
	pwrite_all(temp.get(), bytes, 0, temp_path.string());
	fsync_or_throw(temp.get(), temp_path.string());
	if (::renameat(directory_fd_.get(), kRecordTempName, directory_fd_.get(), kRecordName) != 0)
		throw_errno("cannot rename " + temp_path.string() + " to " + record_path.string());
	fsync_or_throw(directory_fd_.get(), directory_.string());
	record_fd_ = std::move(temp); // same inode, now under its final name
}

void CacheStore::check_index(uint64_t index) const
{
	if (index >= block_count_)
		throw Error("block index " + std::to_string(index) + " is out of range (" +
			    std::to_string(block_count_) + " blocks)");
}

bool CacheStore::is_present(uint64_t index) const
{
	check_index(index);
	std::lock_guard lock(*mutex_);
	return test_bit(present_, index);
}

uint64_t CacheStore::present_count() const
{
	std::lock_guard lock(*mutex_);
	return present_count_;
}

size_t CacheStore::pending_commit() const
{
	std::lock_guard lock(*mutex_);
	return pending_.size();
}

std::vector<uint8_t> CacheStore::present_bitmap() const
{
	std::lock_guard lock(*mutex_);
	return present_;
}

void CacheStore::write_block(uint64_t index, std::span<const uint8_t> plain)
{
	check_index(index);
	const uint64_t offset = index * block_size_;
	const uint64_t plain_size = std::min<uint64_t>(block_size_, image_size_ - offset);
	if (plain.size() != plain_size)
		throw Error("cache: block " + std::to_string(index) + " has " + std::to_string(plain_size) +
			    " bytes, got " + std::to_string(plain.size()));
	if (test_bit(holes_, index)) // immutable after open, no lock needed
		return;
	pwrite_all(data_fd_.get(), plain, offset, (directory_ / kDataName).string());
}

void CacheStore::mark_written(uint64_t index)
{
	check_index(index);
	std::lock_guard lock(*mutex_);
	if (test_bit(present_, index) || !failure_.empty())
		return;
	set_bit(present_, index);
	++present_count_;
	pending_.push_back(index);
}

void CacheStore::forget(uint64_t index)
{
	check_index(index);
	std::lock_guard lock(*mutex_);
	if (!test_bit(present_, index) || test_bit(holes_, index))
		return;
	clear_bit(present_, index);
	present_count_--;
	std::erase(pending_, index);
	if (test_bit(durable_, index)) {
		clear_bit(durable_, index);
		pwrite_all(record_fd_.get(), std::span(durable_).subspan(index / 8, 1), present_record::kHeaderSize + index / 8,
			   (directory_ / kRecordName).string());
		fdatasync_or_throw(record_fd_.get(), (directory_ / kRecordName).string());
	}
}

void CacheStore::commit()
{
	std::vector<uint64_t> committing;
	{
		std::lock_guard lock(*mutex_);
		if (handed_over_ || !failure_.empty())
			return;
		committing.swap(pending_);
	}
	if (committing.empty())
		return;

	if (::fdatasync(data_fd_.get()) != 0) {
		const int saved_errno = errno;
		fail(committing, "cannot sync " + (directory_ / kDataName).string() + ": " + std::strerror(saved_errno));
	}

	{
		std::lock_guard lock(*mutex_);
		uint64_t first_byte = UINT64_MAX, last_byte = 0;
		for (uint64_t index : committing) {
			set_bit(durable_, index);
			first_byte = std::min(first_byte, index / 8);
			last_byte = std::max(last_byte, index / 8);
		}
		// Bits are only ever set, and durable_ holds only synced blocks, so rewriting the
		// whole dirty byte range in place is safe.
		std::span<const uint8_t> dirty(durable_.data() + first_byte, last_byte - first_byte + 1);
		pwrite_all(record_fd_.get(), dirty, present_record::kHeaderSize + first_byte,
			   (directory_ / kRecordName).string());
	}
	if (::fdatasync(record_fd_.get()) != 0) {
		// The bits just written may be lost; those already on disk stay true (the data
		// they stand for was synced before), so only the record is in doubt.
		const int saved_errno = errno;
		fail({}, "cannot sync " + (directory_ / kRecordName).string() + ": " + std::strerror(saved_errno));
	}
}

void CacheStore::fail(const std::vector<uint64_t>& lost, const std::string& why)
{
	std::lock_guard lock(*mutex_);
	failure_ = why;
	for (uint64_t index : lost) {
		if (test_bit(present_, index) && !test_bit(holes_, index) && !test_bit(durable_, index)) {
			clear_bit(present_, index);
			present_count_--;
		}
	}
	pending_.clear();
	throw Error(why);
}

std::string CacheStore::failure() const
{
	std::lock_guard lock(*mutex_);
	return failure_;
}

void CacheStore::hand_over()
{
	commit();
	{
		std::lock_guard lock(*mutex_);
		handed_over_ = true;
	}
	if (::flock(lock_fd_.get(), LOCK_UN) != 0)
		throw_errno("cannot unlock cache " + directory_.string());
}

void CacheStore::take_back()
{
	if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			throw Error("cache " + directory_.string() + " was taken by another httpcloop process");
		throw_errno("cannot lock cache " + directory_.string());
	}
	{
		std::lock_guard lock(*mutex_);
		handed_over_ = false;
	}
	commit();
}

} // namespace httpcloop
