// The fetch core's policies (service/block_service.hpp), each on its own, with a scripted
// network (answers when the test says, from a published image's files) and a clock the
// test moves by hand: readahead windows, the transfers kept for demand reads, Range
// coalescing in a pack, failing over to another mirror, backoff, deadlines and benching a
// failing mirror. The decode pool is the real one (threads), so the loop is run until
// the expected completion arrives. Every block that completes is compared with the source.

#include "service/block_service.hpp"

#include "cache/cache_store.hpp"
#include "format/manifest.hpp"
#include "image/mkimage.hpp"
#include "test_support.hpp"
#include "util/fd.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <map>
#include <set>

namespace httpcloop {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr uint32_t kBlock = 64 * 1024;
constexpr uint64_t kBlocks = 32;

// A network that answers only when told to, with the bytes of the files under `www`
// that the URLs name (any host: every mirror serves the same files).
class ScriptedTransport final : public Transport {
public:
	explicit ScriptedTransport(std::filesystem::path www) : www_(std::move(www)) {}

	void start(FetchRequest request) override
	{
		counters_.requests++;
		started.push_back(request);
		in_flight_.emplace(request.tag, std::move(request));
	}
	void poll(curl_waitfd* extra, unsigned count, int timeout_ms) override
	{
		// The decode pool's eventfd is among `extra`; never wait long: the test drives.
		std::vector<pollfd> fds;
		for (unsigned i = 0; i < count; i++)
			fds.push_back({extra[i].fd, POLLIN, 0});
		::poll(fds.data(), fds.size(), done_.empty() ? std::min(timeout_ms, 5) : 0);
		for (unsigned i = 0; i < count; i++)
			extra[i].revents = (fds[i].revents & POLLIN) ? CURL_WAIT_POLLIN : 0;
	}
	void wakeup() override {}
	std::vector<FetchResult> collect() override { return std::exchange(done_, {}); }
	void recycle(std::vector<uint8_t>&&) override {}
	std::vector<uint8_t> spare_buffer() override { return {}; }
	size_t active() const override { return in_flight_.size(); }
	const FetchCounters& counters() const override { return counters_; }

	// The transfers started and not answered yet, by tag (the order they started in).
	std::vector<FetchRequest> pending() const
	{
		std::vector<FetchRequest> requests;
		for (const auto& [tag, request] : in_flight_)
			requests.push_back(request);
		return requests;
	}
	// Answers transfer `tag` with the file (or the Range of it) its URL names.
	void serve(uint64_t tag)
	{
		FetchRequest request = take(tag);
		const std::string path = request.url.substr(request.url.find('/', request.url.find("//") + 2) + 1);
		std::vector<uint8_t> body = test::read_file(www_ / path);
		if (request.range)
			body = std::vector<uint8_t>(body.begin() + static_cast<std::ptrdiff_t>(request.range->offset),
						    body.begin() + static_cast<std::ptrdiff_t>(request.range->offset +
											request.range->length));
		FetchResult result;
		result.tag = tag;
		result.ok = true;
		result.body = std::move(body);
		result.elapsed = 1ms;
		result.effective_url = request.url;
		counters_.bytes += result.body.size();
		done_.push_back(std::move(result));
	}
	void fail(uint64_t tag, bool not_found = false)
	{
		take(tag);
		FetchResult result;
		result.tag = tag;
		result.not_found = not_found;
		result.error = not_found ? "HTTP 404" : "HTTP 503";
		counters_.errors++;
		done_.push_back(std::move(result));
	}
	void serve_all()
	{
		for (const FetchRequest& request : pending())
			serve(request.tag);
	}

	std::vector<FetchRequest> started; // every request, in the order started

private:
	FetchRequest take(uint64_t tag)
	{
		auto found = in_flight_.find(tag);
		EXPECT_NE(found, in_flight_.end()) << "no transfer " << tag;
		FetchRequest request = std::move(found->second);
		in_flight_.erase(found);
		return request;
	}

