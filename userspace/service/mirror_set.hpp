#pragma once
// The servers an image can be fetched from, and how each has been doing.
//
// Every block is verified, so a mirror that answers wrongly is simply failing: the block is
// fetched elsewhere. The scheduler asks choose() for a mirror for each transfer; the choice
// prefers mirrors that are up, have not failed this block yet, answer fast and are not
// already busy (which spreads load); record_success() / record_failure() keep the score.
// A mirror that fails repeatedly is benched for a growing while and then tried again, so
// the set fails over to the others and back when it recovers.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace httpcloop {

struct MirrorStats {
	uint64_t requests = 0;
	uint64_t bytes = 0;
	uint64_t errors = 0;
	double latency_ms = 0; // smoothed time per transfer
	bool down = false;     // benched now
};

class MirrorSet {
public:
	using Clock = std::chrono::steady_clock;

	explicit MirrorSet(std::vector<std::string> base_urls);

	size_t size() const { return mirrors_.size(); }
	const std::string& base_url(size_t mirror) const { return mirrors_[mirror].base_url; }

	// The mirror to use for a transfer, skipping `excluded` (mirrors that already failed
	// the blocks in question, or do not have them). nullopt when every mirror is excluded.
	std::optional<size_t> choose(const std::vector<bool>& excluded, Clock::time_point now) const;

	void started(size_t mirror);
	void record_success(size_t mirror, uint64_t bytes, std::chrono::duration<double> elapsed);
	void record_failure(size_t mirror, Clock::time_point now);
	// A redirect that kept the relative path: later requests go straight to the new base.
	void remember_redirect(size_t mirror, const std::string& requested_url, const std::string& effective_url);

	MirrorStats stats(size_t mirror, Clock::time_point now) const;

private:
	struct Mirror {
		std::string base_url;
		MirrorStats stats;
		unsigned active = 0;
		unsigned consecutive_failures = 0;
		Clock::time_point benched_until{};
		bool redirect_remembered = false;
	};
	std::vector<Mirror> mirrors_;
};

} // namespace httpcloop
