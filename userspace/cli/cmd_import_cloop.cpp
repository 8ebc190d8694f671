#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/image_options.hpp"
#include "cli/progress_line.hpp"
#include "cli/published_manifest.hpp"
#include "cloop/import_cloop.hpp"
#include "util/hex.hpp"
#include "util/human_size.hpp"

#include <cstdio>

namespace httpcloop::cli {

const std::string_view import_cloop_help =
	"Usage: httpcloop import-cloop [OPTIONS] FILE OUTDIR\n"
	"\n"
	"Turn a cloop file (the compressed loop images of KNOPPIX and HTTP-FUSE CLOOP;\n"
	"formats 2.0 and 4.0, header first or last; blocks in zlib, none, xz, lz4 or lzo1x)\n"
	"into a published image in OUTDIR, as mkimage does, reading one cloop block at a\n"
	"time: the uncompressed image is never written out. Every block is decoded, so a\n"
	"damaged file is found now. With the zlib codec and the cloop file's block size,\n"
	"its zlib blocks are kept byte for byte; every other block is compressed anew. The\n"
	"image is the cloop device's size (its block size times its block count). On an\n"
	"error no manifest is written.\n"
	"\n"
	"Options:\n"
	"  -b, --block-size SIZE  block size, a power of two from 64K to 4M (default: the\n"
	"                         cloop file's when it is one of those, else mkimage's)\n"
	"  -c, --codec CODEC      zlib (default: keeps the cloop file's zlib blocks) or\n"
	"                         zstd (compresses every block anew)\n"
	"  -l, --level N          compression level of the blocks compressed anew (default\n"
	"                         6 for zlib, 3 for zstd; zlib 1..9, zstd 1..22)\n"
	"  -p, --pack             one OUTDIR/blocks.pack instead of one file per block\n"
	"  -s, --sign KEYFILE     sign the manifest with this Ed25519 private key\n"
	"  -h, --help             show this help\n";

int run_import_cloop(int argc, char** argv)
{
	static const option long_options[] = {
		{"block-size", required_argument, nullptr, 'b'},
		{"codec", required_argument, nullptr, 'c'},
		{"level", required_argument, nullptr, 'l'},
		{"pack", no_argument, nullptr, 'p'},
		{"sign", required_argument, nullptr, 's'},
		{"help", no_argument, nullptr, 'h'},
		{nullptr, 0, nullptr, 0},
	};
	ImportCloopOptions options;
	std::optional<std::string> level_text;
	std::optional<std::string> sign_key;
	std::optional<int> first_operand = parse_options(
		argc, argv, "b:c:l:ps:h", long_options, import_cloop_help, [&](int value, const char* argument) {
			switch (value) {
			case 'b': options.block_size = parse_block_size_option(argument); break;
			case 'c': options.codec = parse_codec_option(argument); break;
			case 'l': level_text = argument; break; // checked once the codec is known
			case 'p': options.pack = true; break;
			case 's': sign_key = argument; break;
			}
		});
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 2)
		throw UsageError("expected FILE and OUTDIR, got " + std::to_string(argc - *first_operand) + " operands");
	options.source = argv[*first_operand];
	options.output_dir = argv[*first_operand + 1];
	options.level = level_option(level_text, options.codec);
	std::optional<Ed25519PrivateKey> key;
	if (sign_key)
		key = Ed25519PrivateKey::load(*sign_key);

	ProgressLine progress("import-cloop");
	ImportCloopResult result = import_cloop(options, [&](const ImportCloopProgress& state) {
		progress.update(state.bytes_decoded, state.image_size);
	});
	progress.finish();
	std::printf("import-cloop: cloop %d.0, %llu blocks of %s; image %s in %llu blocks of %s, %llu holes; "
		    "%llu zlib blocks kept, %llu compressed anew; %s stored (%llu new block files)\n",
		    result.cloop_version, static_cast<unsigned long long>(result.cloop_blocks),
		    format_bytes(result.cloop_block_size).c_str(), format_bytes(result.manifest.image_size).c_str(),
		    static_cast<unsigned long long>(result.stats.blocks),
		    format_bytes(result.manifest.block_size).c_str(), static_cast<unsigned long long>(result.stats.holes),
		    static_cast<unsigned long long>(result.kept_streams),
		    static_cast<unsigned long long>(result.reencoded_blocks),
		    format_bytes(result.stats.unique_stored_bytes).c_str(),
		    static_cast<unsigned long long>(result.new_block_files));
	if (result.manifest.is_packed())
		std::printf("pack: blocks.pack, %s\n", format_bytes(result.pack_size).c_str());
	std::printf("image id: %s\n", to_hex(result.manifest_id).c_str());
	sign_published_manifest(options.output_dir, key ? &*key : nullptr);
	return kExitOk;
}

} // namespace httpcloop::cli
