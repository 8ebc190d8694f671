#include "cli/progress_line.hpp"

#include <cstdio>
#include <unistd.h>

namespace httpcloop::cli {

ProgressLine::ProgressLine(std::string label) : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine()
{
	finish();
}

void ProgressLine::update(uint64_t done, uint64_t total)
{
	if (!enabled_)
		return;
	const Clock::time_point now = Clock::now();
	if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && done != total)
		return;
	last_draw_ = now;
	const double seconds = std::chrono::duration<double>(now - start_).count();
	const double megabytes_per_second = seconds > 0 ? static_cast<double>(done) / 1e6 / seconds : 0.0;
	const double percent = total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
	std::fprintf(stderr, "\r\033[K%s: %5.1f%% %8.1f MB/s", label_.c_str(), percent, megabytes_per_second);
	std::fflush(stderr);
	drawn_ = true;
}

void ProgressLine::finish()
{
	if (drawn_) {
		std::fputs("\r\033[K", stderr);
		std::fflush(stderr);
		drawn_ = false;
	}
}

} // namespace httpcloop::cli
