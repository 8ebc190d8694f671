#include "cli/cli_support.hpp"
#include "test_support.hpp"
#include "util/bounded_queue.hpp"
#include "util/fd.hpp"
#include "util/hex.hpp"
#include "util/human_size.hpp"

#include <fcntl.h>
#include <thread>

namespace httpcloop {
namespace {

TEST(Hex, RoundTrip)
{
	const std::vector<uint8_t> bytes = {0x00, 0x0f, 0xab, 0xff};
	EXPECT_EQ(to_hex(bytes), "000fabff");
	EXPECT_EQ(from_hex("000FABff"), bytes);
	EXPECT_EQ(from_hex("abc"), std::nullopt);
	EXPECT_EQ(from_hex("zz"), std::nullopt);
	EXPECT_EQ(from_hex(""), std::vector<uint8_t>{});
}

TEST(UniqueFd, ClosesAndMoves)
{
	int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(raw, 0);
	{
		UniqueFd first(raw);
		UniqueFd second(std::move(first));
		EXPECT_FALSE(first.valid());
		EXPECT_EQ(second.get(), raw);
	}
	EXPECT_EQ(::fcntl(raw, F_GETFD), -1); // closed
}

TEST(HumanSize, Formats)
{
	EXPECT_EQ(format_bytes(512), "512 B");
	EXPECT_EQ(format_bytes(256 * 1024), "256 KiB");
	EXPECT_EQ(format_bytes(1536 * 1024), "1.5 MiB");
	EXPECT_EQ(format_bytes(uint64_t{100} << 30), "100 GiB");
}

TEST(ParseSize, AcceptsSuffixes)
{
	EXPECT_EQ(cli::parse_size("65536", "size"), 65536u);
	EXPECT_EQ(cli::parse_size("64K", "size"), 65536u);
	EXPECT_EQ(cli::parse_size("256k", "size"), 262144u);
	EXPECT_EQ(cli::parse_size("1M", "size"), 1048576u);
	EXPECT_EQ(cli::parse_size("4MiB", "size"), 4194304u);
	EXPECT_THROW(cli::parse_size("", "size"), cli::UsageError);
	EXPECT_THROW(cli::parse_size("K", "size"), cli::UsageError);
	EXPECT_THROW(cli::parse_size("4X", "size"), cli::UsageError);
	EXPECT_THROW(cli::parse_size("-1", "size"), cli::UsageError);
	EXPECT_THROW(cli::parse_size("99999999999999999999", "size"), cli::UsageError);
	EXPECT_EQ(cli::parse_integer("7", 1, 9, "level"), 7);
	EXPECT_THROW_MESSAGE(cli::parse_integer("10", 1, 9, "level"), cli::UsageError, "out of range 1..9");
	EXPECT_THROW(cli::parse_integer("3x", 1, 9, "level"), cli::UsageError);
}

TEST(BoundedQueue, DeliversInOrderAndDrainsAfterClose)
{
	BoundedQueue<int> queue(2);
	std::jthread producer([&] {
		for (int i = 0; i < 100; ++i)
			queue.push(i);
		queue.close();
	});
	int expected = 0;
	while (std::optional<int> item = queue.pop())
		EXPECT_EQ(*item, expected++);
	EXPECT_EQ(expected, 100);
	EXPECT_FALSE(queue.push(1));
}

} // namespace
} // namespace httpcloop
