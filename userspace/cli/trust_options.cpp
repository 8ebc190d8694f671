#include "cli/trust_options.hpp"

#include "cli/cli_support.hpp"

namespace httpcloop::cli {

bool apply_trust_option(int value, const char* argument, TrustOptions& trust)
{
	switch (value) {
	case kOptionPubkey:
		trust.load_pubkey(argument);
		return true;
	case kOptionSha256:
		try {
			trust.pinned_sha256 = parse_sha256_hex(argument, "--sha256");
		} catch (const Error& error) {
			throw UsageError(error.what());
		}
		return true;
	case kOptionCacert:
		trust.ca_file = argument;
		return true;
	default:
		return false;
	}
}

} // namespace httpcloop::cli
