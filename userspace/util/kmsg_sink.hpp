#pragma once
// Logging to the kernel log (/dev/kmsg), for a daemon started from an initramfs: there is
// no syslog there, and after switch_root no path of the initramfs leads anywhere. The
// kernel log is there from the first second to power-off, on the console and in the
// journal once the system has one.

namespace httpcloop {

// Opens /dev/kmsg now (the descriptor is kept) and sends every later log line there as
// one record, "httpcloop[PID]: ..." at the matching priority. Returns false, and leaves
// logging as it was, if /dev/kmsg cannot be opened.
bool route_log_to_kernel_log();

} // namespace httpcloop
