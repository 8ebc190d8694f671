#include "boot_format/boot_manifest.hpp"

#include "trust/trust.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

#include <charconv>

namespace httpcloop {

namespace {

[[noreturn]] void reject(size_t line, const std::string& message)
{
	throw FormatError("invalid boot manifest: " + (line ? "line " + std::to_string(line) + ": " : std::string()) +
			  message);
}

std::vector<std::string_view> split_spaces(std::string_view text)
{
	std::vector<std::string_view> fields;
	size_t start = 0;
	for (;;) {
		size_t space = text.find(' ', start);
		fields.push_back(text.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
		if (space == std::string_view::npos)
			return fields;
		start = space + 1;
	}
}

bool is_lower_hex(std::string_view text)
{
	for (char c : text)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	return true;
}

Sha256 parse_hash(size_t line, std::string_view text, std::string_view what)
{
	if (text.size() != 64 || !is_lower_hex(text))
		reject(line, std::string(what) + " is not 64 lowercase hex digits");
	return parse_sha256_hex(text, what);
}

uint64_t parse_size(size_t line, std::string_view text, uint64_t limit, std::string_view what)
{
	uint64_t value = 0;
	auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
	if (text.empty() || error != std::errc() || end != text.data() + text.size() || text[0] == '+' ||
	    (text.size() > 1 && text[0] == '0'))
		reject(line, std::string(what) + " size '" + std::string(text.substr(0, 40)) +
				     "' is not a decimal number");
	if (value == 0)
		reject(line, std::string(what) + " size is 0");
	if (value > limit)
		reject(line, std::string(what) + " size " + std::to_string(value) + " is above the limit of " +
				     std::to_string(limit));
	return value;
}

BootFile parse_file(size_t line, const std::vector<std::string_view>& fields, uint64_t limit, std::string_view what)
{
	if (fields.size() != 4)
		reject(line, std::string(what) + " needs PATH SIZE SHA256 (" + std::to_string(fields.size() - 1) +
				     " fields given)");
	if (!is_valid_boot_path(fields[1]))
		reject(line, std::string(what) + " path '" + std::string(fields[1].substr(0, 80)) +
				     "' is not a relative path of [A-Za-z0-9._+-] components");
	return {std::string(fields[1]), parse_size(line, fields[2], limit, what), parse_hash(line, fields[3], what)};
}

bool is_http_url_text(std::string_view url)
{
	return (url.starts_with("http://") && url.size() > 7) || (url.starts_with("https://") && url.size() > 8);
}

bool has_root_parameter(std::string_view cmdline)
{
	// Whole words only: "myroot=" is not "root=".
	for (size_t at = cmdline.find("root="); at != std::string_view::npos; at = cmdline.find("root=", at + 1))
		if (at == 0 || cmdline[at - 1] == ' ')
			return true;
	return false;
}

} // namespace

bool is_valid_boot_path(std::string_view path)
{
	if (path.empty() || path.size() > BootManifest::kMaxPathBytes)
		return false;
	for (std::string_view rest = path;;) {
		size_t slash = rest.find('/');
		std::string_view component = rest.substr(0, slash);
		if (component.empty() || component == "." || component == "..")
			return false;
		for (char c : component)
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '_' || c == '-' || c == '+'))
				return false;
		if (slash == std::string_view::npos)
			return true;
		rest.remove_prefix(slash + 1);
	}
}

