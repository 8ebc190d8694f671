#pragma once
// `httpcloop verify`: check a published image, or a local cache of one, block by block.
//
// A published image: every block's stored bytes (a block file, or its range of
// blocks.pack) must have the SHA-256 the manifest names, decompress to exactly its size and
// have the plaintext SHA-256 the manifest names. A cache (on untrusted local storage, a USB
// stick as InetBoot used): every block recorded present must have its plaintext hash;
// blocks that do not are forgotten, so they are fetched again.

#include "cache/cache_store.hpp"
#include "format/block_codec.hpp"
#include "format/manifest.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace httpcloop {

struct VerifyReport {
	uint64_t blocks_checked = 0;
	uint64_t plain_bytes = 0;
	uint64_t bad_blocks = 0;
	std::vector<std::string> problems; // the first few, for the user
	double seconds = 0;
};

// `location`: an http(s) base URL or a local image directory. Uses `threads` threads.
// `ca_file` (--cacert), if not empty: the CAs trusted for an https:// location.
VerifyReport verify_published(const std::string& location, const Manifest& manifest, unsigned threads,
			      PlaintextCheck check = PlaintextCheck::hash, const std::string& ca_file = {});

// Checks the cached plaintext of every present block; forgets the bad ones.
VerifyReport verify_cache(CacheStore& cache, const Manifest& manifest, unsigned threads);

} // namespace httpcloop
