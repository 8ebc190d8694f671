#include "cache/sibling_blocks.hpp"

#include "cache/cache_layout.hpp"
#include "cache/present_record.hpp"
#include "util/bitmap.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"

#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <variant>

namespace httpcloop {

namespace {

namespace fs = std::filesystem;
using namespace cache_layout;

uint64_t key_of(const Sha256& hash)
{
	uint64_t key;
	std::memcpy(&key, hash.data(), sizeof(key)); // a SHA-256 is uniform already
	return key;
}

// An image directory found in DIR: its id, and when it was last changed.
struct Candidate {
	std::string name;
	Sha256 id{};
	struct timespec changed{};
};

bool newer(const Candidate& a, const Candidate& b)
{
	return a.changed.tv_sec != b.changed.tv_sec ? a.changed.tv_sec > b.changed.tv_sec
						    : a.changed.tv_nsec > b.changed.tv_nsec;
}

// The other image directories of DIR whose names are image ids, newest first.
std::vector<Candidate> candidates(int cache_dir_fd, const Sha256& own_id)
{
	std::vector<Candidate> found;
	int listing_fd = ::openat(cache_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (listing_fd < 0)
		return found;
	DIR* listing = ::fdopendir(listing_fd);
	if (!listing) {
		::close(listing_fd);
		return found;
	}
	while (dirent* entry = ::readdir(listing)) {
		std::string name = entry->d_name;
		if (name.size() != 64 || name.find_first_not_of("0123456789abcdef") != std::string::npos)
			continue;
		std::optional<std::vector<uint8_t>> bytes = from_hex(name);
		if (!bytes || bytes->size() != 32)
			continue;
		Candidate candidate{name, {}, {}};
		std::copy(bytes->begin(), bytes->end(), candidate.id.begin());
		if (candidate.id == own_id)
			continue;
		struct stat status{};
		if (::fstatat(cache_dir_fd, name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(status.st_mode))
			continue;
		candidate.changed = status.st_mtim;
		found.push_back(std::move(candidate));
	}
	::closedir(listing);
	std::sort(found.begin(), found.end(), newer);
	return found;
}

// A regular file inside `directory`, never through a symbolic link; empty if absent.
UniqueFd open_file(int directory, const char* name, const fs::path& shown)
{
	UniqueFd fd(::openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	if (!fd) {
		if (errno == ENOENT)
			return fd;
		throw_errno("cannot open " + (shown / name).string());
	}
	struct stat status{};
	if (::fstat(fd.get(), &status) != 0)
		throw_errno("cannot stat " + (shown / name).string());
	if (!S_ISREG(status.st_mode))
		throw IoError((shown / name).string() + " is not a regular file");
	return fd;
}

// The whole file, if it has at most `limit` bytes. Sized by fstat, not by the limit: the
// limit for a manifest is 512 MiB, and a buffer of that size for every daemon start would
// cost its zeroing and its memory even for a small image.
std::vector<uint8_t> read_at_most(int fd, size_t limit, const fs::path& shown)
{
	struct stat status{};
	if (::fstat(fd, &status) != 0)
		throw_errno("cannot stat " + shown.string());
	if (status.st_size < 0 || static_cast<uint64_t>(status.st_size) > limit)
		throw IoError(shown.string() + " is larger than " + std::to_string(limit) + " bytes");
	std::vector<uint8_t> bytes(static_cast<size_t>(status.st_size));
	bytes.resize(pread_full(fd, bytes, 0, shown.string()));
	return bytes;
}

} // namespace

SiblingBlocks SiblingBlocks::scan(int cache_dir_fd, const fs::path& cache_dir, const Manifest& manifest,
				  const Sha256& own_id, std::span<const uint8_t> present)
{
	SiblingBlocks siblings;
	bool missing = false;
	for (uint64_t index = 0; index < manifest.block_count() && !missing; index++)
		missing = !manifest.blocks[index].is_hole() && !test_bit(present, index);
	if (!missing)
		return siblings;

	std::vector<Candidate> others = candidates(cache_dir_fd, own_id);
	if (others.size() > kMaxImages)
		others.resize(kMaxImages);
	size_t indexed = 0;
	for (const Candidate& other : others) {
		const fs::path shown = cache_dir / other.name;
		try {
			UniqueFd directory(::openat(cache_dir_fd, other.name.c_str(),
						    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			if (!directory)
				continue;
			// Only a cache as private as our own (CacheStore's rules): another user's
			// files are not read, and could not be trusted to stay as they are anyway.
			struct stat status{};
			if (::fstat(directory.get(), &status) != 0 || status.st_uid != ::geteuid() ||
			    (status.st_mode & (S_IWGRP | S_IWOTH)))
				continue;
			UniqueFd manifest_fd = open_file(directory.get(), kManifestName, shown);
			if (!manifest_fd)
				continue; // a cache written before caches kept their manifest
			const std::vector<uint8_t> manifest_bytes =
				read_at_most(manifest_fd.get(), Manifest::kMaxManifestBytes, shown / kManifestName);
			if (sha256(manifest_bytes) != other.id)
				throw IoError((shown / kManifestName).string() + " is not the manifest its directory names");
			const Manifest theirs = Manifest::parse(manifest_bytes);

			UniqueFd record_fd = open_file(directory.get(), kRecordName, shown);
			UniqueFd data_fd = open_file(directory.get(), kDataName, shown);
			if (!record_fd || !data_fd)
				continue;
			if (::fstat(data_fd.get(), &status) != 0 || static_cast<uint64_t>(status.st_size) != theirs.image_size)
				continue; // being resized: its record is being reset
			const PresentRecordIdentity identity{theirs.block_count(), theirs.block_size, other.id};
			auto decoded = present_record::decode(
				read_at_most(record_fd.get(), present_record::file_size(identity.block_count), shown / kRecordName),
				identity);
			if (auto* why = std::get_if<std::string>(&decoded))
				throw IoError((shown / kRecordName).string() + ": " + *why);
			const std::vector<uint8_t>& durable = std::get<std::vector<uint8_t>>(decoded);

			Image image{std::move(data_fd), theirs.image_size, theirs.block_size, {}};
			for (uint64_t index = 0; index < theirs.block_count() && indexed < kMaxIndexedBlocks; index++) {
				if (theirs.blocks[index].is_hole() || !test_bit(durable, index))
					continue;
				image.entries.push_back({key_of(theirs.blocks[index].plain_hash), index});
				indexed++;
			}
			if (image.entries.empty())
				continue;
			std::sort(image.entries.begin(), image.entries.end());
			siblings.images_.push_back(std::move(image));
		} catch (const std::exception& e) {
			log_warning("cache " + shown.string() + " is not used for blocks this image shares with it: " + e.what());
		}
	}
	if (siblings.images_.empty())
		return siblings;

	uint64_t found = 0;
	for (uint64_t index = 0; index < manifest.block_count(); index++)
		if (!manifest.blocks[index].is_hole() && !test_bit(present, index) &&
		    siblings.find(index, manifest.blocks[index].plain_hash, manifest.plain_size(index)))
			found++;
	if (found > 0)
		log_info("cache " + cache_dir.string() + ": other images' caches hold " + std::to_string(found) +
			 " blocks of this image; they are copied from there when needed, not downloaded");
	return siblings;
}

std::optional<SiblingBlocks::Source> SiblingBlocks::find(uint64_t block, const Sha256& plain_hash,
							 uint32_t plain_size) const
{
	if (images_.empty() || forgotten_.count(block))
		return std::nullopt;
	const uint64_t key = key_of(plain_hash);
	for (const Image& image : images_) {
		auto [first, last] = std::equal_range(image.entries.begin(), image.entries.end(), Entry{key, 0});
		for (auto entry = first; entry != last; ++entry) {
			const uint64_t offset = entry->index * image.block_size;
			const uint64_t size = std::min<uint64_t>(image.block_size, image.image_size - offset);
			if (size == plain_size)
				return Source{image.data.get(), offset, plain_size};
		}
	}
	return std::nullopt;
}

} // namespace httpcloop
