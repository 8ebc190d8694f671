#include "cli/image_options.hpp"

#include "cli/cli_support.hpp"
#include "format/manifest.hpp"

namespace httpcloop::cli {

uint32_t parse_block_size_option(const char* argument)
{
	const uint64_t size = parse_size(argument, "block size");
	if (!Manifest::is_valid_block_size(size))
		throw UsageError("block size " + std::string(argument) + " is not a power of two from 64K to 4M");
	return static_cast<uint32_t>(size);
}

Codec parse_codec_option(const char* argument)
{
	std::optional<Codec> codec = codec_from_name(argument);
	if (!codec)
		throw UsageError("unknown codec '" + std::string(argument) + "' (use zstd or zlib)");
	return *codec;
}

int level_option(const std::optional<std::string>& text, Codec codec)
{
	if (!text)
		return default_level(codec);
	return static_cast<int>(parse_integer(*text, min_level(codec), max_level(codec),
					      std::string(codec_name(codec)) + " level"));
}

} // namespace httpcloop::cli
