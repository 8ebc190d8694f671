#pragma once
// --pubkey FILE, --sha256 HEX and --cacert FILE, shared by every command that reads a
// manifest.

#include "trust/trust.hpp"

#include <getopt.h>
#include <string_view>

namespace httpcloop::cli {

// getopt_long values for {"pubkey", required_argument, nullptr, kOptionPubkey},
// {"sha256", required_argument, nullptr, kOptionSha256} and
// {"cacert", required_argument, nullptr, kOptionCacert}.
constexpr int kOptionPubkey = 2000;
constexpr int kOptionSha256 = 2001;
constexpr int kOptionCacert = 2002;

// Applies one option to `trust`; false if `value` is not one of ours. Throws UsageError
// for a bad hex pin, Error for a key file that cannot be used.
bool apply_trust_option(int value, const char* argument, TrustOptions& trust);

} // namespace httpcloop::cli
