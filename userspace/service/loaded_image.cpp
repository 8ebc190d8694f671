#include "service/loaded_image.hpp"

#include "fetch/load_verified.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace httpcloop {

LoadedImage load_image(const std::vector<std::string>& locations, const TrustOptions& trust)
{
	std::string errors;
	for (const std::string& location : locations) {
		try {
			VerifiedManifest verified = load_verified_manifest(location, trust);
			return LoadedImage{Manifest::parse(verified.bytes), verified.id};
		} catch (const TrustError&) {
			throw; // a manifest that fails its check is an attack or a mistake, not an outage
		} catch (const Error& e) {
			if (locations.size() == 1)
				throw;
			log_warning(std::string("manifest: ") + e.what() + "; trying the next mirror");
			errors += std::string("\n  ") + e.what();
		}
	}
	throw Error("no mirror served the manifest:" + errors);
}

} // namespace httpcloop
