#pragma once
// The command-line options of ServeOptions, shared by `attach` and `mount-fuse`.

#include "service/serve_options.hpp"

#include <getopt.h>
#include <string_view>
#include <vector>

namespace httpcloop::cli {

// The lines of --help that describe them (a literal, so help texts stay constants).
#define HTTPCLOOP_SERVE_OPTIONS_HELP \
	"  --cache DIR        cache directory (default /var/cache/httpcloop); attach and\n" \
	"                     mount-fuse share it, so either reuses what the other fetched\n" \
	"  --foreground       stay in the foreground and log to stderr (for supervisors)\n" \
	"  --parallel N       most HTTP transfers at once (default 8)\n" \
	"  --attempts N       tries per block before its reads fail with EIO (default 4)\n" \
	"  --timeout SECONDS  limit for one block transfer (default 60)\n" \
	"  --pubkey FILE      refuse the manifest unless manifest.sig verifies with this\n" \
	"                     Ed25519 public key (PEM, from `httpcloop keygen`)\n" \
	"  --sha256 HEX       refuse the manifest unless its SHA-256 is HEX (also URL#sha256=HEX)\n"

// getopt_long entries for them, followed by `extra` and the terminating entry.
std::vector<option> serve_long_options(std::initializer_list<option> extra);

// Applies one option to `options`; false if `value` is not one of them.
bool apply_serve_option(int value, const char* argument, ServeOptions& options);

} // namespace httpcloop::cli
