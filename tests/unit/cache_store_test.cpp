#include "cache/cache_store.hpp"

#include "cache/present_record.hpp"
#include "test_support.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <fcntl.h>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

namespace httpcloop {
namespace {

constexpr uint32_t kBlock = 64 * 1024;

class CacheStoreTest : public ::testing::Test {
protected:
	CacheStoreTest()
	{
		// 11 blocks: text, with block 4 all zero (a hole) and a short last block.
		image_ = test::text_bytes(10 * kBlock + 123, 1);
		std::fill(image_.begin() + 4 * kBlock, image_.begin() + 5 * kBlock, 0);
		manifest_ = test::manifest_for(image_, kBlock);
		id_ = sha256(manifest_.serialize());
	}

	CacheStore open() { return CacheStore::open(dir_.path(), manifest_, id_); }
	std::filesystem::path image_dir() const { return dir_.path() / to_hex(id_); }
	std::span<const uint8_t> block(uint64_t index) const
	{
		return std::span(image_).subspan(manifest_.block_offset(index), manifest_.plain_size(index));
	}
	void store_block(CacheStore& cache, uint64_t index)
	{
		cache.write_block(index, block(index));
		cache.mark_written(index);
	}

	test::TempDir dir_;
	std::vector<uint8_t> image_;
	Manifest manifest_;
	Sha256 id_{};
};

TEST_F(CacheStoreTest, OpensFreshWithOnlyHolesPresent)
{
	CacheStore cache = open();
	EXPECT_EQ(cache.block_count(), 11u);
	EXPECT_EQ(cache.present_count(), 1u);
	EXPECT_TRUE(cache.is_present(4));
	EXPECT_FALSE(cache.is_present(0));
	EXPECT_EQ(cache.pending_commit(), 0u);

	struct stat status{};
	ASSERT_EQ(::fstat(cache.data_fd(), &status), 0);
	EXPECT_EQ(static_cast<uint64_t>(status.st_size), image_.size());
	ASSERT_EQ(::stat(image_dir().c_str(), &status), 0);
	EXPECT_EQ(status.st_mode & 0777, 0700u);
	EXPECT_EQ(std::filesystem::file_size(image_dir() / "present"), present_record::file_size(11));
	EXPECT_THROW(cache.is_present(11), Error);
}

TEST_F(CacheStoreTest, WriteCommitAndReopen)
{
	{
		CacheStore cache = open();
		store_block(cache, 0);
		store_block(cache, 10);
		store_block(cache, 4); // a hole: already present, nothing to queue
		EXPECT_TRUE(cache.is_present(0));
		EXPECT_TRUE(cache.is_present(10));
		EXPECT_EQ(cache.pending_commit(), 2u);
		cache.commit();
		EXPECT_EQ(cache.pending_commit(), 0u);
		EXPECT_EQ(cache.bitmap_bytes()[0], 0x01);
		EXPECT_EQ(cache.bitmap_bytes()[1], 0x04);
	}
	CacheStore cache = open();
	EXPECT_TRUE(cache.is_present(0));
	EXPECT_TRUE(cache.is_present(10));
	EXPECT_FALSE(cache.is_present(1));
	EXPECT_EQ(cache.present_count(), 3u);
	const std::vector<uint8_t> bitmap = cache.present_bitmap();
	ASSERT_EQ(bitmap.size(), 2u);
	EXPECT_EQ(bitmap[0], 0x11); // blocks 0 and 4 (hole)
	EXPECT_EQ(bitmap[1], 0x04); // block 10

	std::vector<uint8_t> plain(manifest_.plain_size(10));
	pread_exact(cache.data_fd(), plain, manifest_.block_offset(10), "data");
	EXPECT_TRUE(std::equal(plain.begin(), plain.end(), block(10).begin()));
}

TEST_F(CacheStoreTest, QueuedButUncommittedBitIsNotPresentAfterReopen)
{
	{
		CacheStore cache = open();
		store_block(cache, 0);
		cache.commit();
		store_block(cache, 1);
		EXPECT_TRUE(cache.is_present(1));
		// Dropped without commit(): as after a crash.
	}
	CacheStore cache = open();
	EXPECT_TRUE(cache.is_present(0));
	EXPECT_FALSE(cache.is_present(1));
}

TEST_F(CacheStoreTest, SecondOpenFailsWhileInUse)
{
	CacheStore first = open();
	EXPECT_THROW_MESSAGE(open(), Error, "is in use by another httpcloop process");
}

TEST_F(CacheStoreTest, LockIsReleasedOnClose)
{
	{
		CacheStore first = open();
	}
	EXPECT_NO_THROW(open());
}

TEST_F(CacheStoreTest, RecordOfAnotherManifestIsDiscarded)
{
	{
		CacheStore cache = open();
		store_block(cache, 0);
		cache.commit();
	}
	// Same directory name, but a record written for another image id.
	const std::vector<uint8_t> bitmap = {0xff, 0x07};
	Sha256 other_id = id_;
	other_id[0] ^= 1;
	test::write_file(image_dir() / "present",
			 present_record::encode({manifest_.block_count(), kBlock, other_id}, bitmap));

	test::LogCapture log;
	CacheStore cache = open();
	EXPECT_FALSE(cache.is_present(0));
	EXPECT_EQ(cache.present_count(), 1u);
	EXPECT_NE(log.text().find("belongs to another image"), std::string::npos) << log.text();
	// The discarded record has been replaced by a valid empty one.
	EXPECT_EQ(test::read_file(image_dir() / "present"),
		  present_record::encode({manifest_.block_count(), kBlock, id_}, std::vector<uint8_t>(2, 0)));
}

TEST_F(CacheStoreTest, TruncatedOrCorruptRecordIsDiscarded)
{
	struct Damage {
		const char* name;
		std::function<void(std::vector<uint8_t>&)> apply;
		const char* reason;
	};
	const std::vector<Damage> damages = {
		{"truncated", [](std::vector<uint8_t>& r) { r.pop_back(); }, "length 65, expected 66"},
		{"empty", [](std::vector<uint8_t>& r) { r.clear(); }, "length 0"},
		{"extended", [](std::vector<uint8_t>& r) { r.push_back(0); }, "length 67"},
		{"magic", [](std::vector<uint8_t>& r) { r[0] ^= 1; }, "bad magic"},
		{"version", [](std::vector<uint8_t>& r) { r[8] = 2; }, "unknown version 2"},
		{"block count", [](std::vector<uint8_t>& r) { r[16] = 12; }, "block count 12"},
		{"block size", [](std::vector<uint8_t>& r) { r[26] = 2; }, "block size"},
		{"padding bits", [](std::vector<uint8_t>& r) { r.back() |= 0x80; }, "beyond the last block"},
	};
	for (const Damage& damage : damages) {
		{
			CacheStore cache = open();
			store_block(cache, 0);
			cache.commit();
		}
		std::vector<uint8_t> record = test::read_file(image_dir() / "present");
		damage.apply(record);
		test::write_file(image_dir() / "present", record);

		test::LogCapture log;
		CacheStore cache = open();
		EXPECT_FALSE(cache.is_present(0)) << damage.name;
		EXPECT_NE(log.text().find(damage.reason), std::string::npos) << damage.name << ": " << log.text();
	}
}

TEST_F(CacheStoreTest, DataFileOfTheWrongSizeInvalidatesTheRecord)
{
	{
		CacheStore cache = open();
		store_block(cache, 0);
		cache.commit();
	}
	std::filesystem::resize_file(image_dir() / "data", 1000);
	test::LogCapture log;
	CacheStore cache = open();
	EXPECT_FALSE(cache.is_present(0));
	EXPECT_EQ(std::filesystem::file_size(image_dir() / "data"), image_.size());
	EXPECT_NE(log.text().find("data file"), std::string::npos) << log.text();
}

TEST_F(CacheStoreTest, RejectsWrongBlockSizes)
{
	CacheStore cache = open();
	std::vector<uint8_t> short_block(kBlock - 1);
	EXPECT_THROW_MESSAGE(cache.write_block(0, short_block), Error, "block 0 has 65536 bytes, got 65535");
	std::vector<uint8_t> full_block(kBlock);
	EXPECT_THROW(cache.write_block(10, full_block), Error);
	EXPECT_THROW(cache.mark_written(11), Error);
}

TEST_F(CacheStoreTest, CommitWithNothingQueuedIsANoOp)
{
	CacheStore cache = open();
	EXPECT_NO_THROW(cache.commit());
	EXPECT_EQ(cache.present_count(), 1u);
}

// Issue 11, finding 6: a cache directory that others can change must not make the daemon
// write through links it did not make.
std::string read_text(const std::filesystem::path& path)
{
	std::ifstream file(path);
	return std::string(std::istreambuf_iterator<char>(file), {});
}

TEST_F(CacheStoreTest, NeverWritesThroughAPlantedRecordLink)
{
	std::filesystem::create_directory(image_dir());
	chmod(image_dir().c_str(), 0700);
	const auto victim = dir_.path() / "victim";
	std::ofstream(victim) << "keep";
	std::filesystem::create_symlink(victim, image_dir() / "present.tmp");
	EXPECT_THROW(open(), IoError);
	EXPECT_EQ(read_text(victim), "keep");
}

TEST_F(CacheStoreTest, RefusesADataFileThatIsALink)
{
	std::filesystem::create_directory(image_dir());
	chmod(image_dir().c_str(), 0700);
	const auto victim = dir_.path() / "victim";
	std::ofstream(victim) << "keep";
	std::filesystem::create_symlink(victim, image_dir() / "data");
	EXPECT_THROW(open(), IoError);
	EXPECT_EQ(std::filesystem::file_size(victim), 4u); // not resized to the image
}

TEST_F(CacheStoreTest, RefusesAnImageDirectoryThatIsALink)
{
	const auto elsewhere = dir_.path() / "elsewhere";
	std::filesystem::create_directory(elsewhere);
	chmod(elsewhere.c_str(), 0700);
	std::filesystem::create_directory_symlink(elsewhere, image_dir());
	EXPECT_THROW(open(), IoError);
	EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

TEST_F(CacheStoreTest, RefusesAnImageDirectoryOthersMayWrite)
{
	std::filesystem::create_directory(image_dir());
	chmod(image_dir().c_str(), 0777);
	EXPECT_THROW(open(), IoError);
	chmod(image_dir().c_str(), 0700);
	EXPECT_NO_THROW(open());
}

TEST_F(CacheStoreTest, RefusesACacheDirectoryEveryoneMayWriteUnlessSticky)
{
	chmod(dir_.path().c_str(), 0777);
	EXPECT_THROW(open(), IoError);
	chmod(dir_.path().c_str(), 01777); // like /tmp: others cannot replace our entries
	EXPECT_NO_THROW(open());
	chmod(dir_.path().c_str(), 0700);
}

TEST_F(CacheStoreTest, RefusesAnImageDirectoryOfAnotherUser)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to give the directory away";
	std::filesystem::create_directory(image_dir());
	chmod(image_dir().c_str(), 0700);
	ASSERT_EQ(chown(image_dir().c_str(), 65534, 65534), 0);
	EXPECT_THROW(open(), IoError);
}

// `httpcloop restart`: the old daemon commits, unlocks and records nothing more; the new
// one opens the cache meanwhile. If the new one gives up, the old one takes it back.
TEST_F(CacheStoreTest, HandOverReleasesTheLockAndStopsRecording)
{
	CacheStore old_daemon = open();
	store_block(old_daemon, 0);
	old_daemon.hand_over();
	store_block(old_daemon, 1); // written after the hand-over: data only
	old_daemon.commit();
	{
		CacheStore new_daemon = open();
		EXPECT_TRUE(new_daemon.is_present(0));
		EXPECT_FALSE(new_daemon.is_present(1));
		EXPECT_THROW(old_daemon.take_back(), Error);
	}
	old_daemon.take_back();
	EXPECT_THROW(open(), Error); // locked again
	EXPECT_EQ(old_daemon.pending_commit(), 0u); // block 1 recorded by take_back()
	{
		CacheStore gone = std::move(old_daemon);
	}
	EXPECT_TRUE(open().is_present(1));
}

// A daemon restarted after switch_root opens the cache through the directory it held.
TEST_F(CacheStoreTest, OpensThroughAHeldDirectoryWhosePathIsGone)
{
	{
		CacheStore first = open();
		store_block(first, 2);
		first.commit();
	}
	UniqueFd held(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ASSERT_TRUE(held);
	const std::filesystem::path moved = dir_.path().string() + ".moved";
	std::filesystem::rename(dir_.path(), moved);
	CacheStore cache = CacheStore::open_in_directory(held.get(), dir_.path(), manifest_, id_);
	EXPECT_TRUE(cache.is_present(2));
	std::filesystem::rename(moved, dir_.path());
}

} // namespace
} // namespace httpcloop
