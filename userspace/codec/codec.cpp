#include "codec/codec.hpp"

#include "codec/zlib_codec.hpp"
#include "codec/zstd_codec.hpp"
#include "util/error.hpp"

#include <string>

namespace httpcloop {

namespace {

[[noreturn]] void throw_unknown_codec(Codec codec)
{
	throw CodecError("unknown codec " + std::to_string(static_cast<unsigned>(codec)));
}

void check_level(Codec codec, int level)
{
	if (level < min_level(codec) || level > max_level(codec))
		throw CodecError(std::string(codec_name(codec)) + " level " + std::to_string(level) +
				 " is out of range " + std::to_string(min_level(codec)) + ".." +
				 std::to_string(max_level(codec)));
}

} // namespace

std::optional<Codec> codec_from_name(std::string_view name)
{
	if (name == "zlib")
		return Codec::zlib;
	if (name == "zstd")
		return Codec::zstd;
	return std::nullopt;
}

std::string_view codec_name(Codec codec)
{
	switch (codec) {
	case Codec::zlib:
		return "zlib";
	case Codec::zstd:
		return "zstd";
	}
	return "unknown";
}

std::optional<Codec> codec_from_id(uint8_t id)
{
	switch (id) {
	case static_cast<uint8_t>(Codec::zlib):
		return Codec::zlib;
	case static_cast<uint8_t>(Codec::zstd):
		return Codec::zstd;
	default:
		return std::nullopt;
	}
}

int default_level(Codec codec)
{
	return codec == Codec::zlib ? 6 : 3;
}

int min_level(Codec codec)
{
	return codec == Codec::zlib ? 1 : zstd_codec::min_level();
}

int max_level(Codec codec)
{
	return codec == Codec::zlib ? 9 : zstd_codec::max_level();
}

size_t compress_bound(Codec codec, size_t plain_size)
{
	switch (codec) {
	case Codec::zlib:
		return zlib_codec::bound(plain_size);
	case Codec::zstd:
		return zstd_codec::bound(plain_size);
	}
	throw_unknown_codec(codec);
}

std::vector<uint8_t> compress(Codec codec, int level, std::span<const uint8_t> plain)
{
	check_level(codec, level);
	switch (codec) {
	case Codec::zlib:
		return zlib_codec::compress(level, plain);
	case Codec::zstd:
		return zstd_codec::compress(level, plain);
	}
	throw_unknown_codec(codec);
}

void decompress(Codec codec, std::span<const uint8_t> stored, std::span<uint8_t> out_exact)
{
	switch (codec) {
	case Codec::zlib:
		return zlib_codec::decompress(stored, out_exact);
	case Codec::zstd:
		return zstd_codec::decompress(stored, out_exact);
	}
	throw_unknown_codec(codec);
}

} // namespace httpcloop
