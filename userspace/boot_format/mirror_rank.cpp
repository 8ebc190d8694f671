#include "boot_format/mirror_rank.hpp"

#include <algorithm>

namespace httpcloop::boot {

namespace {
constexpr double kNoiseSeconds = 0.05;

bool clearly_faster(double a, double b)
{
	return a * 2 < b && b - a > kNoiseSeconds;
}
} // namespace

std::vector<size_t> rank_sources(const std::vector<std::optional<double>>& seconds)
{
	std::vector<size_t> order;
	for (size_t i = 0; i < seconds.size(); ++i)
		if (seconds[i])
			order.push_back(i);
	// Insertion sort with the "clearly faster" relation: it is not a strict weak order
	// (noise is not transitive), which std::sort needs and this does not. At most 16
	// mirrors, so quadratic is fine.
	for (size_t i = 1; i < order.size(); ++i)
		for (size_t j = i; j > 0 && clearly_faster(*seconds[order[j]], *seconds[order[j - 1]]); --j)
			std::swap(order[j], order[j - 1]);
	return order;
}

} // namespace httpcloop::boot
