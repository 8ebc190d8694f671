#include "verify/verify.hpp"

#include "crypto/sha256.hpp"
#include "fetch/http_get.hpp"
#include "format/block_name.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace httpcloop {

namespace {

constexpr size_t kMaxProblemsKept = 20;

// Runs check(index) for every block on `threads` threads; collects failures.
VerifyReport for_each_block(const Manifest& manifest, unsigned threads,
			    const std::function<void(uint64_t index, std::vector<uint8_t>& plain)>& check,
			    const std::function<bool(uint64_t index)>& wanted)
{
	const auto start = std::chrono::steady_clock::now();
	VerifyReport report;
	std::mutex mutex;
	std::atomic<uint64_t> next{0};
	auto work = [&] {
		std::vector<uint8_t> plain(manifest.block_size);
		for (uint64_t index = next++; index < manifest.block_count(); index = next++) {
			if (!wanted(index))
				continue;
			std::optional<std::string> problem;
			try {
				check(index, plain);
			} catch (const Error& e) {
				problem = e.what();
			}
			std::lock_guard lock(mutex);
			report.blocks_checked++;
			report.plain_bytes += manifest.plain_size(index);
			if (problem) {
				report.bad_blocks++;
				if (report.problems.size() < kMaxProblemsKept)
					report.problems.push_back(*problem);
			}
		}
	};
	{
		std::vector<std::jthread> workers;
		for (unsigned i = 0; i < std::max(threads, 1u); i++)
			workers.emplace_back(work);
	}
	report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	return report;
}

} // namespace

VerifyReport verify_published(const std::string& location, const Manifest& manifest, unsigned threads,
			      PlaintextCheck check, const std::string& ca_file)
{
	const bool remote = is_http_url(location);
	std::string base = location.substr(0, location.find('#'));
	if (!remote && base.rfind("file://", 0) == 0)
		base = base.substr(7);
	if (remote && manifest.is_packed())
		throw Error("verifying a packed image over HTTP is not supported: verify a local copy of it");
	UniqueFd pack;
	if (!remote && manifest.is_packed())
		pack = open_or_throw(base + "/blocks.pack", O_RDONLY);

	auto read_stored = [&](const BlockEntry& entry) {
		if (remote)
			return http_get(join_url(base, block_relpath(entry.stored_hash)), entry.stored_size + 1, ca_file);
		std::vector<uint8_t> stored(entry.stored_size);
		if (manifest.is_packed()) {
			pread_exact(pack.get(), stored, entry.pack_offset, base + "/blocks.pack");
		} else {
			const std::string path = base + "/" + block_relpath(entry.stored_hash);
			UniqueFd fd = open_or_throw(path, O_RDONLY);
			// One byte more than promised shows a file that is too long.
			stored.resize(entry.stored_size + 1);
			stored.resize(pread_full(fd.get(), stored, 0, path));
		}
		return stored;
	};
	return for_each_block(
		manifest, threads,
		[&](uint64_t index, std::vector<uint8_t>& plain) {
			const BlockEntry& entry = manifest.blocks[index];
			const std::vector<uint8_t> stored = read_stored(entry);
			decode_block(manifest, index, stored, std::span(plain).first(manifest.plain_size(index)), check);
		},
		[&](uint64_t index) { return !manifest.blocks[index].is_hole(); });
}

VerifyReport verify_cache(CacheStore& cache, const Manifest& manifest, unsigned threads)
{
	std::mutex forget_mutex;
	VerifyReport report = for_each_block(
		manifest, threads,
		[&](uint64_t index, std::vector<uint8_t>& plain) {
			std::span<uint8_t> out = std::span(plain).first(manifest.plain_size(index));
			pread_exact(cache.data_fd(), out, manifest.block_offset(index), "the cache file");
			if (sha256(out) != manifest.blocks[index].plain_hash) {
				std::lock_guard lock(forget_mutex);
				cache.forget(index);
				throw IntegrityError("block " + std::to_string(index) +
						     ": cached plaintext does not match its hash (forgotten; it will be fetched again)");
			}
		},
		[&](uint64_t index) { return cache.is_present(index) && !manifest.blocks[index].is_hole(); });
	return report;
}

} // namespace httpcloop
