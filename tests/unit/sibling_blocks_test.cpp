// Blocks an image shares with other images in the same cache directory (issue 12, item 6):
// found through the other caches' manifest copies and present records, and only there.
#include "cache/cache_store.hpp"

#include "cache/sibling_blocks.hpp"
#include "test_support.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace httpcloop {
namespace {

constexpr uint32_t kBlock = 64 * 1024;

// Version 1 of an image, and a version 2 that changes blocks 2 and 5 of its 8 (and has a
// hole where version 1 had data).
class SiblingBlocksTest : public ::testing::Test {
protected:
	SiblingBlocksTest()
	{
		v1_ = test::random_bytes(8 * kBlock, 1);
		v2_ = v1_;
		for (uint64_t changed : {2u, 5u}) {
			std::vector<uint8_t> other = test::random_bytes(kBlock, 100 + static_cast<uint32_t>(changed));
			std::copy(other.begin(), other.end(), v2_.begin() + changed * kBlock);
		}
		std::fill(v2_.begin() + 7 * kBlock, v2_.end(), 0);
		m1_ = test::manifest_for(v1_, kBlock);
		m2_ = test::manifest_for(v2_, kBlock);
		id1_ = sha256(m1_.serialize());
		id2_ = sha256(m2_.serialize());
	}

	// Version 1's cache holding `blocks`, committed.
	void cache_v1(std::initializer_list<uint64_t> blocks)
	{
		CacheStore cache = CacheStore::open(dir_.path(), m1_, id1_);
		for (uint64_t index : blocks) {
			cache.write_block(index, std::span(v1_).subspan(index * kBlock, kBlock));
			cache.mark_written(index);
		}
		cache.commit();
	}
	std::filesystem::path v1_dir() const { return dir_.path() / to_hex(id1_); }

	std::optional<SiblingBlocks::Source> find(CacheStore& cache, uint64_t index) const
	{
		return cache.siblings().find(index, m2_.blocks[index].plain_hash, m2_.plain_size(index));
	}
	// The v2 blocks (not holes) for which the cache offers a source; each holds exactly
	// v2's block.
	std::vector<uint64_t> sourced_v2_blocks(CacheStore& cache)
	{
		std::vector<uint64_t> sourced;
		for (uint64_t index = 0; index < m2_.block_count(); index++) {
			std::optional<SiblingBlocks::Source> source = find(cache, index);
			if (!source || m2_.blocks[index].is_hole())
				continue;
			sourced.push_back(index);
			std::vector<uint8_t> bytes(source->size);
			pread_exact(source->data_fd, bytes, source->offset, "source");
			EXPECT_EQ(sha256(bytes), m2_.blocks[index].plain_hash) << "block " << index;
		}
		return sourced;
	}

	test::TempDir dir_;
	std::vector<uint8_t> v1_, v2_;
	Manifest m1_, m2_;
	Sha256 id1_{}, id2_{};
};

TEST_F(SiblingBlocksTest, KeepsAManifestCopyNamedByItsHash)
{
	cache_v1({});
	std::vector<uint8_t> copy = test::read_file(v1_dir() / "manifest");
	EXPECT_EQ(sha256(copy), id1_);
}

TEST_F(SiblingBlocksTest, FindsTheUnchangedBlocksThatAreCachedThere)
{
	cache_v1({0, 1, 2, 3, 4, 5});
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	// 0, 1, 3, 4: unchanged and cached; 2, 5 changed; 6 not cached in v1; 7 a hole in v2.
	EXPECT_EQ(sourced_v2_blocks(v2), (std::vector<uint64_t>{0, 1, 3, 4}));
	EXPECT_EQ(v2.siblings().images(), 1u);
}

TEST_F(SiblingBlocksTest, LooksNowhereWhenNothingIsMissing)
{
	cache_v1({0, 1, 2, 3, 4, 5, 6, 7});
	{
		CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
		EXPECT_EQ(v2.siblings().images(), 1u);
		for (uint64_t index = 0; index < 7; index++) {
			v2.write_block(index, std::span(v2_).subspan(index * kBlock, kBlock));
			v2.mark_written(index);
		}
		v2.commit();
	}
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	EXPECT_EQ(v2.siblings().images(), 0u);
}

TEST_F(SiblingBlocksTest, IgnoresACopyThatIsNotTheManifestItsDirectoryNames)
{
	cache_v1({0, 1, 3});
	std::vector<uint8_t> copy = test::read_file(v1_dir() / "manifest");
	copy[100] ^= 1;
	test::fix_manifest_checksum(copy); // a valid manifest, but not the one named v1
	test::write_file(v1_dir() / "manifest", copy);
	test::LogCapture log;
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	EXPECT_TRUE(sourced_v2_blocks(v2).empty());
	EXPECT_NE(log.text().find("is not the manifest its directory names"), std::string::npos) << log.text();
}

TEST_F(SiblingBlocksTest, IgnoresADamagedPresentRecordAndAMissingCopy)
{
	cache_v1({0, 1, 3});
	std::vector<uint8_t> record = test::read_file(v1_dir() / "present");
	record.pop_back();
	test::write_file(v1_dir() / "present", record);
	{
		test::LogCapture log;
		CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
		EXPECT_TRUE(sourced_v2_blocks(v2).empty());
		EXPECT_NE(log.text().find("present"), std::string::npos) << log.text();
	}
	std::filesystem::remove(v1_dir() / "manifest");
	std::filesystem::remove(dir_.path() / to_hex(id2_) / "manifest");
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	EXPECT_TRUE(sourced_v2_blocks(v2).empty());
}

TEST_F(SiblingBlocksTest, ReadsNoCacheThatOthersMayWrite)
{
	cache_v1({0, 1, 3});
	ASSERT_EQ(::chmod(v1_dir().c_str(), 0770), 0);
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	EXPECT_TRUE(sourced_v2_blocks(v2).empty());
}

TEST_F(SiblingBlocksTest, IndexesBlocksUnderAnotherBlockSize)
{
	// The same bytes published with 128 KiB blocks: no 64 KiB block matches one of them.
	Manifest big = test::manifest_for(v1_, 2 * kBlock);
	{
		CacheStore cache = CacheStore::open(dir_.path(), big, sha256(big.serialize()));
		cache.write_block(0, std::span(v1_).subspan(0, 2 * kBlock));
		cache.mark_written(0);
		cache.commit();
	}
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	EXPECT_TRUE(sourced_v2_blocks(v2).empty());
}

TEST_F(SiblingBlocksTest, OpeningCostsMemoryByImageSizeNotByTheManifestLimit)
{
	// Every daemon start scans; a buffer sized by the largest manifest allowed (512 MiB)
	// made each one zero half a gigabyte (minutes of restarts under TCG).
	cache_v1({0, 1, 3});
	rusage before{};
	ASSERT_EQ(::getrusage(RUSAGE_SELF, &before), 0);
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	rusage after{};
	ASSERT_EQ(::getrusage(RUSAGE_SELF, &after), 0);
	EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 32 * 1024) << "KiB more at the peak";
	EXPECT_EQ(sourced_v2_blocks(v2), (std::vector<uint64_t>{0, 1, 3}));
}

TEST_F(SiblingBlocksTest, ForgetDropsASource)
{
	cache_v1({0, 1});
	CacheStore v2 = CacheStore::open(dir_.path(), m2_, id2_);
	ASSERT_TRUE(find(v2, 1));
	v2.siblings().forget(1);
	EXPECT_FALSE(find(v2, 1));
	EXPECT_TRUE(find(v2, 0));
}

} // namespace
} // namespace httpcloop
