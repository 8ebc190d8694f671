#include "util/syslog_sink.hpp"

#include "util/log.hpp"

#include <syslog.h>

namespace httpcloop {

void route_log_to_syslog()
{
	openlog("httpcloop", LOG_PID, LOG_DAEMON);
	set_log_sink([](LogLevel level, std::string_view message) {
		int priority = level == LogLevel::error ? LOG_ERR : level == LogLevel::warning ? LOG_WARNING : LOG_INFO;
		syslog(priority, "%.*s", static_cast<int>(message.size()), message.data());
	});
}

} // namespace httpcloop
