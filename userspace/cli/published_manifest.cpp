#include "cli/published_manifest.hpp"

#include "trust/signature_file.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/hex.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

namespace httpcloop::cli {

void sign_published_manifest(const std::filesystem::path& output_dir, const Ed25519PrivateKey* key)
{
	const std::filesystem::path signature_path = output_dir / "manifest.sig";
	if (!key) {
		if (::unlink(signature_path.c_str()) == 0)
			std::printf("removed the old %s (this manifest is not signed)\n", signature_path.c_str());
		return;
	}
	const std::string manifest_path = (output_dir / "manifest").string();
	UniqueFd fd = open_or_throw(manifest_path, O_RDONLY);
	// Sized from the file (which mkimage just wrote), not the format's 512 MiB limit.
	struct stat status{};
	if (::fstat(fd.get(), &status) != 0)
		throw_errno("cannot stat " + manifest_path);
	std::vector<uint8_t> bytes(static_cast<size_t>(status.st_size));
	pread_exact(fd.get(), bytes, 0, manifest_path);
	write_file_atomically(signature_path, sign_file(*key, SignedKind::image_manifest, bytes));
	std::printf("signed: %s (key id %s)\n", signature_path.c_str(), to_hex(key_id(key->public_key())).c_str());
}

} // namespace httpcloop::cli
