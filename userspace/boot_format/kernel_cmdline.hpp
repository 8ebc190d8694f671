#pragma once
// The kernel command line, split as the kernel splits it (lib/cmdline.c next_arg():
// whitespace separates parameters, double quotes group, and the quotes are dropped), and
// the preboot parameters read from it (docs/format.md, "Preboot parameters").

#include "crypto/sha256.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace httpcloop {

struct KernelParameter {
	std::string key;
	std::optional<std::string> value; // nullopt for a bare flag ("quiet")
};

// Never throws: any byte string splits into parameters. An unterminated quote runs to the
// end, as in the kernel; NUL bytes end the line.
std::vector<KernelParameter> split_kernel_cmdline(std::string_view text);

enum class FailureAction { exit, shell, reboot, poweroff };
enum class NetworkMode { automatic, dhcp, none };

struct BootParameters {
	std::optional<std::string> boot_url; // httpcloop.boot= (or InetBoot's httpfuse=)
	std::vector<std::string> mirrors;    // httpcloop.mirror=, in order
	std::optional<std::string> pubkey;   // httpcloop.pubkey=: a path, or the base64 of a PEM public key's body
	std::optional<Sha256> sha256;        // httpcloop.sha256=: pin of the boot manifest
	std::optional<std::string> iscript;  // InetBoot's iscript=URL[#sha256=HEX]
	std::optional<std::string> cache;    // httpcloop.cache=DIR|/dev/NODE|LABEL=…|UUID=…
	std::optional<FailureAction> on_fail; // httpcloop.onfail=
	unsigned fail_delay_s = 30;          // httpcloop.delay= (before reboot/poweroff)
	NetworkMode network = NetworkMode::automatic; // httpcloop.net=
	unsigned timeout_s = 30;             // httpcloop.timeout=: connect and stall limit
	unsigned retries = 2;                // httpcloop.retries=: tries per mirror and file
	std::optional<std::string> cafile;   // httpcloop.cafile=
	bool from_httpfuse = false;          // boot_url came from httpfuse=

	// Notes for the console: parameters that were ignored and why.
	std::vector<std::string> warnings;
};

// Reads the preboot parameters. Parameters that are not ours are ignored; an unknown
// httpcloop.* key is ignored with a warning (it may be the module's parameter). Throws
// Error for a malformed value of ours or for one given twice with different values
// (which of two pins or keys to believe is not a guess to make), except
// httpcloop.mirror, which repeats.
BootParameters parse_boot_parameters(std::string_view cmdline);

std::optional<FailureAction> failure_action_from_name(std::string_view name);

} // namespace httpcloop
