#include "codec/zlib_codec.hpp"

#include "util/error.hpp"

#include <limits>
#include <optional>
#include <string>
#include <zlib.h>

namespace httpcloop::zlib_codec {

namespace {

// Owns an initialised z_stream for deflate. Kept per thread and reset between blocks,
// because deflateInit allocates a few hundred KiB each time.
class DeflateStream {
public:
	explicit DeflateStream(int level) : level_(level)
	{
		if (deflateInit(&stream_, level) != Z_OK)
			throw CodecError("zlib: deflateInit failed (level " + std::to_string(level) + ")");
	}
	~DeflateStream() { deflateEnd(&stream_); }
	DeflateStream(const DeflateStream&) = delete;
	DeflateStream& operator=(const DeflateStream&) = delete;

	z_stream& reset()
	{
		if (deflateReset(&stream_) != Z_OK)
			throw CodecError("zlib: deflateReset failed");
		return stream_;
	}
	int level() const { return level_; }

private:
	z_stream stream_{};
	int level_;
};

class InflateStream {
public:
	InflateStream()
	{
		if (inflateInit(&stream_) != Z_OK)
			throw CodecError("zlib: inflateInit failed");
	}
	~InflateStream() { inflateEnd(&stream_); }
	InflateStream(const InflateStream&) = delete;
	InflateStream& operator=(const InflateStream&) = delete;

	z_stream& reset()
	{
		if (inflateReset(&stream_) != Z_OK)
			throw CodecError("zlib: inflateReset failed");
		return stream_;
	}

private:
	z_stream stream_{};
};

DeflateStream& thread_deflate_stream(int level)
{
	thread_local std::optional<DeflateStream> stream;
	if (!stream || stream->level() != level) {
		stream.reset();
		stream.emplace(level);
	}
	return *stream;
}

InflateStream& thread_inflate_stream()
{
	thread_local InflateStream stream;
	return stream;
}

// zlib counts in uInt; blocks are at most a few MiB, but refuse anything that would
// silently truncate.
uInt checked_uint(size_t size)
{
	if (size > std::numeric_limits<uInt>::max())
		throw CodecError("zlib: buffer of " + std::to_string(size) + " bytes is too large");
	return static_cast<uInt>(size);
}

std::string zlib_detail(const z_stream& stream)
{
	return stream.msg ? std::string(": ") + stream.msg : std::string();
}

} // namespace

size_t bound(size_t plain_size)
{
	return compressBound(static_cast<uLong>(plain_size));
}

std::vector<uint8_t> compress(int level, std::span<const uint8_t> plain)
{
	std::vector<uint8_t> stored(bound(plain.size()));
	z_stream& stream = thread_deflate_stream(level).reset();
	stream.next_in = const_cast<Bytef*>(plain.data()); // zlib's API is not const-correct
	stream.avail_in = checked_uint(plain.size());
	stream.next_out = stored.data();
	stream.avail_out = checked_uint(stored.size());
	int result = deflate(&stream, Z_FINISH);
	if (result != Z_STREAM_END)
		throw CodecError("zlib: deflate failed (" + std::to_string(result) + ")" + zlib_detail(stream));
	stored.resize(stream.total_out);
	return stored;
}

void decompress(std::span<const uint8_t> stored, std::span<uint8_t> out_exact)
{
	const std::string expected = std::to_string(out_exact.size());
	z_stream& stream = thread_inflate_stream().reset();
	stream.next_in = const_cast<Bytef*>(stored.data());
	stream.avail_in = checked_uint(stored.size());
	stream.next_out = out_exact.data();
	stream.avail_out = checked_uint(out_exact.size());

	int result = inflate(&stream, Z_FINISH);
	if (result != Z_STREAM_END && stream.avail_out == 0 &&
	    (result == Z_OK || result == Z_BUF_ERROR)) {
		// The output is full but the stream has not ended: find out whether it wants to
		// produce more (oversized) or only lacks input (truncated).
		uint8_t probe = 0;
		stream.next_out = &probe;
		stream.avail_out = 1;
		result = inflate(&stream, Z_FINISH);
		if (stream.avail_out == 0)
			throw CodecError("zlib stream decodes to more than " + expected + " bytes");
	}
	switch (result) {
	case Z_STREAM_END:
		break;
	case Z_NEED_DICT:
		throw CodecError("zlib stream needs a preset dictionary");
	case Z_DATA_ERROR:
		throw CodecError("corrupt zlib stream" + zlib_detail(stream));
	case Z_MEM_ERROR:
		throw CodecError("zlib: out of memory");
	case Z_OK:
	case Z_BUF_ERROR:
		throw CodecError("truncated zlib stream (decoded " + std::to_string(stream.total_out) +
				 " of " + expected + " bytes)");
	default:
		throw CodecError("zlib: inflate failed (" + std::to_string(result) + ")" + zlib_detail(stream));
	}
	if (stream.avail_in != 0)
		throw CodecError(std::to_string(stream.avail_in) + " trailing bytes after the zlib stream");
	if (stream.total_out != out_exact.size())
		throw CodecError("zlib stream decodes to " + std::to_string(stream.total_out) +
				 " bytes, expected " + expected);
}

} // namespace httpcloop::zlib_codec
