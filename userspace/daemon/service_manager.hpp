#pragma once
// Telling a service manager (systemd's Type=notify, sd_notify(3)) that a device or mount is
// ready to use. Nothing happens when no manager asked for it (no $NOTIFY_SOCKET).

#include <string_view>
#include <sys/types.h>

namespace httpcloop {

// Sends READY=1, STATUS=`status` and MAINPID=`main_pid` (the process that stays: the
// supervisor of an attached device, the FUSE daemon after it went to the background; the
// unit needs NotifyAccess=all, as the sender is not the process systemd started).
// Returns false if a manager asked and could not be told (logged as a warning).
bool notify_ready(std::string_view status, pid_t main_pid);

} // namespace httpcloop
