#pragma once
// Sends log lines to syslog: for a daemon that has left its terminal.

namespace httpcloop {

void route_log_to_syslog();

} // namespace httpcloop
