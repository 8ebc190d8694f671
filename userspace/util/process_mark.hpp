#pragma once
// The mark by which systemd spares a root storage daemon (systemd.io/ROOT_STORAGE_DAEMONS):
// a process run by root whose argv[0] starts with '@' is not killed at switch_root or
// shutdown. Setting it rewrites the first byte of argv[0] in place, as nbd-client's
// -systemd-mark does, so /proc/PID/cmdline shows it; /proc/PID/comm is unchanged.

namespace httpcloop {

// main() hands its argv[0] over before anything else.
void remember_argv0(char* argv0);

// Marks this process with '@'. False if main() never gave argv[0].
bool mark_as_root_storage_daemon();

} // namespace httpcloop
