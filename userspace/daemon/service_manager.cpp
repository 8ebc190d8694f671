#include "daemon/service_manager.hpp"

#include "util/log.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <systemd/sd-daemon.h>

namespace httpcloop {

bool notify_ready(std::string_view status, pid_t main_pid)
{
	if (!std::getenv("NOTIFY_SOCKET"))
		return true;
	std::string text(status);
	std::erase(text, '\n'); // one line: a newline would end the STATUS= field
	const std::string state = "READY=1\nSTATUS=" + text + "\nMAINPID=" + std::to_string(main_pid);
	const int sent = sd_notify(0, state.c_str());
	if (sent > 0)
		return true;
	log_warning("cannot tell the service manager that we are ready: " +
		    std::string(sent < 0 ? std::strerror(-sent) : "no NOTIFY_SOCKET"));
	return false;
}

} // namespace httpcloop
