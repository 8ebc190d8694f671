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
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

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

UniqueFd connect_client(const std::filesystem::path& path)
{
	UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	sockaddr_un address{};
	address.sun_family = AF_UNIX;
	std::strcpy(address.sun_path, path.c_str());
	EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0) << std::strerror(errno);
	return fd;
}

bool readable_now(int fd)
{
	pollfd pfd{fd, POLLIN, 0};
	return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

// Issue 11, finding 8: a client that connects and says nothing must not hold up the
// daemon's event loop (it used to wait 2 s for it before anything else), nor the clients
// behind it; it stays connected until its time is up.
TEST(ControlServer, ASilentClientHoldsUpNoOne)
{
	test::TempDir dir;
	UniqueFd directory(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ControlServer server = ControlServer::listen_in(directory.get(), "test.sock", dir.path() / "test.sock");
	unsigned answered = 0;
	auto handler = [&](std::string_view request) {
		answered++;
		return "reply to " + std::string(request);
	};

	UniqueFd silent = connect_client(dir.path() / "test.sock");
	UniqueFd talker = connect_client(dir.path() / "test.sock");
	ASSERT_EQ(::send(talker.get(), "status", 6, 0), 6);
	server.serve(handler); // must not block on the silent client
	ASSERT_TRUE(readable_now(talker.get())) << "the client behind a silent one was not answered";
	char reply[64] = {};
	ASSERT_GT(::recv(talker.get(), reply, sizeof(reply) - 1, 0), 0);
	EXPECT_STREQ(reply, "reply to status");
	EXPECT_EQ(answered, 1u);
	EXPECT_EQ(server.fds().size(), 2u) << "the silent client should still wait, polled by the loop";
	EXPECT_FALSE(readable_now(silent.get())) << "the silent client was dropped at once";

	// It speaks after all: answered at the next call.
	ASSERT_EQ(::send(silent.get(), "late", 4, 0), 4);
	server.serve(handler);
	ASSERT_TRUE(readable_now(silent.get()));
	ASSERT_GT(::recv(silent.get(), reply, sizeof(reply) - 1, 0), 0);
	EXPECT_EQ(answered, 2u);
	EXPECT_EQ(server.fds().size(), 1u);
}

TEST(ControlServer, KeepsAtMostAFewSilentClients)
{
	test::TempDir dir;
	UniqueFd directory(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ControlServer server = ControlServer::listen_in(directory.get(), "test.sock", dir.path() / "test.sock");
	std::vector<UniqueFd> clients;
	for (size_t i = 0; i < ControlServer::kMaxPendingClients + 3; i++) {
		clients.push_back(connect_client(dir.path() / "test.sock"));
		server.serve([](std::string_view) { return std::string("x"); });
	}
	EXPECT_EQ(server.fds().size(), ControlServer::kMaxPendingClients + 1);
	// The oldest were dropped: they see the end of the connection.
	char byte;
	EXPECT_EQ(::recv(clients[0].get(), &byte, 1, MSG_DONTWAIT), 0);
	EXPECT_LT(::recv(clients.back().get(), &byte, 1, MSG_DONTWAIT), 0);
}

} // namespace
} // namespace httpcloop
