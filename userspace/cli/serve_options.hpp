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
	"  --deadline SECONDS a block not fetched by then fails, whatever the attempts\n" \
	"                     (default 120; the kernel waits io_timeout, 300, longer)\n" \
	"  --mirror URL       another server with the same image (repeatable): transfers go\n" \
	"                     to the fastest, fail over on errors and stalls, and come back\n" \
	"  --cacert FILE      trust these CA certificates for https:// (default: the system's)\n" \
	"  --no-readahead     fetch only what is read (default: read ahead of sequential reads)\n" \
	"  --prefetch all     fetch the whole image in the background, for offline use\n" \
	"  --profile FILE|URL fetch first, in the background, the blocks a recorded boot read\n" \
	"                     (a profile by URL is only a hint: unusable, it is ignored)\n" \
	"  --record-profile FILE  record the order of first reads (for --profile next time)\n" \
	"  --verify-cache     re-check every cached block's hash first, and fetch bad ones\n" \
	"                     again (for a cache on untrusted storage, such as a USB stick)\n" \
	"  --pubkey FILE      refuse the manifest unless manifest.sig verifies with this\n" \
	"                     Ed25519 public key (PEM, from `httpcloop keygen`)\n" \
	"  --sha256 HEX       refuse the manifest unless its SHA-256 is HEX (also URL#sha256=HEX)\n"

// getopt_long entries for them, followed by `extra` and the terminating entry.
std::vector<option> serve_long_options(std::initializer_list<option> extra);

// Applies one option to `options`; false if `value` is not one of them.
bool apply_serve_option(int value, const char* argument, ServeOptions& options);

} // namespace httpcloop::cli
