// Where a FUSE mount's control socket is: found from the mount point however the user
// spells it (status and prefetch name it; shell completion adds a trailing slash).
#include "daemon/control_socket.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace httpcloop {
namespace {

TEST(FuseControlSocketTest, TrailingSlashNamesTheSameMount)
{
	EXPECT_EQ(fuse_control_socket_path("/mnt/image"), fuse_control_socket_path("/mnt/image/"));
	EXPECT_EQ(fuse_control_socket_path("/mnt/image"), fuse_control_socket_path("/mnt//image///"));
}

TEST(FuseControlSocketTest, DotsAndRelativePathsNameTheSameMount)
{
	EXPECT_EQ(fuse_control_socket_path("/mnt/image"), fuse_control_socket_path("/mnt/./other/../image"));
	const std::filesystem::path here = std::filesystem::current_path();
	EXPECT_EQ(fuse_control_socket_path(here / "mnt"), fuse_control_socket_path("mnt/"));
}

TEST(FuseControlSocketTest, DifferentMountsHaveDifferentSockets)
{
	EXPECT_NE(fuse_control_socket_path("/mnt/a"), fuse_control_socket_path("/mnt/b"));
	EXPECT_NE(fuse_control_socket_path("/"), fuse_control_socket_path("/mnt"));
}

} // namespace
} // namespace httpcloop