BootManifest BootManifest::parse(std::span<const uint8_t> bytes)
{
	if (bytes.size() > kMaxBytes)
		reject(0, std::to_string(bytes.size()) + " bytes is above the limit of " + std::to_string(kMaxBytes));
	if (bytes.empty())
		reject(0, "empty file");
	const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
	if (text.back() != '\n')
		reject(0, "the last line does not end with a newline (truncated?)");

	BootManifest manifest;
	bool have_kernel = false, have_cmdline = false;
	size_t line_number = 0;
	for (size_t start = 0; start < text.size();) {
		const size_t end = text.find('\n', start);
		const std::string_view line = text.substr(start, end - start);
		start = end + 1;
		++line_number;
		if (line.size() > kMaxLineBytes)
			reject(line_number, "longer than " + std::to_string(kMaxLineBytes) + " bytes");
		for (char c : line)
			if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
				reject(line_number, c == '\r' ? std::string("carriage return (use Unix line ends)")
							      : "byte " + std::to_string(static_cast<unsigned char>(c)) +
									" is not printable ASCII");
		if (line_number == 1) {
			if (line != kFirstLine) {
				if (line.starts_with("httpcloop-boot "))
					reject(1, "unsupported version '" + std::string(line.substr(15, 20)) +
							  "' (this httpcloop reads \"" + std::string(kFirstLine) + "\")");
				reject(1, "not a boot manifest (the first line must be \"" + std::string(kFirstLine) + "\")");
			}
			continue;
		}
		if (line.starts_with('#'))
			continue;
		if (line.empty())
			reject(line_number, "empty line");

		const size_t space = line.find(' ');
		const std::string_view key = line.substr(0, space);
		if (key == "cmdline") {
			if (have_cmdline)
				reject(line_number, "cmdline given twice");
			have_cmdline = true;
			manifest.cmdline = space == std::string_view::npos ? std::string() : std::string(line.substr(space + 1));
			if (manifest.cmdline.size() > kMaxCmdlineBytes)
				reject(line_number, "cmdline is longer than " + std::to_string(kMaxCmdlineBytes) + " bytes");
			continue;
		}
		const std::vector<std::string_view> fields = split_spaces(line);
		for (std::string_view field : fields)
			if (field.empty())
				reject(line_number, "fields must be separated by exactly one space");
		if (key == "kernel") {
			if (have_kernel)
				reject(line_number, "kernel given twice");
			have_kernel = true;
			manifest.kernel = parse_file(line_number, fields, kMaxKernelBytes, "kernel");
		} else if (key == "initrd") {
			if (manifest.initrd)
				reject(line_number, "initrd given twice");
			manifest.initrd = parse_file(line_number, fields, kMaxInitrdBytes, "initrd");
		} else if (key == "image") {
			if (manifest.image)
				reject(line_number, "image given twice");
			if (fields.size() != 3)
				reject(line_number, "image needs URL SHA256");
			if (!is_http_url_text(fields[1]) || fields[1].size() > kMaxUrlBytes ||
			    fields[1].find('#') != std::string_view::npos)
				reject(line_number, "image URL must be an http:// or https:// URL without a fragment, at most " +
							    std::to_string(kMaxUrlBytes) + " bytes");
			manifest.image = BootImage{std::string(fields[1]), parse_hash(line_number, fields[2], "image manifest")};
		} else {
			reject(line_number, "unknown key '" + std::string(key.substr(0, 40)) +
						    "' (version 1 knows kernel, initrd, cmdline and image)");
		}
	}
	if (line_number == 0)
		reject(0, "empty file");
	if (!have_kernel)
		reject(0, "no kernel line");
	return manifest;
}

std::string BootManifest::serialize() const
{
	auto file_line = [](std::string_view key, const BootFile& file, uint64_t limit) {
		if (!is_valid_boot_path(file.path))
			throw Error("boot manifest: invalid " + std::string(key) + " path '" + file.path + "'");
		if (file.size == 0 || file.size > limit)
			throw Error("boot manifest: " + std::string(key) + " size " + std::to_string(file.size) +
				    " is 0 or above the limit of " + std::to_string(limit));
		return std::string(key) + " " + file.path + " " + std::to_string(file.size) + " " + to_hex(file.sha256) +
		       "\n";
	};
	std::string text = std::string(kFirstLine) + "\n";
	text += file_line("kernel", kernel, kMaxKernelBytes);
	if (initrd)
		text += file_line("initrd", *initrd, kMaxInitrdBytes);
	for (char c : cmdline)
		if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
			throw Error("boot manifest: the command line may hold printable ASCII only");
	if (cmdline.size() > kMaxCmdlineBytes)
		throw Error("boot manifest: the command line is longer than " + std::to_string(kMaxCmdlineBytes) + " bytes");
	text += "cmdline" + (cmdline.empty() ? std::string() : " " + cmdline) + "\n";
	if (image) {
		if (!is_http_url_text(image->url) || image->url.size() > kMaxUrlBytes ||
		    image->url.find_first_of("# ") != std::string::npos)
			throw Error("boot manifest: the image URL must be an http(s) URL without spaces or a fragment");
		text += "image " + image->url + " " + to_hex(image->manifest_sha256) + "\n";
	}
	if (text.size() > kMaxBytes)
		throw Error("boot manifest: larger than " + std::to_string(kMaxBytes) + " bytes");
	return text;
}

std::string BootManifest::effective_cmdline() const
{
	if (!image || has_root_parameter(cmdline))
		return cmdline;
	std::string root = "root=httpcloop:" + image->url + "#sha256=" + to_hex(image->manifest_sha256);
	return cmdline.empty() ? root : cmdline + " " + root;
}

} // namespace httpcloop
