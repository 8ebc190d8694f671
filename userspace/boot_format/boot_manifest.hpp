#pragma once
// The boot manifest, BASE/boot.manifest (docs/format.md, "Boot manifest, version 1"):
// a strict, line-based text file naming the kernel, the initrd, the command line and
// their SHA-256, and optionally the root image. Parsed from untrusted bytes, so every
// deviation is an error with its line number, and the size is bounded before parsing.

#include "crypto/sha256.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace httpcloop {

struct BootFile {
	std::string path; // relative to the manifest's base URL, e.g. "kernel-0123abcd"
	uint64_t size = 0;
	Sha256 sha256{};
};

struct BootImage {
	std::string url;      // http(s) base URL of the root image
	Sha256 manifest_sha256{}; // SHA-256 of its manifest (the image id)
};

struct BootManifest {
	static constexpr std::string_view kFirstLine = "httpcloop-boot 1";
	static constexpr size_t kMaxBytes = 64 * 1024;
	static constexpr size_t kMaxLineBytes = 4096;
	// x86's COMMAND_LINE_SIZE is 2048 including the terminating NUL.
	static constexpr size_t kMaxCmdlineBytes = 2047;
	static constexpr uint64_t kMaxKernelBytes = 256ull << 20;
	static constexpr uint64_t kMaxInitrdBytes = 2ull << 30;
	static constexpr size_t kMaxPathBytes = 255;
	static constexpr size_t kMaxUrlBytes = 2048;

	BootFile kernel;
	std::optional<BootFile> initrd;
	std::string cmdline;
	std::optional<BootImage> image;

	// Throws FormatError("invalid boot manifest: line N: …").
	static BootManifest parse(std::span<const uint8_t> bytes);
	// Throws Error if a field would not parse back (bad path, too long, …).
	std::string serialize() const;

	// The command line the new kernel gets: `cmdline`, plus root=httpcloop:URL#sha256=HEX
	// when an image is named and the command line has no root= of its own.
	std::string effective_cmdline() const;
};

// A path as the boot manifest allows it: 1..255 bytes of [A-Za-z0-9._+-] in components
// separated by '/', none empty, "." or "..", not starting with '/'.
bool is_valid_boot_path(std::string_view path);

} // namespace httpcloop
