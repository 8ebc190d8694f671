#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "crypto/ed25519.hpp"
#include "trust/signature_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <span>
#include <sys/stat.h>
#include <unistd.h>

namespace httpcloop::cli {

const std::string_view keygen_help =
	"Usage: httpcloop keygen [--force] KEYFILE\n"
	"\n"
	"Generate an Ed25519 key pair for signing manifests: KEYFILE (private, PKCS#8 PEM,\n"
	"mode 0600) and KEYFILE.pub (public, SubjectPublicKeyInfo PEM). Keep KEYFILE where\n"
	"images are built; give KEYFILE.pub to clients (--pubkey, httpcloop.pubkey=). The\n"
	"openssl tools read both (openssl pkey -in KEYFILE -text).\n"
	"\n"
	"Options:\n"
	"  --force     replace existing files\n"
	"  -h, --help  show this help\n";

namespace {

void write_new_file(const std::string& path, const std::string& text, unsigned mode, bool force)
{
	// O_EXCL unless forced: never overwrite a signing key by accident.
	int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
	UniqueFd fd = open_or_throw(path, flags, mode);
	if (::fchmod(fd.get(), mode) != 0) // an existing file keeps its mode otherwise
		throw_errno("cannot set the mode of " + path);
	pwrite_all(fd.get(), std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 0, path);
	if (::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0 || ::fsync(fd.get()) != 0)
		throw_errno("cannot write " + path);
}

} // namespace

int run_keygen(int argc, char** argv)
{
	static const option long_options[] = {
		{"force", no_argument, nullptr, 'f'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	bool force = false;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, keygen_help, [&](int value, const char*) {
			if (value == 'f')
				force = true;
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one KEYFILE, got " + std::to_string(argc - *first_operand) + " operands");
	const std::string path = argv[*first_operand];
	const Ed25519PrivateKey key = Ed25519PrivateKey::generate();
	const Ed25519PublicKey public_key = key.public_key();
	write_new_file(path, key.to_pem(), 0600, force);
	write_new_file(path + ".pub", public_key.to_pem(), 0644, force);
	std::printf("private key: %s\npublic key:  %s.pub\nkey id:      %s\n", path.c_str(), path.c_str(),
		    to_hex(key_id(public_key)).c_str());
	return kExitOk;
}

} // namespace httpcloop::cli
