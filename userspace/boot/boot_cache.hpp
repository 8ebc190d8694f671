#pragma once
// Where the preboot keeps downloaded kernels and initrds: a directory on local storage
// (httpcloop.cache=DIR, or a device it mounts: /dev/NODE, LABEL=…, UUID=…), files named
// by their SHA-256. Local storage is not trusted: a cached file is used only after its
// size and SHA-256 are checked again. Without a cache, a scratch directory in RAM.

#include "boot_format/boot_manifest.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace httpcloop::boot {

class BootCache {
public:
	// `spec` as httpcloop.cache= gives it, or nullopt for a RAM-only scratch directory.
	// Never throws for a missing device or a mount failure: warns and uses RAM instead,
	// since booting without a cache beats not booting.
	static BootCache open(const std::optional<std::string>& spec);

	const std::filesystem::path& directory() const { return directory_; }
	bool persistent() const { return persistent_; }

	// The cached copy of `file`, if present with the right size and SHA-256; a copy that
	// fails the check is deleted.
	std::optional<std::filesystem::path> find(const BootFile& file) const;
	// Where a download of `file` goes first, and where it is moved once verified.
	std::filesystem::path temporary_path(const BootFile& file) const;
	std::filesystem::path final_path(const BootFile& file) const;
	// Removes cached files that no longer appear in `keep` (older kernels and initrds).
	void prune(const std::vector<BootFile>& keep) const;

private:
	std::filesystem::path directory_;
	bool persistent_ = false;
};

// SHA-256 and size of a file, read in pieces.
struct FileDigest {
	uint64_t size = 0;
	Sha256 sha256{};
};
FileDigest digest_file(const std::filesystem::path& path);

} // namespace httpcloop::boot
