#pragma once

#include "crypto/sha256.hpp"

#include <string>

namespace httpcloop {

// Path of a block file relative to the image base: "blocks/ab/ab<62 more hex digits>".
std::string block_relpath(const Sha256& stored_hash);

} // namespace httpcloop
