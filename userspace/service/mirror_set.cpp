#include "service/mirror_set.hpp"

#include <algorithm>
#include <limits>

namespace httpcloop {

namespace {
// Failures in a row before a mirror is benched, and how long the bench lasts at first and
// at most (it doubles with each further failure).
constexpr unsigned kFailuresBeforeBench = 2;
constexpr auto kFirstBench = std::chrono::seconds(1);
constexpr auto kLongestBench = std::chrono::seconds(60);
// Smoothing of the latency estimate (weight of the newest sample).
constexpr double kLatencyWeight = 0.2;
// A mirror nobody measured yet: assume it is as good as a fast one, so it gets tried.
constexpr double kUnmeasuredLatencyMs = 1.0;
} // namespace

MirrorSet::MirrorSet(std::vector<std::string> base_urls)
{
	for (std::string& url : base_urls)
		mirrors_.push_back({std::move(url), {}, 0, 0, {}, false});
}

std::optional<size_t> MirrorSet::choose(const std::vector<bool>& excluded, Clock::time_point now) const
{
	std::optional<size_t> best;
	double best_score = std::numeric_limits<double>::infinity();
	std::optional<size_t> soonest_benched;
	for (size_t i = 0; i < mirrors_.size(); i++) {
		if (i < excluded.size() && excluded[i])
			continue;
		const Mirror& mirror = mirrors_[i];
		if (mirror.benched_until > now) {
			if (!soonest_benched || mirror.benched_until < mirrors_[*soonest_benched].benched_until)
				soonest_benched = i;
			continue;
		}
		// Expected wait: its latency, times the transfers already queued on it.
		double latency = mirror.stats.requests > mirror.stats.errors ? mirror.stats.latency_ms : kUnmeasuredLatencyMs;
		double score = std::max(latency, kUnmeasuredLatencyMs) * (1 + mirror.active);
		if (score < best_score) {
			best_score = score;
			best = i;
		}
	}
	// Every usable mirror is benched: try the one whose bench ends first rather than none.
	return best ? best : soonest_benched;
}

void MirrorSet::started(size_t mirror)
{
	mirrors_[mirror].active++;
	mirrors_[mirror].stats.requests++;
}

void MirrorSet::record_success(size_t index, uint64_t bytes, std::chrono::duration<double> elapsed)
{
	Mirror& mirror = mirrors_[index];
	mirror.active = mirror.active > 0 ? mirror.active - 1 : 0;
	mirror.consecutive_failures = 0;
	mirror.benched_until = {};
	mirror.stats.bytes += bytes;
	const double sample = elapsed.count() * 1000.0;
	const bool first = mirror.stats.latency_ms == 0;
	mirror.stats.latency_ms = first ? sample : (1 - kLatencyWeight) * mirror.stats.latency_ms + kLatencyWeight * sample;
}

void MirrorSet::record_failure(size_t index, Clock::time_point now)
{
	Mirror& mirror = mirrors_[index];
	mirror.active = mirror.active > 0 ? mirror.active - 1 : 0;
	mirror.stats.errors++;
	if (++mirror.consecutive_failures >= kFailuresBeforeBench) {
		unsigned doublings = std::min(mirror.consecutive_failures - kFailuresBeforeBench, 6u);
		auto bench = std::min<Clock::duration>(kFirstBench * (1u << doublings), kLongestBench);
		mirror.benched_until = now + bench;
	}
}

void MirrorSet::remember_redirect(size_t index, const std::string& requested_url, const std::string& effective_url)
{
	Mirror& mirror = mirrors_[index];
	if (mirror.redirect_remembered || requested_url.rfind(mirror.base_url, 0) != 0)
		return;
	const std::string relative = requested_url.substr(mirror.base_url.size());
	if (effective_url.size() <= relative.size() ||
	    effective_url.compare(effective_url.size() - relative.size(), relative.size(), relative) != 0)
		return; // redirected somewhere that does not mirror our layout: keep asking the original
	mirror.base_url = effective_url.substr(0, effective_url.size() - relative.size());
	mirror.redirect_remembered = true;
}

MirrorStats MirrorSet::stats(size_t index, Clock::time_point now) const
{
	MirrorStats stats = mirrors_[index].stats;
	stats.down = mirrors_[index].benched_until > now;
	return stats;
}

} // namespace httpcloop
