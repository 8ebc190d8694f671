#pragma once
// Minimal logging. Library code reports recoverable surprises (a cache record that had to
// be discarded, ...) here; the process decides where they go (stderr by default, the
// daemon may route them to syslog, tests capture them).

#include <functional>
#include <string>
#include <string_view>

namespace httpcloop {

enum class LogLevel { info, warning, error };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

// Replaces the sink; an empty function restores the default (stderr). Not thread-safe:
// call it at start-up, before other threads log.
void set_log_sink(LogSink sink);

void log_message(LogLevel level, std::string_view message);
inline void log_info(std::string_view message) { log_message(LogLevel::info, message); }
inline void log_warning(std::string_view message) { log_message(LogLevel::warning, message); }
inline void log_error(std::string_view message) { log_message(LogLevel::error, message); }

} // namespace httpcloop
