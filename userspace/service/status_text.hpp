#pragma once
// The `key=value` status lines a serving process (the kernel daemon or the FUSE variant)
// sends over its control socket; `httpcloop status` reads them.

#include "crypto/sha256.hpp"
#include "service/block_service.hpp"

#include <string>

namespace httpcloop {

std::string service_status_text(const std::string& url, const Sha256& image_id, BlockService& service);

} // namespace httpcloop
