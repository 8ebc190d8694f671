#include "boot/console.hpp"

#include <cstdio>

namespace httpcloop::boot {

namespace {
constexpr auto kProgressInterval = std::chrono::seconds(2);

std::string mib(uint64_t bytes)
{
	char text[32];
	std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
	return text;
}
} // namespace

void say(std::string_view message)
{
	std::fprintf(stderr, "httpcloop-boot: %.*s\n", static_cast<int>(message.size()), message.data());
	std::fflush(stderr);
}

void warn(std::string_view message)
{
	std::fprintf(stderr, "httpcloop-boot: warning: %.*s\n", static_cast<int>(message.size()), message.data());
	std::fflush(stderr);
}

Progress::Progress(std::string name, uint64_t total)
	: name_(std::move(name)), total_(total), start_(std::chrono::steady_clock::now()), last_print_(start_)
{
}

void Progress::update(uint64_t done)
{
	if (std::chrono::steady_clock::now() - last_print_ >= kProgressInterval)
		print(done, false);
}

void Progress::finish(uint64_t done)
{
	print(done, true);
}

void Progress::print(uint64_t done, bool last)
{
	last_print_ = std::chrono::steady_clock::now();
	const double seconds = std::chrono::duration<double>(last_print_ - start_).count();
	const double rate = seconds > 0 ? static_cast<double>(done) / seconds / 1e6 : 0.0;
	const unsigned percent = total_ ? static_cast<unsigned>(done * 100 / total_) : 100;
	std::fprintf(stderr, "httpcloop-boot: %s: %3u%% %s of %s, %.1f MB/s%s\n", name_.c_str(), percent,
		     mib(done).c_str(), mib(total_).c_str(), rate, last ? ", done" : "");
	std::fflush(stderr);
}

} // namespace httpcloop::boot
