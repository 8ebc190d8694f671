#include "format/block_codec.hpp"

#include "format/zero_block.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace httpcloop {

namespace {

std::string block_label(uint64_t index)
{
	return "block " + std::to_string(index);
}

} // namespace

std::span<const uint8_t> decode_block_view(const Manifest& manifest, uint64_t index, std::span<const uint8_t> stored,
					   std::span<uint8_t> plain_out, PlaintextCheck check, DecodeTimes* times)
{
	using Clock = std::chrono::steady_clock;
	const auto started = Clock::now();
	const BlockEntry& entry = manifest.blocks.at(index);
	const uint32_t plain_size = manifest.plain_size(index);
	if (plain_out.size() != plain_size)
		throw Error(block_label(index) + ": output buffer is " + std::to_string(plain_out.size()) +
			    " bytes, the block has " + std::to_string(plain_size));
	if (stored.size() != entry.stored_size)
		throw IntegrityError(block_label(index) + ": stored size " + std::to_string(stored.size()) +
				     " does not match the manifest's " + std::to_string(entry.stored_size));
	if (entry.is_hole()) {
		std::fill(plain_out.begin(), plain_out.end(), uint8_t{0});
		return plain_out;
	}
	if (sha256(stored) != entry.stored_hash)
		throw IntegrityError(block_label(index) + ": hash mismatch (stored bytes are not what the manifest names)");
	const auto hashed = Clock::now();
	if (times)
		times->hash += hashed - started;

	if (entry.is_raw()) {
		// The stored bytes are the plaintext: one hash covers both.
		if (entry.plain_hash != entry.stored_hash)
			throw IntegrityError(block_label(index) + ": raw block whose two hashes differ");
		return stored; // as long as the plaintext: the manifest loader checks raw sizes
	}
	try {
		decompress(manifest.codec, stored, plain_out);
	} catch (const CodecError& error) {
		throw CodecError(block_label(index) + ": " + error.what());
	}
	if (times)
		times->decompress += Clock::now() - hashed;
	if (check == PlaintextCheck::hash && sha256(plain_out) != entry.plain_hash)
		throw IntegrityError(block_label(index) + ": plaintext hash mismatch");
	return plain_out;
}

void decode_block(const Manifest& manifest, uint64_t index, std::span<const uint8_t> stored,
		  std::span<uint8_t> plain_out, PlaintextCheck check)
{
	std::span<const uint8_t> plain = decode_block_view(manifest, index, stored, plain_out, check);
	if (plain.data() != plain_out.data())
		std::memcpy(plain_out.data(), plain.data(), plain.size());
}

EncodedBlock encode_block(Codec codec, int level, std::span<const uint8_t> plain)
{
	// A hole (or an empty block, refused there) needs no compression.
	if (is_all_zero(plain))
		return encode_block_with_stream(plain, {});
	return encode_block_with_stream(plain, compress(codec, level, plain));
}

EncodedBlock encode_hole(size_t size)
{
	if (size == 0)
		throw Error("cannot encode an empty block");
	EncodedBlock block;
	block.entry.flags = BlockEntry::kFlagZero;
	block.entry.plain_hash = zero_block_hash(size);
	return block;
}

EncodedBlock encode_block_with_stream(std::span<const uint8_t> plain, std::vector<uint8_t> stream)
{
	EncodedBlock block;
	if (plain.empty())
		throw Error("cannot encode an empty block");
	if (is_all_zero(plain))
		return encode_hole(plain.size());
	block.entry.plain_hash = sha256(plain);
	block.stored = std::move(stream);
	if (block.stored.size() >= plain.size()) {
		block.stored.assign(plain.begin(), plain.end());
		block.entry.flags = BlockEntry::kFlagRaw;
	}
	block.entry.stored_size = static_cast<uint32_t>(block.stored.size());
	block.entry.stored_hash = sha256(block.stored);
	return block;
}

} // namespace httpcloop
