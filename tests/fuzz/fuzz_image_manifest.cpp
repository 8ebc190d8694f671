// The binary image manifest: any bytes either parse or throw FormatError, and a parsed
// manifest serializes back to exactly the input (every byte is either checked or covered
// by the checksum).
#include "format/manifest.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	httpcloop::Manifest manifest;
	try {
		manifest = httpcloop::Manifest::parse({data, size});
	} catch (const httpcloop::FormatError&) {
		return 0;
	}
	const std::vector<uint8_t> bytes = manifest.serialize();
	if (bytes.size() != size || std::memcmp(bytes.data(), data, size) != 0)
		std::abort();
	return 0;
}
