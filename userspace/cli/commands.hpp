#pragma once
// The subcommand table of the `httpcloop` program.

#include <span>
#include <string_view>

namespace httpcloop::cli {

struct Command {
	std::string_view name;
	std::string_view summary; // one line for `httpcloop --help`
	std::string_view help;    // full text for `httpcloop help CMD` and `CMD --help`
	// argv[0] is the command name; returns the process exit status.
	int (*run)(int argc, char** argv);
};

std::span<const Command> commands();
const Command* find_command(std::string_view name);

// One per file, cli/cmd_<name>.cpp.
int run_mkimage(int argc, char** argv);
extern const std::string_view mkimage_help;
int run_import_cloop(int argc, char** argv);
extern const std::string_view import_cloop_help;
int run_info(int argc, char** argv);
extern const std::string_view info_help;
int run_attach(int argc, char** argv);
extern const std::string_view attach_help;
int run_verify(int argc, char** argv);
extern const std::string_view verify_help;
int run_prefetch(int argc, char** argv);
extern const std::string_view prefetch_help;
int run_mount_fuse(int argc, char** argv);
extern const std::string_view mount_fuse_help;
int run_restart(int argc, char** argv);
extern const std::string_view restart_help;
int run_detach(int argc, char** argv);
extern const std::string_view detach_help;
int run_status(int argc, char** argv);
extern const std::string_view status_help;
int run_keygen(int argc, char** argv);
extern const std::string_view keygen_help;
int run_mkboot(int argc, char** argv);
extern const std::string_view mkboot_help;
int run_sign(int argc, char** argv);
extern const std::string_view sign_help;

} // namespace httpcloop::cli
