#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/trust_options.hpp"
#include "fetch/load_verified.hpp"
#include "fetch/http_get.hpp"
#include "format/manifest.hpp"
#include "image/image_stats.hpp"
#include "util/human_size.hpp"

#include <cstdio>

namespace httpcloop::cli {

const std::string_view info_help =
	"Usage: httpcloop info [--json] URL|DIR\n"
	"\n"
	"Load an image's manifest (from an http(s) base URL, a local image directory, or a\n"
	"manifest file), verify it, and print what it describes: format version, image and\n"
	"block size, codec, block count, holes, unique stored blocks, stored bytes,\n"
	"compression ratio and the image id (SHA-256 of the manifest).\n"
	"\n"
	"Options:\n"
	"  --json             print one JSON object instead, for scripts\n"
	"  --pubkey FILE      refuse the manifest unless manifest.sig verifies with this\n"
	"                     Ed25519 public key (PEM, from `httpcloop keygen`)\n"
	"  --sha256 HEX       refuse the manifest unless its SHA-256 is HEX (also URL#sha256=HEX)\n"
	"  --cacert FILE      trust these CA certificates for https:// (default: the system's)\n"
	"  -h, --help         show this help\n";

namespace {

struct InfoReport {
	const Manifest& manifest;
	const ImageStats& stats;
	const Sha256& image_id;
};

void print_text(const InfoReport& report)
{
	const Manifest& manifest = report.manifest;
	const ImageStats& stats = report.stats;
	auto count = [](uint64_t value) { return static_cast<unsigned long long>(value); };
	std::printf("format version:       %u\n", Manifest::kFormatVersion);
	std::printf("image size:           %llu (%s)\n", count(manifest.image_size), format_bytes(manifest.image_size).c_str());
	std::printf("block size:           %u (%s)\n", manifest.block_size, format_bytes(manifest.block_size).c_str());
	std::printf("codec:                %.*s\n", static_cast<int>(codec_name(manifest.codec).size()),
		    codec_name(manifest.codec).data());
	std::printf("layout:               %s\n", manifest.is_packed() ? "one blocks.pack (HTTP Range requests)" : "one file per block");
	std::printf("blocks:               %llu\n", count(stats.blocks));
	std::printf("holes:                %llu\n", count(stats.holes));
	std::printf("raw blocks:           %llu\n", count(stats.raw_blocks));
	std::printf("unique stored blocks: %llu\n", count(stats.unique_stored_blocks));
	std::printf("stored bytes:         %llu (%s)\n", count(stats.unique_stored_bytes),
		    format_bytes(stats.unique_stored_bytes).c_str());
	std::printf("compression ratio:    %.2f\n", stats.compression_ratio(manifest.image_size));
	std::printf("image id:             %s\n", to_hex(report.image_id).c_str());
}

void print_json(const InfoReport& report)
{
	const Manifest& manifest = report.manifest;
	const ImageStats& stats = report.stats;
	auto count = [](uint64_t value) { return static_cast<unsigned long long>(value); };
	// Every value is a number or a fixed identifier, so nothing needs escaping.
	std::printf("{\"format_version\":%u,\"image_size\":%llu,\"block_size\":%u,\"codec\":\"%.*s\","
		    "\"block_count\":%llu,\"holes\":%llu,\"raw_blocks\":%llu,\"unique_stored_blocks\":%llu,"
		    "\"unique_stored_bytes\":%llu,\"total_stored_bytes\":%llu,\"compression_ratio\":%.4f,"
		    "\"image_id\":\"%s\",\"packed\":%s}\n",
		    Manifest::kFormatVersion, count(manifest.image_size), manifest.block_size,
		    static_cast<int>(codec_name(manifest.codec).size()), codec_name(manifest.codec).data(),
		    count(stats.blocks), count(stats.holes), count(stats.raw_blocks), count(stats.unique_stored_blocks),
		    count(stats.unique_stored_bytes), count(stats.total_stored_bytes),
		    stats.compression_ratio(manifest.image_size), to_hex(report.image_id).c_str(),
		    manifest.is_packed() ? "true" : "false");
}

} // namespace

int run_info(int argc, char** argv)
{
	static const option long_options[] = {
		{"json", no_argument, nullptr, 'J'},
		{"pubkey", required_argument, nullptr, kOptionPubkey},
		{"sha256", required_argument, nullptr, kOptionSha256},
		{"cacert", required_argument, nullptr, kOptionCacert},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	bool json = false;
	TrustOptions trust;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options, info_help, [&](int value, const char* argument) {
			if (value == 'J')
				json = true;
			else
				apply_trust_option(value, argument, trust);
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 1)
		throw UsageError("expected one URL or directory, got " + std::to_string(argc - *first_operand) + " operands");

	const VerifiedManifest verified = load_verified_manifest(argv[*first_operand], trust);
	const Manifest manifest = Manifest::parse(verified.bytes);
	const Sha256 image_id = verified.id;
	const ImageStats stats = compute_stats(manifest);
	const InfoReport report{manifest, stats, image_id};
	if (json)
		print_json(report);
	else
		print_text(report);
	return kExitOk;
}

} // namespace httpcloop::cli
