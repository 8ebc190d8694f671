#include "boot_format/boot_manifest.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "crypto/ed25519.hpp"
#include "format/manifest.hpp"
#include "fetch/load_verified.hpp"
#include "trust/signature_file.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace httpcloop::cli {

const std::string_view mkboot_help =
	"Usage: httpcloop mkboot --kernel FILE [OPTIONS] OUTDIR\n"
	"\n"
	"Publish a kernel and initrd for httpcloop-boot: copies them into OUTDIR (named by\n"
	"their SHA-256, so caches and CDNs never serve a stale copy) and writes\n"
	"OUTDIR/boot.manifest naming them, their sizes and SHA-256, the kernel command line\n"
	"and, optionally, the root image. Copy OUTDIR to any web server and boot with\n"
	"httpcloop.boot=URL-of-OUTDIR (see scripts/mkpreboot).\n"
	"\n"
	"Options:\n"
	"  --kernel FILE    the kernel image (a bzImage on x86)\n"
	"  --initrd FILE    the initrd (optional)\n"
	"  --cmdline TEXT   the new kernel's command line (printable ASCII, at most 2047 bytes)\n"
	"  --image URL      the root image (its manifest is fetched and hashed; URL#sha256=HEX\n"
	"                   is checked); httpcloop-boot adds root=httpcloop:URL#sha256=HEX to\n"
	"                   the command line unless it has a root= already\n"
	"  --sign KEYFILE   sign the boot manifest (writes OUTDIR/boot.manifest.sig)\n"
	"  -h, --help       show this help\n";

namespace {

constexpr uint64_t kCopyChunk = 1 << 20;

// Copies `source` to OUTDIR/<prefix>-<first 16 hex digits of its SHA-256>; returns the entry.
BootFile publish_file(const std::string& source, const std::filesystem::path& outdir, const std::string& prefix,
		      uint64_t limit)
{
	UniqueFd in = open_or_throw(source, O_RDONLY);
	struct stat status{};
	if (::fstat(in.get(), &status) != 0)
		throw_errno("cannot stat " + source);
	if (!S_ISREG(status.st_mode))
		throw Error(source + " is not a regular file");
	if (status.st_size == 0 || static_cast<uint64_t>(status.st_size) > limit)
		throw Error(source + " is " + std::to_string(status.st_size) + " bytes: empty or above the limit of " +
			    std::to_string(limit));
	const std::filesystem::path temporary = outdir / ("." + prefix + ".tmp." + std::to_string(::getpid()));
	Sha256Hasher hasher;
	uint64_t size = 0;
	{
		UniqueFd out = open_or_throw(temporary.string(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		try {
			std::vector<uint8_t> buffer(kCopyChunk);
			for (;;) {
				size_t n = pread_full(in.get(), buffer, size, source);
				if (n == 0)
					break;
				std::span<const uint8_t> piece(buffer.data(), n);
				hasher.update(piece);
				pwrite_all(out.get(), piece, size, temporary.string());
				size += n;
			}
			if (::fsync(out.get()) != 0)
				throw_errno("cannot sync " + temporary.string());
		} catch (...) {
			::unlink(temporary.c_str());
			throw;
		}
	}
	BootFile file;
	file.sha256 = hasher.final();
	file.size = size;
	file.path = prefix + "-" + to_hex(file.sha256).substr(0, 16);
	if (size == 0 || size > limit) {
		::unlink(temporary.c_str());
		throw Error(source + " changed while it was copied");
	}
	if (::rename(temporary.c_str(), (outdir / file.path).c_str()) != 0)
		throw_errno("cannot rename " + temporary.string());
	return file;
}

std::span<const uint8_t> as_bytes(const std::string& text)
{
	return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

} // namespace

int run_mkboot(int argc, char** argv)
{
	enum { kKernel = 1000, kInitrd, kCmdline, kImage, kSign };
	static const option long_options[] = {
		{"kernel", required_argument, nullptr, kKernel},
		{"initrd", required_argument, nullptr, kInitrd},
		{"cmdline", required_argument, nullptr, kCmdline},
		{"image", required_argument, nullptr, kImage},
		{"sign", required_argument, nullptr, kSign},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	std::string kernel, initrd, image, sign;
	std::string cmdline;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, mkboot_help, [&](int value, const char* argument) {
			switch (value) {
			case kKernel: kernel = argument; break;
			case kInitrd: initrd = argument; break;
			case kCmdline: cmdline = argument; break;
			case kImage: image = argument; break;
			case kSign: sign = argument; break;
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one OUTDIR, got " + std::to_string(argc - *first_operand) + " operands");
	if (kernel.empty())
		throw UsageError("--kernel FILE is required");
	const std::filesystem::path outdir = argv[*first_operand];

	// Everything that can be refused is checked before anything is written.
	std::optional<Ed25519PrivateKey> key;
	if (!sign.empty())
		key = Ed25519PrivateKey::load(sign);
	BootManifest manifest;
	manifest.cmdline = cmdline;
	if (!image.empty()) {
		VerifiedManifest verified = load_verified_manifest(image, TrustOptions{});
		Manifest::parse(verified.bytes); // a boot manifest must not point at garbage
		if (!verified.location.starts_with("http://") && !verified.location.starts_with("https://"))
			throw UsageError("--image needs the http(s) URL the booted system will use, not " + verified.location);
		manifest.image = BootImage{verified.location, verified.id};
	}
	manifest.kernel.path = "kernel"; // placeholders until the copies exist, so that the
	manifest.kernel.size = 1;        // command line and image are checked first
	(void)manifest.serialize();

	std::error_code error;
	std::filesystem::create_directories(outdir, error);
	if (error)
		throw IoError("cannot create " + outdir.string() + ": " + error.message());
	manifest.kernel = publish_file(kernel, outdir, "kernel", BootManifest::kMaxKernelBytes);
	if (!initrd.empty())
		manifest.initrd = publish_file(initrd, outdir, "initrd", BootManifest::kMaxInitrdBytes);
	const std::string text = manifest.serialize();
	BootManifest::parse(as_bytes(text)); // what we publish, we can read back

	const std::filesystem::path signature_path = outdir / "boot.manifest.sig";
	if (key) {
		write_file_atomically(signature_path, sign_file(*key, SignedKind::boot_manifest, as_bytes(text)));
	} else if (::unlink(signature_path.c_str()) == 0) {
		std::printf("removed the old %s (this manifest is not signed)\n", signature_path.c_str());
	}
	write_file_atomically(outdir / "boot.manifest", as_bytes(text));
	std::printf("%s", text.c_str());
	std::printf("boot manifest: %s (sha256 %s)%s\n", (outdir / "boot.manifest").c_str(),
		    to_hex(sha256(as_bytes(text))).c_str(), key ? ", signed" : "");
	return kExitOk;
}

} // namespace httpcloop::cli
