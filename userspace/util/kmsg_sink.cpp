#include "util/kmsg_sink.hpp"

#include "util/fd.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <memory>
#include <string>
#include <unistd.h>

namespace httpcloop {

namespace {
// The kernel truncates longer records; keep each within one.
constexpr size_t kMaxRecordBytes = 900;
// syslog priorities as /dev/kmsg takes them ("<N>" before the text): facility daemon (3).
constexpr int kFacilityDaemon = 3 << 3;
} // namespace

bool route_log_to_kernel_log()
{
	auto kmsg = std::make_shared<UniqueFd>(::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY));
	if (!*kmsg)
		return false;
	const std::string prefix = "httpcloop[" + std::to_string(::getpid()) + "]: ";
	set_log_sink([kmsg, prefix](LogLevel level, std::string_view message) {
		const int severity = level == LogLevel::error ? 3 : level == LogLevel::warning ? 4 : 6;
		std::string record = "<" + std::to_string(kFacilityDaemon | severity) + ">" + prefix;
		record.append(message.substr(0, kMaxRecordBytes));
		record += '\n';
		// One write is one record; a lost log line is not worth failing the daemon for.
		[[maybe_unused]] ssize_t n = ::write(kmsg->get(), record.data(), record.size());
	});
	return true;
}

} // namespace httpcloop
