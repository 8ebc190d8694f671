#include "service/loaded_image.hpp"

#include "trust/load_verified.hpp"
#include "util/error.hpp"

namespace httpcloop {

LoadedImage load_image(const std::string& location, const TrustOptions& trust)
{
	VerifiedManifest verified = load_verified_manifest(location, trust);
	LoadedImage image{Manifest::parse(verified.bytes), verified.id};
	if (image.manifest.is_packed())
		throw FormatError("this image is packed (blocks.pack), which this version cannot read yet");
	return image;
}

} // namespace httpcloop
