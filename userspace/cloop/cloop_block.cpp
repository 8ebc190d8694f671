#include "cloop/cloop_block.hpp"

#include "codec/codec.hpp"
#include "util/error.hpp"

#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>

#include <climits>
#include <cstring>
#include <string>

namespace httpcloop {

namespace {

[[noreturn]] void wrong_size(CloopCodec codec, size_t got, size_t expected)
{
	throw CodecError(std::string(cloop_codec_name(codec)) + " block decodes to " + std::to_string(got) +
			 " bytes, not the block size " + std::to_string(expected));
}

void decode_xz(std::span<const uint8_t> stored, std::span<uint8_t> out)
{
	// Enough for any preset xz's -9e included (674 MiB is for encoding; decoding needs the
	// dictionary, at most 64 MiB), and a bound for a hostile header.
	uint64_t memory_limit = 128u << 20;
	size_t in_position = 0;
	size_t out_position = 0;
	const lzma_ret result = lzma_stream_buffer_decode(&memory_limit, LZMA_FAIL_FAST, nullptr, stored.data(),
							  &in_position, stored.size(), out.data(), &out_position,
							  out.size());
	if (result == LZMA_BUF_ERROR && out_position == out.size())
		throw CodecError("xz block decodes to more than the block size " + std::to_string(out.size()));
	if (result != LZMA_OK)
		throw CodecError("xz block is not a valid .xz stream (liblzma error " + std::to_string(result) + ")");
	if (in_position != stored.size())
		throw CodecError("xz block has " + std::to_string(stored.size() - in_position) +
				 " bytes after its stream");
	if (out_position != out.size())
		wrong_size(CloopCodec::xz, out_position, out.size());
}

void decode_lz4(std::span<const uint8_t> stored, std::span<uint8_t> out)
{
	if (stored.size() > INT_MAX || out.size() > INT_MAX)
		throw CodecError("lz4 block is too large");
	const int decoded = LZ4_decompress_safe(reinterpret_cast<const char*>(stored.data()),
						reinterpret_cast<char*>(out.data()), static_cast<int>(stored.size()),
						static_cast<int>(out.size()));
	if (decoded < 0)
		throw CodecError("lz4 block is not a valid LZ4 block (or decodes to more than the block size)");
	if (static_cast<size_t>(decoded) != out.size())
		wrong_size(CloopCodec::lz4, static_cast<size_t>(decoded), out.size());
}

void decode_lzo(std::span<const uint8_t> stored, std::span<uint8_t> out)
{
	static const int init = lzo_init();
	if (init != LZO_E_OK)
		throw CodecError("lzo: lzo_init failed");
	lzo_uint out_length = out.size();
	const int result =
		lzo1x_decompress_safe(stored.data(), stored.size(), out.data(), &out_length, nullptr);
	if (result == LZO_E_OUTPUT_OVERRUN)
		throw CodecError("lzo1x block decodes to more than the block size " + std::to_string(out.size()));
	if (result == LZO_E_INPUT_NOT_CONSUMED)
		throw CodecError("lzo1x block has bytes after its stream");
	if (result != LZO_E_OK)
		throw CodecError("lzo1x block is not a valid LZO1X stream (error " + std::to_string(result) + ")");
	if (out_length != out.size())
		wrong_size(CloopCodec::lzo1x, out_length, out.size());
}

} // namespace

void decode_cloop_block(CloopCodec codec, std::span<const uint8_t> stored, std::span<uint8_t> out_exact)
{
	switch (codec) {
	case CloopCodec::zlib:
		decompress(Codec::zlib, stored, out_exact);
		return;
	case CloopCodec::none:
		if (stored.size() != out_exact.size())
			wrong_size(codec, stored.size(), out_exact.size());
		std::memcpy(out_exact.data(), stored.data(), stored.size());
		return;
	case CloopCodec::xz: decode_xz(stored, out_exact); return;
	case CloopCodec::lz4: decode_lz4(stored, out_exact); return;
	case CloopCodec::lzo1x: decode_lzo(stored, out_exact); return;
	}
	throw CodecError("unknown cloop compressor " + std::to_string(static_cast<int>(codec)));
}

} // namespace httpcloop
