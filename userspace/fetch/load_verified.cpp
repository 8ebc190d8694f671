#include "fetch/load_verified.hpp"

#include "fetch/http_get.hpp"
#include "trust/signature_file.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>

namespace httpcloop {

namespace {

// A little more than a signature file, so that a longer one is reported as such.
constexpr size_t kMaxSignatureBytes = 4096;

// The signature of a local image, or empty if there is none.
std::vector<uint8_t> read_local_signature(const std::string& location)
{
	std::string path = location.starts_with("file://") ? location.substr(7) : location;
	struct stat status{};
	if (::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode))
		path += "/manifest";
	path += ".sig";
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return {};
		throw_errno("cannot open " + path);
	}
	UniqueFd owner(fd);
	std::vector<uint8_t> bytes(kMaxSignatureBytes + 1);
	bytes.resize(pread_full(fd, bytes, 0, path));
	return bytes;
}

std::vector<uint8_t> fetch_signature(const std::string& location, const std::string& ca_file)
{
	if (!is_http_url(location))
		return read_local_signature(location);
	const std::string url = join_url(location, "manifest.sig");
	try {
		return http_get(url, kMaxSignatureBytes + 1, ca_file);
	} catch (const HttpError& error) {
		// A 404 means "not signed", which verification reports with its own advice;
		// any other failure (network, 500) is not the signer's fault: say so.
		if (std::string_view(error.what()).find("HTTP status 404") != std::string_view::npos)
			return {};
		throw;
	}
}

} // namespace

VerifiedManifest load_verified_manifest(const std::string& location, const TrustOptions& trust)
{
	PinnedLocation pinned = parse_pinned_location(location);
	TrustOptions options = trust;
	options.pinned_sha256 = merge_pins(pinned.pinned_sha256, trust.pinned_sha256);

	VerifiedManifest result;
	result.location = pinned.location;
	result.bytes = load_manifest_bytes(pinned.location, options.ca_file);
	std::vector<uint8_t> signature;
	if (options.pubkey)
		signature = fetch_signature(pinned.location, options.ca_file);
	verify_manifest_bytes(result.bytes, signature, options, "manifest of " + pinned.location);
	result.id = sha256(result.bytes);
	return result;
}

} // namespace httpcloop
