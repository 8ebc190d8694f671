#include "format/block_name.hpp"

#include <gtest/gtest.h>

namespace httpcloop {
namespace {

TEST(BlockName, FanOutByFirstTwoHexDigits)
{
	Sha256 hash{};
	hash[0] = 0xab;
	hash[1] = 0xcd;
	hash[31] = 0x0f;
	EXPECT_EQ(block_relpath(hash), "blocks/ab/abcd" + std::string(58, '0') + "0f");
}

TEST(BlockName, HashOfStoredBytes)
{
	const std::string abc = "abc";
	const Sha256 hash = sha256(std::span(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()));
	EXPECT_EQ(block_relpath(hash), "blocks/ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

} // namespace
} // namespace httpcloop
