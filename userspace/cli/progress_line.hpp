#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace httpcloop::cli {

// A single self-overwriting status line on stderr ("label: 42% 123.4 MB/s"), shown only
// when stderr is a terminal so logs and pipes stay clean.
class ProgressLine {
public:
	explicit ProgressLine(std::string label);
	~ProgressLine();
	ProgressLine(const ProgressLine&) = delete;
	ProgressLine& operator=(const ProgressLine&) = delete;

	// Redraws at most a few times a second.
	void update(uint64_t done, uint64_t total);
	// Erases the line (before the final summary is printed).
	void finish();

private:
	using Clock = std::chrono::steady_clock;
	std::string label_;
	bool enabled_;
	bool drawn_ = false;
	Clock::time_point start_ = Clock::now();
	Clock::time_point last_draw_{};
};

} // namespace httpcloop::cli
