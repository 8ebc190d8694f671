#include "codec/zstd_codec.hpp"

#include "util/error.hpp"

#include <memory>
#include <string>
#include <zstd.h>
#include <zstd_errors.h>

namespace httpcloop::zstd_codec {

namespace {

struct CompressContextDeleter {
	void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
};
struct DecompressContextDeleter {
	void operator()(ZSTD_DCtx* context) const { ZSTD_freeDCtx(context); }
};
using CompressContext = std::unique_ptr<ZSTD_CCtx, CompressContextDeleter>;
using DecompressContext = std::unique_ptr<ZSTD_DCtx, DecompressContextDeleter>;

// Contexts are kept per thread: creating one per block costs more than compressing a
// small block at a low level.
ZSTD_CCtx* thread_compress_context()
{
	thread_local CompressContext context(ZSTD_createCCtx());
	if (!context)
		throw CodecError("zstd: cannot allocate a compression context");
	return context.get();
}

ZSTD_DCtx* thread_decompress_context()
{
	thread_local DecompressContext context(ZSTD_createDCtx());
	if (!context)
		throw CodecError("zstd: cannot allocate a decompression context");
	return context.get();
}

void check(size_t result, const char* what)
{
	if (ZSTD_isError(result))
		throw CodecError(std::string("zstd: ") + what + ": " + ZSTD_getErrorName(result));
}

} // namespace

size_t bound(size_t plain_size)
{
	return ZSTD_compressBound(plain_size);
}

int min_level()
{
	return 1; // negative ("fast") levels are not offered: they rarely beat raw storage by much
}

int max_level()
{
	return ZSTD_maxCLevel();
}

std::vector<uint8_t> compress(int level, std::span<const uint8_t> plain)
{
	ZSTD_CCtx* context = thread_compress_context();
	check(ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters), "reset");
	check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "set level");
	// The frame records its content size, so a reader can reject a wrong size up front.
	check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1), "set content size flag");
	std::vector<uint8_t> stored(bound(plain.size()));
	size_t size = ZSTD_compress2(context, stored.data(), stored.size(), plain.data(), plain.size());
	check(size, "compress");
	stored.resize(size);
	return stored;
}

void decompress(std::span<const uint8_t> stored, std::span<uint8_t> out_exact)
{
	const std::string expected = std::to_string(out_exact.size());
	size_t frame_size = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
	if (ZSTD_isError(frame_size))
		throw CodecError(std::string("corrupt or truncated zstd frame: ") + ZSTD_getErrorName(frame_size));
	if (frame_size != stored.size())
		throw CodecError(std::to_string(stored.size() - frame_size) + " trailing bytes after the zstd frame");

	unsigned long long declared = ZSTD_getFrameContentSize(stored.data(), stored.size());
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		throw CodecError("corrupt zstd frame header");
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != out_exact.size())
		throw CodecError("zstd frame declares " + std::to_string(declared) + " bytes, expected " + expected);

	// One-shot decompression uses the output buffer as its window, so a hostile frame
	// header cannot make us allocate a large window.
	size_t size = ZSTD_decompressDCtx(thread_decompress_context(), out_exact.data(), out_exact.size(),
					  stored.data(), stored.size());
	if (ZSTD_isError(size)) {
		if (ZSTD_getErrorCode(size) == ZSTD_error_dstSize_tooSmall)
			throw CodecError("zstd frame decodes to more than " + expected + " bytes");
		throw CodecError(std::string("corrupt zstd frame: ") + ZSTD_getErrorName(size));
	}
	if (size != out_exact.size())
		throw CodecError("zstd frame decodes to " + std::to_string(size) + " bytes, expected " + expected);
}

} // namespace httpcloop::zstd_codec
