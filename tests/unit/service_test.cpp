// The fetch engine's pure parts: mirror choice and health, boot profiles, and the small
// text formats of the control channel.
#include "service/boot_profile.hpp"
#include "service/mirror_set.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/kv_text.hpp"

namespace httpcloop {
namespace {

using Clock = MirrorSet::Clock;
using namespace std::chrono_literals;

TEST(MirrorSet, PrefersTheFasterAndLessBusyMirror)
{
	MirrorSet mirrors({"http://a/", "http://b/"});
	const auto now = Clock::now();
	const std::vector<bool> none(2, false);
	mirrors.started(0);
	mirrors.record_success(0, 1000, 200ms);
	mirrors.started(1);
	mirrors.record_success(1, 1000, 20ms);
	EXPECT_EQ(mirrors.choose(none, now), 1u);
	// Busy enough, the fast one loses to the idle slow one: load is spread.
	for (int i = 0; i < 12; i++)
		mirrors.started(1);
	EXPECT_EQ(mirrors.choose(none, now), 0u);
	EXPECT_EQ(mirrors.choose({false, true}, now), 0u);
	EXPECT_EQ(mirrors.choose({true, true}, now), std::nullopt);
}

TEST(MirrorSet, BenchesAFailingMirrorAndFailsBack)
{
	MirrorSet mirrors({"http://a/", "http://b/"});
	const std::vector<bool> none(2, false);
	auto now = Clock::now();
	mirrors.started(0);
	mirrors.record_failure(0, now);
	EXPECT_FALSE(mirrors.stats(0, now).down); // one failure is not a pattern
	mirrors.started(0);
	mirrors.record_failure(0, now);
	EXPECT_TRUE(mirrors.stats(0, now).down);
	EXPECT_EQ(mirrors.stats(0, now).errors, 2u);
	EXPECT_EQ(mirrors.choose(none, now), 1u);
	// With the other mirror excluded, the benched one is still better than nothing.
	EXPECT_EQ(mirrors.choose({false, true}, now), 0u);
	// After the bench it is tried again, and a success clears it.
	now += 2s;
	EXPECT_FALSE(mirrors.stats(0, now).down);
	mirrors.started(0);
	mirrors.record_success(0, 10, 1ms);
	mirrors.started(0);
	mirrors.record_failure(0, now);
	EXPECT_FALSE(mirrors.stats(0, now).down);
}

TEST(MirrorSet, RemembersARedirectThatKeepsTheLayout)
{
	MirrorSet mirrors({"http://a/img/", "http://b/img/"});
	mirrors.remember_redirect(0, "http://a/img/blocks/ab/abcd", "http://cdn/x/img/blocks/ab/abcd");
	EXPECT_EQ(mirrors.base_url(0), "http://cdn/x/img/");
	// A redirect to somewhere else entirely is followed, not remembered.
	mirrors.remember_redirect(1, "http://b/img/blocks/ab/abcd", "http://b/error.html");
	EXPECT_EQ(mirrors.base_url(1), "http://b/img/");
}

TEST(BootProfile, RoundTripAndRejections)
{
	const std::string id(64, 'a');
	const std::vector<uint64_t> blocks = {40, 3, 17, 55};
	EXPECT_EQ(parse_profile(format_profile(id, blocks), id), blocks);
	EXPECT_THROW_MESSAGE(parse_profile(format_profile(id, blocks), std::string(64, 'b')), FormatError,
			     "recorded for image");
	EXPECT_THROW_MESSAGE(parse_profile("hello\n", id), FormatError, "not an httpcloop boot profile");
	EXPECT_THROW_MESSAGE(parse_profile("httpcloop-profile 1\nimage " + id + "\n12\nx3\n", id), FormatError,
			     "line 4: not a block number");
	EXPECT_THROW_MESSAGE(parse_profile("httpcloop-profile 1\nimage " + id + "\n-1\n", id), FormatError,
			     "not a block number");
}

TEST(ControlText, KeyValuesAndJson)
{
	KeyValues values = parse_key_values("a=1\nb=x=y\nnoise\n\nc=\n");
	EXPECT_EQ(values["a"], "1");
	EXPECT_EQ(values["b"], "x=y");
	EXPECT_EQ(values["c"], "");
	EXPECT_EQ(values.count("noise"), 0u);
	EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
	EXPECT_EQ(JsonObject().add("n", uint64_t{5}).add("s", "t").add("b", true).add_raw("o", "null").str(),
		  "{\"n\":5,\"s\":\"t\",\"b\":true,\"o\":null}");
}

} // namespace
} // namespace httpcloop