	std::filesystem::path www_;
	std::map<uint64_t, FetchRequest> in_flight_;
	std::vector<FetchResult> done_;
	FetchCounters counters_;
};

class FetchCore : public ::testing::Test {
protected:
	// Publishes kBlocks blocks (text and noise: compressed and raw ones) as an image.
	void publish(bool pack = false)
	{
		for (uint64_t i = 0; i < kBlocks; i++) {
			std::vector<uint8_t> block = i % 2 ? test::random_bytes(kBlock, static_cast<uint32_t>(i))
							   : test::text_bytes(kBlock, static_cast<uint32_t>(i));
			image_.insert(image_.end(), block.begin(), block.end());
		}
		test::write_file(dir_.path() / "source", image_);
		MkimageOptions options;
		options.source = dir_.path() / "source";
		options.output_dir = dir_.path() / "www" / "img";
		options.block_size = kBlock;
		options.pack = pack;
		options.threads = 2;
		const MkimageResult made = make_image(options);
		manifest_ = Manifest::parse(test::read_file(options.output_dir / "manifest"));
		cache_.emplace(CacheStore::open(dir_.path() / "cache", manifest_, made.manifest_id));
	}

	ServiceOptions options(std::vector<std::string> urls = {"http://a.test/img/"})
	{
		ServiceOptions options;
		options.urls = std::move(urls);
		options.readahead_max_bytes = 0;
		return options;
	}

	void start(const ServiceOptions& options)
	{
		auto transport = std::make_unique<ScriptedTransport>(dir_.path() / "www");
		net_ = transport.get();
		ServiceEnvironment environment{std::move(transport), [this] { return now_; }, 42};
		service_.emplace(
			options, manifest_, *cache_,
			[this](uint64_t block, std::string_view error) { completions_[block] = std::string(error); },
			std::move(environment));
	}

	// Runs the loop (poll, process) until `done`, or fails after 10 s of real time
	// (the decode pool's threads are real).
	void run_until(const std::function<bool()>& done)
	{
		const auto give_up = Clock::now() + 10s;
		while (!done() && Clock::now() < give_up) {
			service_->poll(nullptr, 0, 5);
			service_->process();
		}
		ASSERT_TRUE(done()) << "the loop never got there";
	}
	void run_a_little()
	{
		for (int i = 0; i < 5; i++) {
			service_->poll(nullptr, 0, 1);
			service_->process();
		}
	}

	bool completed(uint64_t block) const { return completions_.count(block) > 0; }
	// Block `block` completed without error, and the cache holds its bytes.
	void expect_ready(uint64_t block)
	{
		ASSERT_TRUE(completed(block)) << "block " << block;
		EXPECT_EQ(completions_.at(block), "") << "block " << block;
		std::vector<uint8_t> cached(kBlock);
		pread_full(cache_->data_fd(), cached, block * kBlock, "cache");
		EXPECT_TRUE(std::equal(cached.begin(), cached.end(), image_.begin() + static_cast<std::ptrdiff_t>(block * kBlock)))
			<< "block " << block << " in the cache differs from the source";
	}
	// The blocks the requests started so far name (non-packed images: one each).
	std::set<uint64_t> requested_blocks() const
	{
		std::set<uint64_t> blocks;
		for (const FetchRequest& request : net_->started)
			for (uint64_t i = 0; i < manifest_.block_count(); i++)
				if (request.url.ends_with(to_hex(manifest_.blocks[i].stored_hash)))
					blocks.insert(i);
		return blocks;
	}
	uint64_t block_of(const FetchRequest& request) const
	{
		for (uint64_t i = 0; i < manifest_.block_count(); i++)
			if (request.url.ends_with(to_hex(manifest_.blocks[i].stored_hash)))
				return i;
		ADD_FAILURE() << "no block named by " << request.url;
		return 0;
	}

	test::TempDir dir_;
	std::vector<uint8_t> image_;
	Manifest manifest_;
	std::optional<CacheStore> cache_;
	ScriptedTransport* net_ = nullptr; // owned by the service
	Clock::time_point now_ = Clock::time_point{} + 1000h;
	std::map<uint64_t, std::string> completions_;
	std::optional<BlockService> service_; // last: destroyed first
};

TEST_F(FetchCore, ADemandMissIsOneRequestAndCompletesOnce)
{
	publish();
	start(options());
	service_->request(5);
	service_->request(5); // asked again while on its way: still one transfer
	ASSERT_EQ(net_->pending().size(), 1u);
	EXPECT_EQ(block_of(net_->pending()[0]), 5u);
	net_->serve_all();
	run_until([&] { return completed(5); });
	expect_ready(5);
	EXPECT_EQ(net_->started.size(), 1u);
	EXPECT_EQ(service_->stats().misses.count, 1u);
	service_->request(5); // cached now: answered at once, nothing fetched
	EXPECT_EQ(net_->started.size(), 1u);
}

TEST_F(FetchCore, ReadaheadOpensOnSequentialReadsDoublesAndClosesOnARandomOne)
{
	publish();
	ServiceOptions opts = options();
	opts.readahead_max_bytes = 8 * kBlock;
	opts.fetch.max_parallel = 16; // readahead never short of transfers here
	start(opts);
	service_->request(0); // the first read opens no window
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0}));
	service_->request(1); // sequential: 2 blocks ahead
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0, 1, 2, 3}));
	service_->request(2); // and doubling: 4 ahead, started at once
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6}));
	net_->serve_all();
	service_->request(20); // a jump closes the window
	net_->serve_all();
	run_until([&] { return completed(20); });
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6, 20}));
	for (uint64_t block : {0, 1, 2, 20})
		expect_ready(block);
	EXPECT_EQ(service_->stats().readahead_joined, 1u); // block 2 was already on its way
}

