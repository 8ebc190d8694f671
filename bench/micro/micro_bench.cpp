// The per-block hot path against the raw libraries, so that the overhead of our code
// shows as a ratio (bench/README: "Micro-benchmarks").
//
// ours:       decode_block(..., PlaintextCheck::by_stored_hash), what the daemon's decode
//             pool runs for every block read from the network: stored-size check, SHA-256
//             of the stored bytes, decompress into the caller's buffer (exact length).
// raw:        the same work written straight against the libraries with the best reuse
//             they allow: OpenSSL SHA256(), inflate() on one z_stream reset per block /
//             ZSTD_decompressDCtx() on one context.
// ours_plain_hash / raw_plain_hash: the same plus the SHA-256 of the plaintext
//             (decode_block's PlaintextCheck::hash, used by `httpcloop verify`).
// decompress, sha256: each library call alone, for where the time goes.
//
// Every benchmark reports bytes_per_second over the *plaintext* block size. At the end a
// table prints ours/raw per codec and size (1.00 = no overhead).
//
// Inputs: a block half random bytes, half text lines (like bench/'s image, compressible
// to about 60%), encoded with encode_block() at the codec's default level.

#include "codec/codec.hpp"
#include "format/block_codec.hpp"
#include "format/manifest.hpp"

#include <benchmark/benchmark.h>
#include <openssl/sha.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace httpcloop;

constexpr uint32_t kSizes[] = {64 * 1024, 256 * 1024, 1024 * 1024};

std::vector<uint8_t> make_plain(uint32_t size)
{
	std::vector<uint8_t> plain(size);
	std::mt19937_64 random(42);
	size_t half = size / 2;
	for (size_t i = 0; i < half; i += 8) {
		uint64_t word = random();
		std::memcpy(plain.data() + i, &word, std::min<size_t>(8, half - i));
	}
	std::string text;
	for (unsigned line = 0; text.size() < size - half; line++)
		text += "httpcloop micro benchmark line " + std::to_string(line * 7919 % 100003) + ", moderately compressible\n";
	std::memcpy(plain.data() + half, text.data(), size - half);
	return plain;
}

// One encoded block and the one-entry manifest that describes it.
struct Fixture {
	Manifest manifest;
	std::vector<uint8_t> plain;
	std::vector<uint8_t> stored;
};

const Fixture& fixture(Codec codec, uint32_t size)
{
	static std::map<std::pair<int, uint32_t>, Fixture> fixtures;
	auto key = std::make_pair(static_cast<int>(codec), size);
	auto found = fixtures.find(key);
	if (found != fixtures.end())
		return found->second;
	Fixture f;
	f.plain = make_plain(size);
	EncodedBlock block = encode_block(codec, default_level(codec), f.plain);
	if (block.entry.is_raw() || block.entry.is_hole())
		throw std::runtime_error("micro bench input did not compress");
	f.stored = block.stored;
	f.manifest.image_size = size;
	f.manifest.block_size = size;
	f.manifest.codec = codec;
	f.manifest.blocks = {block.entry};
	return fixtures.emplace(key, std::move(f)).first->second;
}

void check(bool ok, const char* what)
{
	if (!ok)
		throw std::runtime_error(what);
}

void raw_inflate(z_stream& stream, const std::vector<uint8_t>& stored, std::vector<uint8_t>& out)
{
	check(inflateReset(&stream) == Z_OK, "inflateReset");
	stream.next_in = const_cast<Bytef*>(stored.data());
	stream.avail_in = static_cast<uInt>(stored.size());
	stream.next_out = out.data();
	stream.avail_out = static_cast<uInt>(out.size());
	check(inflate(&stream, Z_FINISH) == Z_STREAM_END && stream.avail_out == 0, "inflate");
}

void raw_zstd(ZSTD_DCtx* context, const std::vector<uint8_t>& stored, std::vector<uint8_t>& out)
{
	size_t n = ZSTD_decompressDCtx(context, out.data(), out.size(), stored.data(), stored.size());
	check(!ZSTD_isError(n) && n == out.size(), "ZSTD_decompressDCtx");
}

struct RawDecoder {
	z_stream stream{};
	ZSTD_DCtx* zstd = ZSTD_createDCtx();
	RawDecoder() { check(inflateInit(&stream) == Z_OK, "inflateInit"); }
	~RawDecoder()
	{
		inflateEnd(&stream);
		ZSTD_freeDCtx(zstd);
	}
	void decompress(Codec codec, const std::vector<uint8_t>& stored, std::vector<uint8_t>& out)
	{
		if (codec == Codec::zlib)
			raw_inflate(stream, stored, out);
		else
			raw_zstd(zstd, stored, out);
	}
};

void BM_ours(benchmark::State& state, Codec codec, PlaintextCheck plain_check)
{
	const Fixture& f = fixture(codec, static_cast<uint32_t>(state.range(0)));
	std::vector<uint8_t> out(f.plain.size());
	for (auto _ : state) {
		decode_block(f.manifest, 0, f.stored, out, plain_check);
		benchmark::DoNotOptimize(out.data());
	}
	check(out == f.plain, "decode_block gave wrong bytes");
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.plain.size()));
}

void BM_raw_plain_hash(benchmark::State& state, Codec codec)
{
	const Fixture& f = fixture(codec, static_cast<uint32_t>(state.range(0)));
	std::vector<uint8_t> out(f.plain.size());
	RawDecoder decoder;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	for (auto _ : state) {
		SHA256(f.stored.data(), f.stored.size(), digest);
		check(std::memcmp(digest, f.manifest.blocks[0].stored_hash.data(), sizeof digest) == 0, "stored hash");
		decoder.decompress(codec, f.stored, out);
		SHA256(out.data(), out.size(), digest);
		check(std::memcmp(digest, f.manifest.blocks[0].plain_hash.data(), sizeof digest) == 0, "plain hash");
		benchmark::DoNotOptimize(out.data());
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.plain.size()));
}

