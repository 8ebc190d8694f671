#include "service/boot_profile.hpp"

#include "util/error.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace httpcloop {

namespace {
constexpr const char* kHeader = "httpcloop-profile 1";
// A profile lists each block once; no image has more blocks than a manifest can hold, so
// a larger file is not a profile.
constexpr std::streamsize kMaxProfileBytes = 128 * 1024 * 1024;
} // namespace

std::string format_profile(const std::string& image_id_hex, const std::vector<uint64_t>& blocks)
{
	std::string text = std::string(kHeader) + "\nimage " + image_id_hex + "\n";
	for (uint64_t block : blocks)
		text += std::to_string(block) + "\n";
	return text;
}

std::vector<uint64_t> parse_profile(const std::string& text, const std::string& image_id_hex)
{
	std::istringstream in(text);
	std::string line;
	if (!std::getline(in, line) || line != kHeader)
		throw FormatError("not an httpcloop boot profile (no '" + std::string(kHeader) + "' line)");
	if (!std::getline(in, line) || line.rfind("image ", 0) != 0)
		throw FormatError("boot profile: no 'image' line");
	if (line.substr(6) != image_id_hex)
		throw FormatError("boot profile was recorded for image " + line.substr(6) + ", not this one (" +
				  image_id_hex + ")");
	std::vector<uint64_t> blocks;
	for (unsigned number = 3; std::getline(in, line); number++) {
		uint64_t block = 0;
		auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), block);
		if (line.empty() || error != std::errc() || end != line.data() + line.size())
			throw FormatError("boot profile line " + std::to_string(number) + ": not a block number");
		blocks.push_back(block);
	}
	return blocks;
}

std::vector<uint64_t> load_profile(const std::filesystem::path& path, const std::string& image_id_hex)
{
	std::error_code error;
	const uintmax_t size = std::filesystem::file_size(path, error);
	if (error)
		throw IoError("cannot read boot profile " + path.native() + ": " + error.message());
	if (size > static_cast<uintmax_t>(kMaxProfileBytes))
		throw FormatError("boot profile " + path.native() + " is too large");
	std::ifstream file(path, std::ios::binary);
	std::string text(static_cast<size_t>(size), '\0');
	if (!file.read(text.data(), static_cast<std::streamsize>(size)))
		throw IoError("cannot read boot profile " + path.native());
	try {
		return parse_profile(text, image_id_hex);
	} catch (const FormatError& e) {
		throw FormatError(path.native() + ": " + e.what());
	}
}

} // namespace httpcloop