// A read of a block that readahead queued but could not start (it may not take the
// transfers kept for demand reads) starts it at once. It waited for an unrelated transfer
// to end before (the queue was only looked at again then): a round trip or more.
TEST_F(FetchCore, AReadJoiningAQueuedReadaheadStartsItAtOnce)
{
	publish();
	ServiceOptions opts = options();
	opts.readahead_max_bytes = 8 * kBlock;
	opts.fetch.max_parallel = 4; // one kept for demand reads
	start(opts);
	service_->request(0);
	service_->request(1); // readahead 2 and 3: 2 starts, 3 may not take the last transfer
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0, 1, 2}));
	service_->request(3);
	EXPECT_EQ(requested_blocks(), (std::set<uint64_t>{0, 1, 2, 3}));
	net_->serve_all();
	run_until([&] { return completed(3); });
	expect_ready(3);
}

TEST_F(FetchCore, PrefetchLeavesTransfersForDemandReads)
{
	publish();
	ServiceOptions opts = options();
	opts.fetch.max_parallel = 8; // a quarter, 2, kept for demand reads
	start(opts);
	service_->prefetch_all();
	EXPECT_EQ(net_->pending().size(), 6u);
	service_->request(30); // a reader does not wait for the prefetch
	ASSERT_EQ(net_->pending().size(), 7u);
	EXPECT_EQ(block_of(net_->pending().back()), 30u);
	net_->serve(net_->pending().back().tag);
	run_until([&] { return completed(30); });
	expect_ready(30);
	// The prefetch goes on to the end, never past 6 transfers of its own.
	for (int round = 0; round < 20 && cache_->present_count() < kBlocks; round++) {
		EXPECT_LE(net_->pending().size(), 6u);
		net_->serve_all();
		run_until([&] { return net_->pending().size() > 0 || cache_->present_count() == kBlocks; });
	}
	EXPECT_EQ(cache_->present_count(), kBlocks);
	EXPECT_EQ(service_->stats().blocks_fetched, kBlocks);
	EXPECT_EQ(service_->stats().misses.count, 1u); // only the reader's block was its own miss
}

TEST_F(FetchCore, APackedImageFetchesQueuedNeighboursInOneRangeRequest)
{
	publish(true);
	ServiceOptions opts = options();
	opts.fetch.max_parallel = 1;
	opts.max_range_bytes = 3 * kBlock; // at most three (raw) blocks in one request
	start(opts);
	service_->request(0); // takes the only transfer
	for (uint64_t block = 10; block < 16; block++)
		service_->request(block); // queued behind it
	ASSERT_EQ(net_->pending().size(), 1u);
	ASSERT_TRUE(net_->pending()[0].range);
	EXPECT_EQ(net_->pending()[0].range->offset, manifest_.blocks[0].pack_offset);
	net_->serve_all();
	run_until([&] { return completed(0) && net_->pending().size() == 1; });
	const FetchRequest next = net_->pending()[0];
	ASSERT_TRUE(next.range);
	EXPECT_EQ(next.range->offset, manifest_.blocks[10].pack_offset);
	EXPECT_LE(next.range->length, opts.max_range_bytes);
	EXPECT_GT(next.range->length, manifest_.blocks[10].stored_size); // more than one block
	for (int i = 0; i < 10 && !completed(15); i++) {
		net_->serve_all();
		run_until([&] { return completed(15) || net_->pending().size() == 1; });
	}
	for (uint64_t block = 10; block < 16; block++)
		expect_ready(block);
	EXPECT_LT(net_->started.size(), 1u + 6u); // fewer requests than blocks
}

