#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/image_options.hpp"
#include "cli/progress_line.hpp"
#include "cli/published_manifest.hpp"
#include "image/mkimage.hpp"
#include "trust/signature_file.hpp"
#include "util/atomic_file.hpp"
#include "util/human_size.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace httpcloop::cli {

const std::string_view mkimage_help =
	"Usage: httpcloop mkimage [OPTIONS] SRC OUTDIR\n"
	"\n"
	"Build a published image from SRC (a file or a block device): OUTDIR/manifest plus\n"
	"one file per unique stored block under OUTDIR/blocks/. Copy OUTDIR to any static\n"
	"HTTP server. Block files already in OUTDIR are reused, so several images (or\n"
	"versions of one) can share a directory and its storage. OUTDIR/.htaccess tells\n"
	"Apache (and the caches on the way) to keep block files and revalidate the manifest\n"
	"(README: \"Publishing behind caches and CDNs\"); a site's own .htaccess is kept.\n"
	"\n"
	"Options:\n"
	"  -b, --block-size SIZE  block size, a power of two from 64K to 4M (default: 128K up\n"
	"                         to 50 GiB; a larger image gets the smallest size that keeps\n"
	"                         it within 409600 blocks, up to 4M)\n"
	"  -c, --codec CODEC      zstd (default) or zlib\n"
	"  -l, --level N          compression level (default 3 for zstd, 6 for zlib;\n"
	"                         zstd 1..22, zlib 1..9)\n"
	"  -j, --threads N        encoder threads (default: one per core)\n"
	"  -p, --pack             write every stored block into one OUTDIR/blocks.pack\n"
	"                         (fetched with HTTP Range requests) instead of one file\n"
	"                         per block: for servers where many small files are a burden\n"
	"  -s, --sign KEYFILE     sign the manifest with this Ed25519 private key (from\n"
	"                         `httpcloop keygen`): writes OUTDIR/manifest.sig\n"
	"  -h, --help             show this help\n";

namespace {

void print_summary(const MkimageResult& result, double seconds)
{
	const ImageStats& stats = result.stats;
	const uint64_t image_size = result.manifest.image_size;
	std::printf("mkimage: %llu blocks (%s), %llu holes, %llu unique stored blocks (%llu new), "
		    "%s stored, ratio %.2f, %.1f MB/s\n",
		    static_cast<unsigned long long>(stats.blocks), format_bytes(image_size).c_str(),
		    static_cast<unsigned long long>(stats.holes),
		    static_cast<unsigned long long>(stats.unique_stored_blocks),
		    static_cast<unsigned long long>(result.new_block_files), format_bytes(stats.unique_stored_bytes).c_str(),
		    stats.compression_ratio(image_size), seconds > 0 ? static_cast<double>(image_size) / 1e6 / seconds : 0.0);
	if (result.manifest.is_packed())
		std::printf("pack: blocks.pack, %s\n", format_bytes(result.pack_size).c_str());
	std::printf("image id: %s\n", to_hex(result.manifest_id).c_str());
}

} // namespace

int run_mkimage(int argc, char** argv)
{
	static const option long_options[] = {
		{"block-size", required_argument, nullptr, 'b'},
		{"codec", required_argument, nullptr, 'c'},
		{"level", required_argument, nullptr, 'l'},
		{"threads", required_argument, nullptr, 'j'},
		{"pack", no_argument, nullptr, 'p'},
		{"sign", required_argument, nullptr, 's'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	MkimageOptions options;
	std::optional<std::string> level_text;
	std::optional<std::string> sign_key;
	std::optional<int> first_operand =
		parse_options(argc, argv, "b:c:l:j:ps:h", long_options, mkimage_help, [&](int value, const char* argument) {
			switch (value) {
			case 'b': options.block_size = parse_block_size_option(argument); break;
			case 'c': options.codec = parse_codec_option(argument); break;
			case 'l':
				level_text = argument; // checked once the codec is known
				break;
			case 'j':
				options.threads = static_cast<unsigned>(parse_integer(argument, 1, 256, "thread count"));
				break;
			case 'p': options.pack = true; break;
			case 's': sign_key = argument; break;
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 2)
		throw UsageError("expected SRC and OUTDIR, got " + std::to_string(argc - *first_operand) + " operands");
	options.source = argv[*first_operand];
	options.output_dir = argv[*first_operand + 1];
	options.level = level_option(level_text, options.codec);

	// Load the key first: a bad key file must not cost a whole image build.
	std::optional<Ed25519PrivateKey> key;
	if (sign_key)
		key = Ed25519PrivateKey::load(*sign_key);

	ProgressLine progress("mkimage");
	const auto start = std::chrono::steady_clock::now();
	MkimageResult result = make_image(options, [&](const MkimageProgress& state) {
		progress.update(state.bytes_read, state.total_bytes);
	});
	progress.finish();
	print_summary(result, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
	sign_published_manifest(options.output_dir, key ? &*key : nullptr);
	return kExitOk;
}

} // namespace httpcloop::cli
