#include "boot_format/boot_manifest.hpp"

#include "test_support.hpp"
#include "util/error.hpp"

namespace httpcloop {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

std::vector<uint8_t> bytes_of(std::string_view text)
{
	return {text.begin(), text.end()};
}

std::string sample()
{
	return "httpcloop-boot 1\n"
	       "# a comment\n"
	       "kernel kernel-0123 7340032 " + kHashA + "\n"
	       "initrd boot/initrd.img 30000000 " + kHashB + "\n"
	       "cmdline console=ttyS0 quiet \"x=a b\"\n"
	       "image http://example.invalid/img/ " + kHashA + "\n";
}

void expect_rejected(const std::string& text, std::string_view needle)
{
	EXPECT_THROW_MESSAGE(BootManifest::parse(bytes_of(text)), FormatError, needle);
}

TEST(BootManifest, ParsesEveryField)
{
	BootManifest manifest = BootManifest::parse(bytes_of(sample()));
	EXPECT_EQ(manifest.kernel.path, "kernel-0123");
	EXPECT_EQ(manifest.kernel.size, 7340032u);
	EXPECT_EQ(to_hex(manifest.kernel.sha256), kHashA);
	ASSERT_TRUE(manifest.initrd);
	EXPECT_EQ(manifest.initrd->path, "boot/initrd.img");
	EXPECT_EQ(manifest.initrd->size, 30000000u);
	EXPECT_EQ(manifest.cmdline, "console=ttyS0 quiet \"x=a b\"");
	ASSERT_TRUE(manifest.image);
	EXPECT_EQ(manifest.image->url, "http://example.invalid/img/");
}

TEST(BootManifest, RoundTrip)
{
	BootManifest manifest = BootManifest::parse(bytes_of(sample()));
	std::string text = manifest.serialize();
	BootManifest again = BootManifest::parse(bytes_of(text));
	EXPECT_EQ(again.serialize(), text);
	EXPECT_EQ(again.cmdline, manifest.cmdline);
}

TEST(BootManifest, MinimalAndEmptyCmdline)
{
	BootManifest manifest = BootManifest::parse(bytes_of("httpcloop-boot 1\nkernel k 1 " + kHashA + "\ncmdline\n"));
	EXPECT_FALSE(manifest.initrd);
	EXPECT_EQ(manifest.cmdline, "");
	EXPECT_FALSE(manifest.image);
}

TEST(BootManifest, EffectiveCmdlineAddsRootOnlyWhenAbsent)
{
	BootManifest manifest = BootManifest::parse(bytes_of(sample()));
	EXPECT_EQ(manifest.effective_cmdline(),
		  manifest.cmdline + " root=httpcloop:http://example.invalid/img/#sha256=" + kHashA);
	manifest.cmdline = "root=/dev/sda1 quiet";
	EXPECT_EQ(manifest.effective_cmdline(), "root=/dev/sda1 quiet");
	manifest.cmdline = "myroot=x";
	EXPECT_NE(manifest.effective_cmdline().find(" root=httpcloop:"), std::string::npos);
}

TEST(BootManifest, RejectsWithLineNumbers)
{
	const std::string kernel = "kernel k 10 " + kHashA + "\n";
	expect_rejected("", "empty file");
	expect_rejected("httpcloop-boot 2\n" + kernel, "unsupported version '2'");
	expect_rejected("#!/bin/sh\n", "not a boot manifest");
	expect_rejected("httpcloop-boot 1\n" + kernel.substr(0, kernel.size() - 1), "does not end with a newline");
	expect_rejected("httpcloop-boot 1\n", "no kernel line");
	expect_rejected("httpcloop-boot 1\r\n" + kernel, "line 1: carriage return");
	expect_rejected("httpcloop-boot 1\n" + kernel + kernel, "line 3: kernel given twice");
	expect_rejected("httpcloop-boot 1\n" + kernel + "\n", "line 3: empty line");
	expect_rejected("httpcloop-boot 1\n" + kernel + "foo bar\n", "line 3: unknown key 'foo'");
	expect_rejected("httpcloop-boot 1\nkernel k 10\n", "needs PATH SIZE SHA256");
	expect_rejected("httpcloop-boot 1\nkernel  k 10 " + kHashA + "\n", "exactly one space");
	expect_rejected("httpcloop-boot 1\nkernel ../k 10 " + kHashA + "\n", "relative path");
	expect_rejected("httpcloop-boot 1\nkernel /k 10 " + kHashA + "\n", "relative path");
	expect_rejected("httpcloop-boot 1\nkernel http://x/k 10 " + kHashA + "\n", "relative path");
	expect_rejected("httpcloop-boot 1\nkernel k 010 " + kHashA + "\n", "not a decimal number");
	expect_rejected("httpcloop-boot 1\nkernel k -1 " + kHashA + "\n", "not a decimal number");
	expect_rejected("httpcloop-boot 1\nkernel k 0 " + kHashA + "\n", "size is 0");
	expect_rejected("httpcloop-boot 1\nkernel k 99999999999999999999 " + kHashA + "\n", "not a decimal number");
	expect_rejected("httpcloop-boot 1\nkernel k 300000000 " + kHashA + "\n", "above the limit");
	expect_rejected("httpcloop-boot 1\nkernel k 10 " + std::string(64, 'A') + "\n", "64 lowercase hex");
	expect_rejected("httpcloop-boot 1\nkernel k 10 abc\n", "64 lowercase hex");
	expect_rejected("httpcloop-boot 1\n" + kernel + "cmdline " + std::string(2048, 'x') + "\n", "longer than 2047");
	expect_rejected("httpcloop-boot 1\n" + kernel + "cmdline a\ncmdline b\n", "cmdline given twice");
	expect_rejected("httpcloop-boot 1\n" + kernel + "cmdline \x01\n", "not printable ASCII");
	expect_rejected("httpcloop-boot 1\n" + kernel + "image ftp://x/ " + kHashA + "\n", "http:// or https://");
	expect_rejected("httpcloop-boot 1\n" + kernel + "image http://x/#f " + kHashA + "\n", "without a fragment");
	expect_rejected("httpcloop-boot 1\n" + kernel + "image http://x/\n", "image needs URL SHA256");
	expect_rejected("httpcloop-boot 1\n" + kernel + "#" + std::string(5000, 'c') + "\n", "longer than 4096");
	expect_rejected(std::string(BootManifest::kMaxBytes + 1, '#'), "above the limit");
}

TEST(BootManifest, PathRules)
{
	EXPECT_TRUE(is_valid_boot_path("kernel-0123abcd"));
	EXPECT_TRUE(is_valid_boot_path("a/b/c_d+e.f"));
	EXPECT_FALSE(is_valid_boot_path(""));
	EXPECT_FALSE(is_valid_boot_path("a//b"));
	EXPECT_FALSE(is_valid_boot_path("a/./b"));
	EXPECT_FALSE(is_valid_boot_path("a/"));
	EXPECT_FALSE(is_valid_boot_path("a b"));
	EXPECT_FALSE(is_valid_boot_path("a?b"));
	EXPECT_FALSE(is_valid_boot_path(std::string(256, 'a')));
}

TEST(BootManifest, SerializeRefusesWhatCannotParse)
{
	BootManifest manifest;
	manifest.kernel = {"../k", 1, {}};
	EXPECT_THROW(manifest.serialize(), Error);
	manifest.kernel.path = "k";
	manifest.cmdline = "a\nb";
	EXPECT_THROW(manifest.serialize(), Error);
	manifest.cmdline = "ok";
	manifest.image = BootImage{"http://x/ y", {}};
	EXPECT_THROW(manifest.serialize(), Error);
}

} // namespace
} // namespace httpcloop
