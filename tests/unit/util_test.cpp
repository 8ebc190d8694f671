#include "cli/cli_support.hpp"
#include "daemon/control_socket.hpp"
#include "test_support.hpp"
#include "util/atomic_file.hpp"
#include "util/bounded_queue.hpp"
#include "util/fd.hpp"
#include "util/hex.hpp"
#include "util/human_size.hpp"
#include "util/small_file.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cstring>
#include <fstream>
#include <thread>
#include <unistd.h>

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

namespace httpcloop {
namespace {

std::string file_text(const std::filesystem::path& path)
{
	std::ifstream file(path);
	return std::string(std::istreambuf_iterator<char>(file), {});
}

std::span<const uint8_t> as_bytes(const std::string& text)
{
	return std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// A root daemon writes its profile after switch_root, when the path it was given leads
// nowhere: the directory opened at start must still be where the file goes.
TEST(AnchoredFile, WritesWhereTheDirectoryIsNowNotWhereItsPathLeads)
{
	test::TempDir dir;
	std::filesystem::create_directory(dir.path() / "before");
	AnchoredFile file(dir.path() / "before" / "boot.profile");
	file.write_atomically(as_bytes("one"));
	EXPECT_EQ(file_text(dir.path() / "before" / "boot.profile"), "one");

	std::filesystem::rename(dir.path() / "before", dir.path() / "after");
	file.write_atomically(as_bytes("two"));
	EXPECT_EQ(file_text(dir.path() / "after" / "boot.profile"), "two");
	EXPECT_FALSE(std::filesystem::exists(dir.path() / "before"));
	// No temporary file is left behind.
	EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() / "after"), {}), 1);
}

TEST(AnchoredFile, NeverFollowsALinkPlantedAtItsTemporaryName)
{
	test::TempDir dir;
	const std::filesystem::path target = dir.path() / "target";
	{
		std::ofstream(target) << "keep";
	}
	AnchoredFile file(dir.path() / "p");
	std::filesystem::create_symlink(target, dir.path() / (".p.tmp." + std::to_string(::getpid())));
	EXPECT_THROW(file.write_atomically(as_bytes("x")), Error);
	EXPECT_EQ(file_text(target), "keep");
}

TEST(AnchoredFile, RefusesAMissingDirectory)
{
	test::TempDir dir;
	EXPECT_THROW(AnchoredFile(dir.path() / "missing" / "p"), Error);
}

TEST(SmallFile, ReadsUpToItsLimitAndRefusesMore)
{
	test::TempDir dir;
	{
		std::ofstream(dir.path() / "ca") << "0123456789";
	}
	EXPECT_EQ(read_small_file(dir.path() / "ca", 10, "CA file"), "0123456789");
	EXPECT_THROW(read_small_file(dir.path() / "ca", 9, "CA file"), Error);
	EXPECT_THROW(read_small_file(dir.path(), 100, "CA file"), Error);        // not a regular file
	EXPECT_THROW(read_small_file(dir.path() / "no", 100, "CA file"), Error); // missing
}

} // namespace
} // namespace httpcloop

namespace httpcloop {
namespace {

// Binds a listening Unix socket at `path` (replacing nothing) and returns it.
UniqueFd bind_socket(const std::filesystem::path& path)
{
	UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	sockaddr_un address{};
	address.sun_family = AF_UNIX;
	std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
	EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
	return fd;
}

// Issue 11, finding 8: after a take-over the newer daemon binds the device's path again;
// the old daemon, exiting, must not remove the newer one's socket.
TEST(ControlServer, RemovesOnlyItsOwnSocketWhenItGoes)
{
	if (::access("/run", W_OK) != 0)
		GTEST_SKIP() << "needs a writable /run (root)";
	test::TempDir dir;
	const std::filesystem::path path = "/run/httpcloop/unit-test-" + std::to_string(::getpid()) + ".sock";
	{
		ControlServer old_server = ControlServer::listen(path);
		// A newer daemon's socket, put in place under the same name.
		UniqueFd newer = bind_socket(dir.path() / "newer.sock");
		std::filesystem::rename(dir.path() / "newer.sock", path);
	}
	EXPECT_TRUE(std::filesystem::exists(path)) << "the old server removed the newer socket";
	std::filesystem::remove(path);
	{
		ControlServer server = ControlServer::listen(path);
	}
	EXPECT_FALSE(std::filesystem::exists(path)) << "the server left its own socket behind";
}

} // namespace
} // namespace httpcloop
