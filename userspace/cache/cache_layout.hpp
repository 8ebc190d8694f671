#pragma once
// The files of one image's cache directory, DIR/<image-id>/ (docs/format.md, "Client
// cache directory"): named once, for the cache itself and for the other images' caches
// that read it (SiblingBlocks).

namespace httpcloop::cache_layout {

constexpr char kDataName[] = "data";             // plaintext, image_size bytes
constexpr char kRecordName[] = "present";        // the present-block record
constexpr char kRecordTempName[] = "present.tmp";
constexpr char kLockName[] = "lock";             // flock()ed by the serving process
constexpr char kManifestName[] = "manifest";     // a copy of the image's manifest

} // namespace httpcloop::cache_layout
