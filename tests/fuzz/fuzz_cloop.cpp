// A cloop file (import-cloop's input): any bytes either give an index and blocks that
// decode, or FormatError / CodecError; every block the index gives lies within the file,
// and decoding never writes past the block.
#include "cloop/cloop_block.hpp"
#include "cloop/cloop_index.hpp"
#include "util/error.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	using namespace httpcloop;
	auto read_at = [&](std::span<uint8_t> out, uint64_t offset) {
		if (offset > size || out.size() > size - offset)
			std::abort(); // the reader asked for bytes past the end it was told
		std::memcpy(out.data(), data + offset, out.size());
	};
	CloopIndex index;
	try {
		index = read_cloop_index(read_at, size, "fuzz");
	} catch (const FormatError&) {
		return 0;
	}
	// Bounded work per input: a few blocks of at most 1 MiB.
	if (index.block_size > (1u << 20))
		return 0;
	std::vector<uint8_t> plain(index.block_size);
	std::vector<uint8_t> stored;
	for (size_t i = 0; i < index.blocks.size() && i < 16; ++i) {
		const CloopBlock& block = index.blocks[i];
		if (block.offset > size || block.length > size - block.offset || block.length > index.max_stored_length())
			std::abort();
		stored.assign(data + block.offset, data + block.offset + block.length);
		try {
			decode_cloop_block(block.codec, stored, plain);
		} catch (const CodecError&) {
		}
	}
	return 0;
}
