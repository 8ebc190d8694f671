#include "cloop/import_cloop.hpp"

#include "cloop/cloop_block.hpp"
#include "cloop/cloop_index.hpp"
#include "format/block_codec.hpp"
#include "image/block_file_writer.hpp"
#include "image/mkimage.hpp"
#include "image/pack_writer.hpp"
#include "image/source_file.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace httpcloop {

namespace {

// Where the image's stored blocks go: one file each under OUTDIR/blocks/, or the pack.
class BlockSink {
public:
	BlockSink(const std::filesystem::path& output_dir, Manifest& manifest, bool pack) : manifest_(manifest)
	{
		if (pack) {
			manifest.flags |= Manifest::kFlagPacked;
			pack_.emplace(output_dir, manifest.blocks);
		} else {
			files_.emplace(output_dir);
		}
	}

	void store(uint64_t index, EncodedBlock block)
	{
		if (pack_) {
			pack_->add(index, std::move(block)); // in order: written at once
			return;
		}
		if (!block.entry.is_hole() && files_->write_if_absent(block.entry.stored_hash, block.stored))
			++new_files_;
		manifest_.blocks[index] = block.entry;
	}

	// Returns the pack's size (0 without a pack).
	uint64_t commit()
	{
		if (!pack_)
			return 0;
		pack_->commit();
		return pack_->size();
	}
	uint64_t new_files() const { return new_files_; }

private:
	Manifest& manifest_;
	std::optional<BlockFileWriter> files_;
	std::optional<PackWriter> pack_;
	uint64_t new_files_ = 0;
};

uint32_t image_block_size(const ImportCloopOptions& options, const CloopIndex& index)
{
	if (options.block_size) {
		if (!Manifest::is_valid_block_size(*options.block_size))
			throw Error("block size " + std::to_string(*options.block_size) +
				    " is not a power of two from 64K to 4M");
		return *options.block_size;
	}
	return Manifest::is_valid_block_size(index.block_size) ? index.block_size
							       : Manifest::default_block_size(index.image_size());
}

} // namespace

ImportCloopResult import_cloop(const ImportCloopOptions& options,
			       const std::function<void(const ImportCloopProgress&)>& on_progress)
{
	if (options.level < min_level(options.codec) || options.level > max_level(options.codec))
		throw Error(std::string(codec_name(options.codec)) + " level " + std::to_string(options.level) +
			    " is out of range");
	SourceFile source = open_source(options.source);
	const std::string what = options.source.string();
	auto read_at = [&](std::span<uint8_t> out, uint64_t offset) { pread_exact(source.fd.get(), out, offset, what); };
	const CloopIndex index = read_cloop_index(read_at, source.size, what);

	ImportCloopResult result;
	result.cloop_version = index.version;
	result.cloop_block_size = index.block_size;
	result.cloop_blocks = index.blocks.size();
	Manifest& manifest = result.manifest;
	manifest.image_size = index.image_size();
	manifest.block_size = image_block_size(options, index);
	manifest.codec = options.codec;
	const uint64_t block_count = Manifest::block_count_for(manifest.image_size, manifest.block_size);
	if (block_count > Manifest::kMaxBlockCount)
		throw Error(what + " needs " + std::to_string(block_count) + " blocks, above the manifest limit of " +
			    std::to_string(Manifest::kMaxBlockCount) + "; use a larger block size");
	manifest.blocks.resize(block_count);
	BlockSink sink(options.output_dir, manifest, options.pack);

	// cloop's zlib blocks are RFC 1950 streams like ours: kept when the blocks line up.
	const bool keep_zlib_streams = options.codec == Codec::zlib && manifest.block_size == index.block_size;
	std::vector<uint8_t> stored(index.max_stored_length());
	std::vector<uint8_t> plain(index.block_size);
	std::vector<uint8_t> regrouped; // the next image block, when block sizes differ
	regrouped.reserve(manifest.block_size);
	uint64_t next_block = 0;
	auto store_encoded = [&](std::span<const uint8_t> block_plain) {
		sink.store(next_block++, encode_block(options.codec, options.level, block_plain));
		++result.reencoded_blocks;
	};

	ImportCloopProgress progress{0, manifest.image_size};
	for (uint64_t number = 0; number < index.blocks.size(); ++number) {
		const CloopBlock& block = index.blocks[number];
		std::span<uint8_t> bytes = std::span(stored).first(block.length);
		read_at(bytes, block.offset);
		try {
			decode_cloop_block(block.codec, bytes, plain);
		} catch (const CodecError& error) {
			throw CodecError(what + ": cloop block " + std::to_string(number) + " (" +
					 std::string(cloop_codec_name(block.codec)) + ", " + std::to_string(block.length) +
					 " bytes at offset " + std::to_string(block.offset) + "): " + error.what() +
					 "; no image written");
		}
		if (keep_zlib_streams && block.codec == CloopCodec::zlib) {
			EncodedBlock kept = encode_block_with_stream(plain, std::vector<uint8_t>(bytes.begin(), bytes.end()));
			// A hole, or a stream no smaller than its plaintext, is stored as mkimage stores it.
			if (!kept.entry.is_hole() && !kept.entry.is_raw())
				++result.kept_streams;
			sink.store(next_block++, std::move(kept));
		} else if (keep_zlib_streams) {
			store_encoded(plain);
		} else {
			std::span<const uint8_t> rest = plain;
			while (!rest.empty()) {
				const size_t take = std::min(rest.size(), manifest.block_size - regrouped.size());
				regrouped.insert(regrouped.end(), rest.begin(), rest.begin() + static_cast<ptrdiff_t>(take));
				rest = rest.subspan(take);
				if (regrouped.size() == manifest.block_size) {
					store_encoded(regrouped);
					regrouped.clear();
				}
			}
		}
		progress.bytes_decoded += plain.size();
		if (on_progress)
			on_progress(progress);
	}
	if (!regrouped.empty())
		store_encoded(regrouped); // the image's last, shorter block
	if (next_block != block_count)
		throw Error("import-cloop: stored " + std::to_string(next_block) + " blocks of " +
			    std::to_string(block_count) + " (a bug)");

	result.pack_size = sink.commit();
	result.manifest_id = publish_manifest(options.output_dir, manifest);
	result.stats = compute_stats(manifest);
	result.new_block_files = sink.new_files();
	return result;
}

} // namespace httpcloop