void BM_raw(benchmark::State& state, Codec codec)
{
	const Fixture& f = fixture(codec, static_cast<uint32_t>(state.range(0)));
	std::vector<uint8_t> out(f.plain.size());
	RawDecoder decoder;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	for (auto _ : state) {
		SHA256(f.stored.data(), f.stored.size(), digest);
		check(std::memcmp(digest, f.manifest.blocks[0].stored_hash.data(), sizeof digest) == 0, "stored hash");
		decoder.decompress(codec, f.stored, out);
		benchmark::DoNotOptimize(out.data());
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.plain.size()));
}

void BM_decompress(benchmark::State& state, Codec codec)
{
	const Fixture& f = fixture(codec, static_cast<uint32_t>(state.range(0)));
	std::vector<uint8_t> out(f.plain.size());
	RawDecoder decoder;
	for (auto _ : state) {
		decoder.decompress(codec, f.stored, out);
		benchmark::DoNotOptimize(out.data());
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(f.plain.size()));
}

void BM_sha256(benchmark::State& state)
{
	const std::vector<uint8_t> plain = make_plain(static_cast<uint32_t>(state.range(0)));
	unsigned char digest[SHA256_DIGEST_LENGTH];
	for (auto _ : state) {
		SHA256(plain.data(), plain.size(), digest);
		benchmark::DoNotOptimize(digest);
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(plain.size()));
}

void apply_sizes(benchmark::internal::Benchmark* b)
{
	for (uint32_t size : kSizes)
		b->Arg(size);
}

// Prints the console output as usual, then ours/raw per codec and size from the
// medians (or the single run without --benchmark_repetitions).
class RatioReporter : public benchmark::ConsoleReporter {
public:
	void ReportRuns(const std::vector<Run>& runs) override
	{
		ConsoleReporter::ReportRuns(runs);
		for (const Run& run : runs) {
			bool aggregate = run.run_type == Run::RT_Aggregate;
			if (aggregate && run.aggregate_name != "median")
				continue;
			auto rate = run.counters.find("bytes_per_second");
			if (rate == run.counters.end())
				continue;
			std::string name = run.run_name.str();
			if (!aggregate && medians_.count(name))
				continue;
			(aggregate ? medians_[name] : singles_[name]) = rate->second.value;
		}
	}

	void Finalize() override
	{
		ConsoleReporter::Finalize();
		auto rate = [&](const std::string& name) {
			auto m = medians_.find(name);
			if (m != medians_.end())
				return m->second;
			auto s = singles_.find(name);
			return s == singles_.end() ? 0.0 : s->second;
		};
		std::printf("\nper-block hot path, plaintext MB/s (ours = decode_block; raw = SHA-256 + decompress "
			    "straight on the libraries; +plain: with the plaintext SHA-256 too)\n");
		std::printf("%-6s %8s %8s %8s %9s %12s %11s %15s %11s %8s\n", "codec", "block", "ours", "raw", "ours/raw",
			    "ours +plain", "raw +plain", "ours/raw +plain", "decompress", "sha256");
		for (const char* codec : {"zlib", "zstd"}) {
			for (uint32_t size : kSizes) {
				std::string arg = "/" + std::to_string(size);
				double ours = rate(std::string("ours/") + codec + arg);
				double raw = rate(std::string("raw/") + codec + arg);
				double ours_plain = rate(std::string("ours_plain_hash/") + codec + arg);
				double raw_plain = rate(std::string("raw_plain_hash/") + codec + arg);
				double decompress = rate(std::string("decompress/") + codec + arg);
				double sha = rate("sha256" + arg);
				if (ours == 0 || raw == 0 || raw_plain == 0)
					continue;
				std::printf("%-6s %7uK %8.0f %8.0f %9.3f %12.0f %11.0f %15.3f %11.0f %8.0f\n", codec,
					    size / 1024, ours / 1e6, raw / 1e6, ours / raw, ours_plain / 1e6, raw_plain / 1e6,
					    ours_plain / raw_plain, decompress / 1e6, sha / 1e6);
			}
		}
	}

private:
	std::map<std::string, double> medians_, singles_;
};

} // namespace

int main(int argc, char** argv)
{
	for (Codec codec : {Codec::zlib, Codec::zstd}) {
		std::string name(codec_name(codec));
		benchmark::RegisterBenchmark(("ours/" + name).c_str(), BM_ours, codec, PlaintextCheck::by_stored_hash)
			->Apply(apply_sizes);
		benchmark::RegisterBenchmark(("raw/" + name).c_str(), BM_raw, codec)->Apply(apply_sizes);
		benchmark::RegisterBenchmark(("ours_plain_hash/" + name).c_str(), BM_ours, codec, PlaintextCheck::hash)
			->Apply(apply_sizes);
		benchmark::RegisterBenchmark(("raw_plain_hash/" + name).c_str(), BM_raw_plain_hash, codec)
			->Apply(apply_sizes);
		benchmark::RegisterBenchmark(("decompress/" + name).c_str(), BM_decompress, codec)->Apply(apply_sizes);
	}
	benchmark::RegisterBenchmark("sha256", BM_sha256)->Apply(apply_sizes);

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	RatioReporter reporter;
	benchmark::RunSpecifiedBenchmarks(&reporter);
	benchmark::Shutdown();
	return 0;
}
