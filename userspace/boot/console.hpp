#pragma once
// What httpcloop-boot tells the person at the console: one-line messages on stderr (the
// console in an initramfs) and download progress, throttled so that a slow serial
// console is not flooded.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace httpcloop::boot {

void say(std::string_view message);  // "httpcloop-boot: MESSAGE"
void warn(std::string_view message); // "httpcloop-boot: warning: MESSAGE"

class Progress {
public:
	Progress(std::string name, uint64_t total);
	void update(uint64_t done);
	void finish(uint64_t done);

private:
	void print(uint64_t done, bool last);
	std::string name_;
	uint64_t total_;
	std::chrono::steady_clock::time_point start_, last_print_;
};

} // namespace httpcloop::boot
