#pragma once

#include "util/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace httpcloop {

// Replaces `path` with `bytes` so that readers and crashes see either the old file or the
// complete new one: write a temporary file beside it, fsync, rename, fsync the directory.
void write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes, unsigned mode = 0644);

// The same for `name` inside the open directory `directory_fd` (`shown` names it in messages).
void write_file_atomically_at(int directory_fd, const std::string& name, const std::filesystem::path& shown,
			      std::span<const uint8_t> bytes, unsigned mode = 0644);

// A file to be rewritten atomically again and again, inside a directory opened once.
// Writing keeps working when the directory's path no longer leads to it: a daemon serving
// the root file system outlives the initramfs whose paths it was started with (after
// switch_root its "/" is the emptied initramfs), yet its files on /run or a cache disk
// are still there, under the directory it holds open. The file is never followed as a
// symbolic link.
class AnchoredFile {
public:
	AnchoredFile() = default;
	// Opens the directory `path` will be in; throws IoError if it cannot.
	explicit AnchoredFile(const std::filesystem::path& path);
	// The same, with that directory open already as `directory_fd` (duplicated here): for
	// a process whose paths may no longer lead there (a root daemon after switch_root).
	static AnchoredFile in_directory(int directory_fd, const std::filesystem::path& path);

	void write_atomically(std::span<const uint8_t> bytes, unsigned mode = 0644) const;
	// The file's text now (never through a symbolic link); nullopt if it does not exist
	// or is longer than `limit`.
	std::optional<std::string> read(size_t limit) const;
	const std::filesystem::path& path() const { return path_; }
	bool empty() const { return !directory_; }
	int directory_fd() const { return directory_.get(); }

private:
	std::filesystem::path path_;
	std::string name_;
	UniqueFd directory_;
};

} // namespace httpcloop
