#include "format/block_name.hpp"

namespace httpcloop {

std::string block_relpath(const Sha256& stored_hash)
{
	std::string name = to_hex(stored_hash);
	return "blocks/" + name.substr(0, 2) + "/" + name;
}

} // namespace httpcloop
