#pragma once
// SHA-256 through OpenSSL's EVP interface.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace httpcloop {

using Sha256 = std::array<uint8_t, 32>;

Sha256 sha256(std::span<const uint8_t> bytes);

std::string to_hex(const Sha256& digest);

// Incremental hashing for inputs too big to hold in memory (whole images, downloads).
class Sha256Hasher {
public:
	Sha256Hasher();
	void update(std::span<const uint8_t> bytes);
	// Returns the digest; the hasher is then reset and can be reused.
	Sha256 final();

private:
	struct ContextDeleter {
		void operator()(EVP_MD_CTX* context) const;
	};
	void start();

	std::unique_ptr<EVP_MD_CTX, ContextDeleter> context_;
};

} // namespace httpcloop
