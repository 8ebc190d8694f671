#pragma once
// The project's exception types. Every failure that untrusted input, the network or the
// operating system can cause is reported as one of these, with a message that names the
// problem, so the CLI and the daemon can print it as is.

#include <stdexcept>
#include <string>

namespace httpcloop {

struct Error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

// A manifest, cache record or other structured file that breaks docs/format.md.
struct FormatError : Error {
	using Error::Error;
};

// A compressed stream that does not decode to exactly what it should.
struct CodecError : Error {
	using Error::Error;
};

// A block whose bytes do not match the hash the manifest promises.
struct IntegrityError : Error {
	using Error::Error;
};

// A system call failed; the message carries strerror(errno).
struct IoError : Error {
	using Error::Error;
};

// An HTTP transfer failed (transport error, HTTP status >= 400, size limit).
struct HttpError : Error {
	using Error::Error;
};

// The kernel refused a netlink request; `errnum` is its positive errno.
struct KernelError : Error {
	KernelError(const std::string& message, int errnum) : Error(message), errnum(errnum) {}
	int errnum;
};

// Throws IoError("<what>: <strerror(errnum)>").
[[noreturn]] void throw_errno(const std::string& what, int errnum);
// Same, with the current errno.
[[noreturn]] void throw_errno(const std::string& what);

} // namespace httpcloop
