#include "util/log.hpp"

#include <cstdio>
#include <string>

namespace httpcloop {

namespace {

LogSink& current_sink()
{
	static LogSink sink;
	return sink;
}

std::string_view level_prefix(LogLevel level)
{
	switch (level) {
	case LogLevel::info:
		return "";
	case LogLevel::warning:
		return "warning: ";
	case LogLevel::error:
		return "error: ";
	}
	return "";
}

} // namespace

void set_log_sink(LogSink sink)
{
	current_sink() = std::move(sink);
}

void log_message(LogLevel level, std::string_view message)
{
	if (const LogSink& sink = current_sink()) {
		sink(level, message);
		return;
	}
	std::string line = "httpcloop: ";
	line += level_prefix(level);
	line += message;
	line += '\n';
	// One fwrite per line so lines from several threads do not interleave mid-line.
	std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace httpcloop
