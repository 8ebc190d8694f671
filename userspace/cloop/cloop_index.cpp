#include "cloop/cloop_index.hpp"

#include "util/error.hpp"

#include <cstring>

namespace httpcloop {

namespace {

constexpr size_t kSignatureOffset = 0x0b; // "#!/bin/sh\n#" precedes "V2.0" or "V4.0"
constexpr uint64_t kCodecShift = 60;
constexpr uint64_t kOffsetMask = (uint64_t{1} << kCodecShift) - 1;

uint32_t load_be32(const uint8_t* bytes)
{
	return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

uint64_t load_be64(const uint8_t* bytes)
{
	return (uint64_t{load_be32(bytes)} << 32) | load_be32(bytes + 4);
}

// 2 or 4 for a header with that signature, 0 otherwise.
int header_version(std::span<const uint8_t> header)
{
	const char* signature = reinterpret_cast<const char*>(header.data() + kSignatureOffset);
	if (std::memcmp(signature, "V2.0", 4) == 0)
		return 2;
	if (std::memcmp(signature, "V4.0", 4) == 0)
		return 4;
	return 0;
}

} // namespace

std::string_view cloop_codec_name(CloopCodec codec)
{
	switch (codec) {
	case CloopCodec::zlib: return "zlib";
	case CloopCodec::none: return "none";
	case CloopCodec::xz: return "xz";
	case CloopCodec::lz4: return "lz4";
	case CloopCodec::lzo1x: return "lzo1x";
	}
	return "unknown";
}

CloopIndex read_cloop_index(const CloopReadAt& read_at, uint64_t file_size, const std::string& what)
{
	auto fail = [&](const std::string& problem) -> FormatError {
		return FormatError(what + ": not a usable cloop file: " + problem);
	};
	if (file_size < CloopIndex::kHeaderSize)
		throw fail("it has " + std::to_string(file_size) + " bytes, fewer than a cloop header (" +
			   std::to_string(CloopIndex::kHeaderSize) + ")");

	CloopIndex index;
	std::vector<uint8_t> header(CloopIndex::kHeaderSize);
	read_at(header, 0);
	index.version = header_version(header);
	if (index.version == 0) {
		// cloop 4 may also put its header (and the table before it) at the end.
		read_at(header, file_size - CloopIndex::kHeaderSize);
		index.version = header_version(header);
		index.header_first = false;
	}
	if (index.version == 0)
		throw fail("no cloop signature (\"V2.0\" or \"V4.0\" at byte 11 of its first or last " +
			   std::to_string(CloopIndex::kHeaderSize) + " bytes)");

	index.block_size = load_be32(header.data() + 128);
	const uint32_t block_count = load_be32(header.data() + 132);
	if (index.block_size == 0 || index.block_size % 512 != 0 || index.block_size > CloopIndex::kMaxBlockSize)
		throw fail("block size " + std::to_string(index.block_size) +
			   " is not a multiple of 512 from 512 to 16 MiB");
	if (block_count == 0)
		throw fail("it has no blocks");
	if (block_count > CloopIndex::kMaxBlocks)
		throw fail("it has " + std::to_string(block_count) + " blocks, more than import-cloop reads (" +
			   std::to_string(CloopIndex::kMaxBlocks) + ")");

	// block_count + 1 offsets: block i is [offset i, offset i + 1).
	const uint64_t table_bytes = (uint64_t{block_count} + 1) * 8;
	if (table_bytes > file_size - CloopIndex::kHeaderSize)
		throw fail("its offset table of " + std::to_string(block_count + uint64_t{1}) + " entries needs " +
			   std::to_string(table_bytes) + " bytes beside the header; the file has " +
			   std::to_string(file_size) + " (truncated?)");
	const uint64_t table_start =
		index.header_first ? CloopIndex::kHeaderSize : file_size - CloopIndex::kHeaderSize - table_bytes;
	// Where block data may lie: between the table and the end, or the start and the table.
	const uint64_t data_start = index.header_first ? table_start + table_bytes : 0;
	const uint64_t data_end = index.header_first ? file_size : table_start;

	index.blocks.resize(block_count);
	std::vector<uint8_t> chunk(64 * 1024);
	uint64_t previous_end = 0;
	for (uint64_t entry = 0; entry <= block_count; entry += chunk.size() / 8) {
		const uint64_t entries = std::min<uint64_t>(chunk.size() / 8, block_count + uint64_t{1} - entry);
		std::span<uint8_t> bytes = std::span(chunk).first(entries * 8);
		read_at(bytes, table_start + entry * 8);
		for (uint64_t i = 0; i < entries; ++i) {
			const uint64_t number = entry + i;
			const uint64_t raw = load_be64(bytes.data() + i * 8);
			// cloop 2 has no compressor bits: a set top bit is an offset past any file.
			const uint64_t offset = index.version == 4 ? raw & kOffsetMask : raw;
			if (offset < data_start || offset > data_end)
				throw fail("block " + std::to_string(number) + "'s offset " + std::to_string(offset) +
					   " is outside its data (bytes " + std::to_string(data_start) + " to " +
					   std::to_string(data_end) + ")");
			if (number > 0 && offset < previous_end)
				throw fail("block " + std::to_string(number) + "'s offset " + std::to_string(offset) +
					   " is before block " + std::to_string(number - 1) + "'s (" +
					   std::to_string(previous_end) + "): offsets out of order");
			if (number > 0) {
				CloopBlock& block = index.blocks[number - 1];
				const uint64_t length = offset - block.offset;
				if (length > index.max_stored_length())
					throw fail("block " + std::to_string(number - 1) + " takes " + std::to_string(length) +
						   " bytes, more than any compressor makes of a " +
						   std::to_string(index.block_size) + "-byte block");
				block.length = static_cast<uint32_t>(length);
			}
			if (number < block_count) {
				const uint64_t codec = index.version == 4 ? raw >> kCodecShift : 0;
				if (codec > static_cast<uint64_t>(CloopCodec::lzo1x))
					throw fail("block " + std::to_string(number) + " has unknown compressor " +
						   std::to_string(codec));
				index.blocks[number].offset = offset;
				index.blocks[number].codec = static_cast<CloopCodec>(codec);
			}
			previous_end = offset;
		}
	}
	return index;
}

} // namespace httpcloop