TEST_F(FetchCore, AFailedTransferGoesToAnotherMirrorAtOnce)
{
	publish();
	start(options({"http://a.test/img/", "http://b.test/img/"}));
	service_->request(7);
	ASSERT_EQ(net_->pending().size(), 1u);
	const std::string first_host = net_->pending()[0].url.substr(0, 15);
	net_->fail(net_->pending()[0].tag);
	run_until([&] { return net_->pending().size() == 1; });
	EXPECT_NE(net_->pending()[0].url.substr(0, 15), first_host); // the other mirror, no waiting
	net_->serve_all();
	run_until([&] { return completed(7); });
	expect_ready(7);
}

TEST_F(FetchCore, RetriesBackOffOnTheClockAndStopAtTheDeadline)
{
	publish();
	ServiceOptions opts = options();
	opts.max_attempts = 100;
	opts.block_deadline = 5s;
	start(opts);
	service_->request(3);
	net_->fail(net_->pending()[0].tag);
	run_a_little();
	EXPECT_TRUE(net_->pending().empty()); // the only mirror failed it: wait first
	now_ += 99ms;
	run_a_little();
	EXPECT_TRUE(net_->pending().empty()); // the first delay is at least 100 ms
	now_ += 100ms;                         // and at most 150 (jitter up to half)
	run_until([&] { return net_->pending().size() == 1; });
	// Each later delay longer, up to the deadline; then the block fails, once.
	std::vector<Clock::duration> waits;
	while (!completed(3)) {
		ASSERT_LE(waits.size(), 20u);
		if (!net_->pending().empty())
			net_->fail(net_->pending()[0].tag);
		run_a_little();
		const Clock::time_point failed_at = now_;
		while (net_->pending().empty() && !completed(3)) {
			now_ += 25ms;
			run_a_little();
		}
		waits.push_back(now_ - failed_at);
	}
	ASSERT_GE(waits.size(), 3u);
	EXPECT_GT(waits[1], waits[0]);
	EXPECT_NE(completions_.at(3).find("no answer within 5 s"), std::string::npos) << completions_.at(3);
	EXPECT_EQ(service_->stats().blocks_failed, 1u);
}

TEST_F(FetchCore, ABlockMissingOnEveryMirrorFailsWithoutRetrying)
{
	publish();
	start(options({"http://a.test/img/", "http://b.test/img/"}));
	service_->request(9);
	net_->fail(net_->pending()[0].tag, true);
	run_until([&] { return net_->pending().size() == 1; });
	net_->fail(net_->pending()[0].tag, true);
	run_until([&] { return completed(9); });
	EXPECT_NE(completions_.at(9).find("not found on any mirror"), std::string::npos) << completions_.at(9);
	EXPECT_EQ(net_->started.size(), 2u);
}

TEST_F(FetchCore, AFailingMirrorIsBenchedThenTriedAgain)
{
	publish();
	start(options({"http://a.test/img/", "http://b.test/img/"}));
	// Mirror a fails everything it is asked; b answers.
	auto on_a = [](const FetchRequest& request) { return request.url.starts_with("http://a.test/"); };
	uint64_t next = 0;
	for (int i = 0; i < 6; i++) {
		service_->request(next++);
		while (!net_->pending().empty()) {
			const FetchRequest request = net_->pending()[0];
			if (on_a(request))
				net_->fail(request.tag);
			else
				net_->serve(request.tag);
			run_until([&] { return completed(next - 1) || !net_->pending().empty(); });
		}
		expect_ready(next - 1);
	}
	// After its failures, a gets no new first attempts while benched...
	const size_t started_before = net_->started.size();
	service_->request(next);
	ASSERT_EQ(net_->pending().size(), 1u);
	EXPECT_FALSE(on_a(net_->pending()[0])) << net_->pending()[0].url;
	net_->serve_all();
	run_until([&] { return completed(next); });
	expect_ready(next++);
	EXPECT_EQ(net_->started.size(), started_before + 1);
	// ...and is asked again once its bench time is over (minutes at most).
	bool asked_a = false;
	for (int i = 0; i < 10 && !asked_a; i++) {
		now_ += 60s;
		service_->request(next);
		asked_a = on_a(net_->pending()[0]);
		net_->serve_all();
		run_until([&] { return completed(next); });
		expect_ready(next++);
	}
	EXPECT_TRUE(asked_a) << "mirror a was never tried again";
}

} // namespace
} // namespace httpcloop
