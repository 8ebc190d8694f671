#include "cli/commands.hpp"

#include <array>

namespace httpcloop::cli {

namespace {

const std::array kCommands = {
	Command{"mkimage", "build a published image (manifest + block files) from a file or block device",
		mkimage_help, run_mkimage},
	Command{"import-cloop", "turn a cloop file (KNOPPIX, HTTP-FUSE CLOOP) into a published image",
		import_cloop_help, run_import_cloop},
	Command{"info", "show what an image's manifest says (size, codec, blocks, dedup, image id)", info_help,
		run_info},
	Command{"attach", "attach an image published over HTTP as /dev/httpcloopN (starts its daemon)",
		attach_help, run_attach},
	Command{"detach", "remove a device and stop its daemon", detach_help, run_detach},
	Command{"restart", "replace a device's running daemon with a new one (an upgrade), no read failing",
		restart_help, run_restart},
	Command{"status", "show devices and FUSE mounts: cache, blocks and bytes fetched, errors", status_help,
		run_status},
	Command{"verify", "check every block of a published image, or of a local cache of it", verify_help,
		run_verify},
	Command{"prefetch", "download the rest of an image in the background, for offline use", prefetch_help,
		run_prefetch},
	Command{"mount-fuse", "serve an image as MOUNTPOINT/image through FUSE (no kernel module needed)",
		mount_fuse_help, run_mount_fuse},
	Command{"keygen", "make an Ed25519 key pair for signing manifests (mkimage/mkboot --sign)", keygen_help,
		run_keygen},
	Command{"mkboot", "publish a kernel and initrd for httpcloop-boot (boot manifest, optionally signed)",
		mkboot_help, run_mkboot},
	Command{"sign", "write FILE.sig, an Ed25519 signature (for an iscript, or to re-sign a manifest)", sign_help,
		run_sign},
};

} // namespace

std::span<const Command> commands()
{
	return kCommands;
}

const Command* find_command(std::string_view name)
{
	for (const Command& command : kCommands)
		if (command.name == name)
			return &command;
	return nullptr;
}

} // namespace httpcloop::cli
