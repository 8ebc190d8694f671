// The boot manifest: any bytes either parse or throw FormatError; whatever parses must
// serialize and parse back to the same text (the format has one spelling per manifest,
// comments aside).
#include "boot_format/boot_manifest.hpp"
#include "util/error.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	httpcloop::BootManifest manifest;
	try {
		manifest = httpcloop::BootManifest::parse({data, size});
	} catch (const httpcloop::FormatError&) {
		return 0;
	}
	const std::string text = manifest.serialize();
	const httpcloop::BootManifest again =
		httpcloop::BootManifest::parse({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
	if (again.serialize() != text)
		std::abort();
	(void)manifest.effective_cmdline();
	return 0;
}
