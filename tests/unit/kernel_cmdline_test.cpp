#include "boot_format/kernel_cmdline.hpp"

#include "test_support.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

namespace httpcloop {
namespace {

TEST(KernelCmdline, SplitsLikeTheKernel)
{
	auto parameters = split_kernel_cmdline("  quiet root=/dev/sda1\tfoo=\"a b  c\" \"bar=x y\" empty= \n");
	ASSERT_EQ(parameters.size(), 5u);
	EXPECT_EQ(parameters[0].key, "quiet");
	EXPECT_FALSE(parameters[0].value);
	EXPECT_EQ(parameters[1].key, "root");
	EXPECT_EQ(*parameters[1].value, "/dev/sda1");
	EXPECT_EQ(parameters[2].key, "foo");
	EXPECT_EQ(*parameters[2].value, "a b  c");
	EXPECT_EQ(parameters[3].key, "bar");
	EXPECT_EQ(*parameters[3].value, "x y");
	EXPECT_EQ(parameters[4].key, "empty");
	EXPECT_EQ(*parameters[4].value, "");
}

TEST(KernelCmdline, OnlyTheFirstEqualsSplitsAndBadBytesAreHarmless)
{
	auto parameters = split_kernel_cmdline("u=http://h/x?a=b \"unterminated=a b");
	ASSERT_EQ(parameters.size(), 2u);
	EXPECT_EQ(*parameters[0].value, "http://h/x?a=b");
	EXPECT_EQ(*parameters[1].value, "a b"); // runs to the end, as in the kernel
	EXPECT_TRUE(split_kernel_cmdline("").empty());
	EXPECT_TRUE(split_kernel_cmdline(std::string_view("\0a=b", 4)).empty());
}

TEST(KernelCmdline, BootParameters)
{
	const std::string hex(64, 'c');
	BootParameters p = parse_boot_parameters(
		"console=ttyS0 httpcloop.boot=http://127.0.0.1:8080/boot/ httpcloop.mirror=http://m1/ "
		"httpcloop.mirror=http://m2/ httpcloop.mirror=http://m1/ httpcloop.sha256=" + hex +
		" httpcloop.pubkey=/etc/key.pub httpcloop.cache=LABEL=CACHE httpcloop.onfail=reboot httpcloop.delay=5 "
		"httpcloop.net=dhcp httpcloop.timeout=7 httpcloop.retries=3 httpcloop.cafile=/ca.pem");
	EXPECT_EQ(*p.boot_url, "http://127.0.0.1:8080/boot/");
	EXPECT_EQ(p.mirrors, (std::vector<std::string>{"http://m1/", "http://m2/"}));
	EXPECT_EQ(to_hex(*p.sha256), hex);
	EXPECT_EQ(*p.pubkey, "/etc/key.pub");
	EXPECT_EQ(*p.cache, "LABEL=CACHE");
	EXPECT_EQ(*p.on_fail, FailureAction::reboot);
	EXPECT_EQ(p.fail_delay_s, 5u);
	EXPECT_EQ(p.network, NetworkMode::dhcp);
	EXPECT_EQ(p.timeout_s, 7u);
	EXPECT_EQ(p.retries, 3u);
	EXPECT_EQ(*p.cafile, "/ca.pem");
	EXPECT_TRUE(p.warnings.empty());
}

TEST(KernelCmdline, QuotedValues)
{
	BootParameters p = parse_boot_parameters("\"httpcloop.boot=http://h/a b/\" httpcloop.cache=\"/mnt/my cache\"");
	EXPECT_EQ(*p.boot_url, "http://h/a b/");
	EXPECT_EQ(*p.cache, "/mnt/my cache");
}

TEST(KernelCmdline, RepeatedKeys)
{
	// The same value twice is fine; two different pins or keys are refused.
	EXPECT_NO_THROW(parse_boot_parameters("httpcloop.boot=http://a/ httpcloop.boot=http://a/"));
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.boot=http://a/ httpcloop.boot=http://b/"), Error,
			     "given twice with different values");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.pubkey=/a httpcloop.pubkey=/b"), Error, "given twice");
}

TEST(KernelCmdline, UnknownKeysWarnOthersAreIgnored)
{
	BootParameters p = parse_boot_parameters("root=/dev/sda httpcloop.dead_timeout=5 httpcloop.boot ro");
	EXPECT_FALSE(p.boot_url);
	ASSERT_EQ(p.warnings.size(), 2u);
	EXPECT_NE(p.warnings[0].find("httpcloop.dead_timeout"), std::string::npos);
	EXPECT_NE(p.warnings[1].find("without a value"), std::string::npos);
}

TEST(KernelCmdline, BadValuesAreErrors)
{
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.boot=ftp://x/"), Error, "http:// or https://");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.sha256=xyz"), Error, "64 hex digits");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.onfail=dance"), Error, "expected shell, reboot");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.timeout=0"), Error, "whole number from 1");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.retries=99"), Error, "whole number from 1 to 20");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.net=wifi"), Error, "auto, dhcp or none");
	EXPECT_THROW_MESSAGE(parse_boot_parameters("httpcloop.pubkey="), Error, "empty");
}

TEST(KernelCmdline, InetBootParameters)
{
	BootParameters p = parse_boot_parameters("httpfuse=http://old/boot/ iscript=http://old/s.sh#sha256=" +
						 std::string(64, '1'));
	EXPECT_EQ(*p.boot_url, "http://old/boot/");
	EXPECT_TRUE(p.from_httpfuse);
	EXPECT_EQ(*p.iscript, "http://old/s.sh#sha256=" + std::string(64, '1'));
	// httpcloop.boot wins over httpfuse, with a note.
	BootParameters both = parse_boot_parameters("httpfuse=http://old/ httpcloop.boot=http://new/");
	EXPECT_EQ(*both.boot_url, "http://new/");
	EXPECT_FALSE(both.from_httpfuse);
	ASSERT_EQ(both.warnings.size(), 1u);
	EXPECT_NE(both.warnings[0].find("ignoring httpfuse="), std::string::npos);
	EXPECT_THROW(parse_boot_parameters("iscript=/local/file"), Error);
}

} // namespace
} // namespace httpcloop

#include "boot_format/mirror_rank.hpp"

namespace httpcloop {
namespace {

TEST(MirrorRank, ReachableFirstClearlyFasterFirstOtherwiseGivenOrder)
{
	using boot::rank_sources;
	EXPECT_EQ(rank_sources({0.010, 0.002, 0.030}), (std::vector<size_t>{0, 1, 2})); // all noise
	EXPECT_EQ(rank_sources({1.0, 0.1, std::nullopt}), (std::vector<size_t>{1, 0}));
	EXPECT_EQ(rank_sources({std::nullopt, 0.5, 0.01}), (std::vector<size_t>{2, 1}));
	EXPECT_EQ(rank_sources({0.3, 0.2, 0.05}), (std::vector<size_t>{2, 0, 1}));
	EXPECT_TRUE(rank_sources({std::nullopt}).empty());
}

} // namespace
} // namespace httpcloop
