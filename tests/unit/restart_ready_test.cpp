#include "fetch/restart_ready.hpp"

#include "test_support.hpp"
#include "util/error.hpp"

#include <fstream>

namespace httpcloop {
namespace {

TEST(RestartReady, ReadsTheCaFileOnce)
{
	test::TempDir dir;
	const auto path = dir.path() / "ca.pem";
	std::ofstream(path) << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	FetchOptions options;
	options.ca_file = path.string();
	take_fetch_inputs_now(options, {});
	ASSERT_TRUE(options.ca_bundle);
	EXPECT_EQ(*options.ca_bundle, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	std::filesystem::remove(path); // gone, as after switch_root: the bytes stay
	take_fetch_inputs_now(options, {});
	EXPECT_NE(options.ca_bundle->find("MIIB"), std::string::npos);
}

TEST(RestartReady, AMissingCaFileIsAnError)
{
	FetchOptions options;
	options.ca_file = "/nonexistent/ca.pem";
	EXPECT_THROW(take_fetch_inputs_now(options, {}), Error);
}

TEST(RestartReady, PinsHostNamesOnlyWhenResolvingOnce)
{
	const std::vector<std::string> urls = {"http://localhost/img/", "https://localhost:8443/img/",
					       "http://127.0.0.1:8080/img/", "/srv/local/img"};
	FetchOptions plain;
	take_fetch_inputs_now(plain, urls);
	EXPECT_TRUE(plain.pinned_addresses.empty());

	FetchOptions root;
	root.resolve_once = true;
	take_fetch_inputs_now(root, urls);
	ASSERT_EQ(root.pinned_addresses.size(), 2u); // address literals and paths need no DNS
	EXPECT_TRUE(root.pinned_addresses[0].starts_with("localhost:80:")) << root.pinned_addresses[0];
	EXPECT_TRUE(root.pinned_addresses[1].starts_with("localhost:8443:")) << root.pinned_addresses[1];
	EXPECT_NE(root.pinned_addresses[0].find("127.0.0.1"), std::string::npos) << root.pinned_addresses[0];
}

} // namespace
} // namespace httpcloop
