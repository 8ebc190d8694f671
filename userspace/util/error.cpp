#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace httpcloop {

void throw_errno(const std::string& what, int errnum)
{
	throw IoError(what + ": " + std::strerror(errnum));
}

void throw_errno(const std::string& what)
{
	throw_errno(what, errno);
}

} // namespace httpcloop
