#include "crypto/sha256.hpp"

#include "util/error.hpp"
#include "util/hex.hpp"

#include <openssl/evp.h>

namespace httpcloop {

void Sha256Hasher::ContextDeleter::operator()(EVP_MD_CTX* context) const
{
	EVP_MD_CTX_free(context);
}

Sha256Hasher::Sha256Hasher() : context_(EVP_MD_CTX_new())
{
	if (!context_)
		throw Error("SHA-256: cannot allocate an OpenSSL digest context");
	start();
}

void Sha256Hasher::start()
{
	if (EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1)
		throw Error("SHA-256: EVP_DigestInit_ex failed");
}

void Sha256Hasher::update(std::span<const uint8_t> bytes)
{
	if (EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) != 1)
		throw Error("SHA-256: EVP_DigestUpdate failed");
}

Sha256 Sha256Hasher::final()
{
	Sha256 digest{};
	unsigned int length = 0;
	if (EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1 || length != digest.size())
		throw Error("SHA-256: EVP_DigestFinal_ex failed");
	start();
	return digest;
}

Sha256 sha256(std::span<const uint8_t> bytes)
{
	// EVP_Digest sets up and frees its own context; one call per block is cheap enough.
	Sha256 digest{};
	unsigned int length = 0;
	if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
	    length != digest.size())
		throw Error("SHA-256: EVP_Digest failed");
	return digest;
}

std::string to_hex(const Sha256& digest)
{
	return to_hex(std::span<const uint8_t>(digest));
}

} // namespace httpcloop
