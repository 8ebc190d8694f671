#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "crypto/ed25519.hpp"
#include "trust/signature_file.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>

namespace httpcloop::cli {

const std::string_view sign_help =
	"Usage: httpcloop sign [--kind KIND] KEYFILE FILE\n"
	"\n"
	"Write FILE.sig, a detached Ed25519 signature of FILE (docs/format.md, \"Signature\n"
	"file\"). mkimage --sign and mkboot --sign do this for their manifests; this command\n"
	"is for what they do not write, such as an InetBoot iscript (iscript=URL is checked\n"
	"against URL.sig when httpcloop.pubkey= is set), or to re-sign a published manifest.\n"
	"\n"
	"Options:\n"
	"  --kind KIND  what FILE is, bound into the signature: boot-script (default),\n"
	"               boot-manifest or image-manifest\n"
	"  -h, --help   show this help\n";

namespace {
constexpr size_t kMaxSignedFileBytes = 512u * 1024 * 1024;
}

int run_sign(int argc, char** argv)
{
	static const option long_options[] = {
		{"kind", required_argument, nullptr, 'k'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	SignedKind kind = SignedKind::boot_script;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, sign_help, [&](int value, const char* argument) {
			if (value != 'k')
				return;
			const std::string_view name = argument;
			if (name == signed_kind_name(SignedKind::boot_script))
				kind = SignedKind::boot_script;
			else if (name == signed_kind_name(SignedKind::boot_manifest))
				kind = SignedKind::boot_manifest;
			else if (name == signed_kind_name(SignedKind::image_manifest))
				kind = SignedKind::image_manifest;
			else
				throw UsageError("unknown --kind '" + std::string(name) +
						 "' (use boot-script, boot-manifest or image-manifest)");
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 2)
		throw UsageError("expected KEYFILE and FILE, got " + std::to_string(argc - *first_operand) + " operands");
	const Ed25519PrivateKey key = Ed25519PrivateKey::load(argv[*first_operand]);
	const std::string path = argv[*first_operand + 1];
	UniqueFd fd = open_or_throw(path, O_RDONLY);
	struct stat status{};
	if (::fstat(fd.get(), &status) != 0)
		throw_errno("cannot stat " + path);
	if (!S_ISREG(status.st_mode))
		throw Error(path + " is not a regular file");
	if (static_cast<uint64_t>(status.st_size) > kMaxSignedFileBytes)
		throw Error(path + " is larger than " + std::to_string(kMaxSignedFileBytes) + " bytes");
	// Sized by the file (one byte more, to notice one that grows meanwhile), not by the limit.
	std::vector<uint8_t> bytes(static_cast<size_t>(status.st_size) + 1);
	bytes.resize(pread_full(fd.get(), bytes, 0, path));
	if (bytes.size() != static_cast<size_t>(status.st_size))
		throw Error(path + " changed while it was read");
	write_file_atomically(path + ".sig", sign_file(key, kind, bytes));
	std::printf("signed: %s.sig (%.*s, key id %s)\n", path.c_str(), static_cast<int>(signed_kind_name(kind).size()),
		    signed_kind_name(kind).data(), to_hex(key_id(key.public_key())).c_str());
	return kExitOk;
}

} // namespace httpcloop::cli
