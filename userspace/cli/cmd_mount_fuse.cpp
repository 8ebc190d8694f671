#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/serve_options.hpp"
#include "fuse/mount_fuse.hpp"

namespace httpcloop::cli {

const std::string_view mount_fuse_help =
	"Usage: httpcloop mount-fuse [OPTIONS] URL MOUNTPOINT\n"
	"\n"
	"Serve the image published at URL as MOUNTPOINT/image, a read-only file of the\n"
	"image's size, through FUSE: the classic HTTP-FUSE CLOOP data path, for machines\n"
	"where the httpcloop kernel module cannot be loaded. Mount the file system inside\n"
	"with `mount -o loop,ro MOUNTPOINT/image DIR` (or `losetup -r`). Blocks are fetched,\n"
	"verified and cached exactly as `attach` does, in the same cache directory.\n"
	"Stop it with `umount MOUNTPOINT` (or `fusermount3 -u`) or SIGTERM.\n"
	"\n"
	"Once every block is cached (after `httpcloop prefetch`, say), the next open of\n"
	"MOUNTPOINT/image reads the cache file in the kernel, not through this program (FUSE\n"
	"passthrough: Linux 6.9 or later, libfuse 3.16 or later, run as root); `httpcloop\n"
	"status MOUNTPOINT` shows whether it is on, and why not.\n"
	"\n"
	"Options:\n" HTTPCLOOP_SERVE_OPTIONS_HELP
	"  --no-passthrough   serve every read through this program, never FUSE passthrough\n"
	"  -h, --help         show this help\n";

namespace {
enum { kNoPassthrough = 1200 };
} // namespace

int run_mount_fuse(int argc, char** argv)
{
	static const std::vector<option> long_options = serve_long_options({
		{"no-passthrough", no_argument, nullptr, kNoPassthrough},
		{"help", no_argument, nullptr, 'h'},
	});
	MountFuseOptions options;
	std::optional<int> first_operand =
		parse_options(argc, argv, "h", long_options.data(), mount_fuse_help,
			      [&](int value, const char* argument) {
				      if (value == kNoPassthrough)
					      options.no_passthrough = true;
				      else
					      apply_serve_option(value, argument, options.serve);
			      });
	if (!first_operand)
		return kExitOk;
	if (argc - *first_operand != 2)
		throw UsageError("expected a URL and a mount point, got " + std::to_string(argc - *first_operand) +
				 " operands");
	options.serve.url = argv[*first_operand];
	options.mountpoint = argv[*first_operand + 1];
	return httpcloop::run_mount_fuse(options);
}

} // namespace httpcloop::cli
