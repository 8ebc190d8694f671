#include "crypto/ed25519.hpp"

#include "util/error.hpp"
#include "util/fd.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fcntl.h>
#include <vector>

namespace httpcloop {

namespace {

struct BioDeleter {
	void operator()(BIO* bio) const { BIO_free(bio); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;

struct MdContextDeleter {
	void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using UniqueMdContext = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

// The reason of the newest OpenSSL error, for messages; clears the queue.
std::string openssl_reason()
{
	unsigned long code = ERR_peek_last_error();
	std::string reason = code ? ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "unknown" : "";
	ERR_clear_error();
	return reason;
}

UniqueBio memory_bio(std::string_view text)
{
	if (text.size() > kMaxKeyFileBytes)
		throw FormatError("key text is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes");
	UniqueBio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
	if (!bio)
		throw Error("OpenSSL: cannot allocate a memory BIO");
	return bio;
}

void require_ed25519(const EVP_PKEY* key, const std::string& what)
{
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		throw FormatError(what + " is a " + std::string(OBJ_nid2sn(EVP_PKEY_get_id(key))) +
				  " key, not an Ed25519 key");
}

std::string bio_text(BIO* bio)
{
	char* data = nullptr;
	long length = BIO_get_mem_data(bio, &data);
	return std::string(data, static_cast<size_t>(length));
}

UniqueBio new_memory_bio()
{
	UniqueBio bio(BIO_new(BIO_s_mem()));
	if (!bio)
		throw Error("OpenSSL: cannot allocate a memory BIO");
	return bio;
}

} // namespace

void EvpPkeyDeleter::operator()(EVP_PKEY* key) const
{
	EVP_PKEY_free(key);
}

std::string read_key_file(const std::string& path)
{
	UniqueFd fd = open_or_throw(path, O_RDONLY);
	std::vector<uint8_t> bytes(kMaxKeyFileBytes + 1);
	bytes.resize(pread_full(fd.get(), bytes, 0, path));
	if (bytes.size() > kMaxKeyFileBytes)
		throw FormatError(path + " is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes: not a key file");
	return std::string(bytes.begin(), bytes.end());
}

Ed25519PublicKey Ed25519PublicKey::from_pem(std::string_view pem, const std::string& what)
{
	UniqueBio bio = memory_bio(pem);
	EvpPkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
	if (!key) {
		std::string reason = openssl_reason();
		throw FormatError(what + " is not a PEM public key (expected \"-----BEGIN PUBLIC KEY-----\"" +
				  (reason.empty() ? "" : "; OpenSSL: " + reason) + ")");
	}
	require_ed25519(key.get(), what);
	return Ed25519PublicKey(std::move(key));
}

Ed25519PublicKey Ed25519PublicKey::load(const std::string& path)
{
	return from_pem(read_key_file(path), "public key file " + path);
}

Ed25519PublicKey Ed25519PublicKey::from_raw(const Ed25519PublicKeyBytes& raw)
{
	EvpPkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
	if (!key)
		throw FormatError("invalid Ed25519 public key bytes: " + openssl_reason());
	return Ed25519PublicKey(std::move(key));
}

bool Ed25519PublicKey::verify(std::span<const uint8_t> message, const Ed25519Signature& signature) const
{
	UniqueMdContext context(EVP_MD_CTX_new());
	if (!context)
		throw Error("OpenSSL: cannot allocate a digest context");
	// Ed25519 is a one-shot algorithm: no digest is named, and DigestVerify gets it all.
	if (EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
		throw Error("OpenSSL: cannot start an Ed25519 verification: " + openssl_reason());
	int result = EVP_DigestVerify(context.get(), signature.data(), signature.size(), message.data(), message.size());
	ERR_clear_error(); // a bad signature leaves an error on the queue; it is not ours to report
	return result == 1;
}

Ed25519PublicKeyBytes Ed25519PublicKey::raw() const
{
	Ed25519PublicKeyBytes raw{};
	size_t length = raw.size();
	if (EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &length) != 1 || length != raw.size())
		throw Error("OpenSSL: cannot read the raw Ed25519 public key: " + openssl_reason());
	return raw;
}

std::string Ed25519PublicKey::to_pem() const
{
	UniqueBio bio = new_memory_bio();
	if (PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1)
		throw Error("OpenSSL: cannot write a PEM public key: " + openssl_reason());
	return bio_text(bio.get());
}

Ed25519PrivateKey Ed25519PrivateKey::generate()
{
	EvpPkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
	if (!key)
		throw Error("OpenSSL: cannot generate an Ed25519 key: " + openssl_reason());
	return Ed25519PrivateKey(std::move(key));
}

Ed25519PrivateKey Ed25519PrivateKey::from_pem(std::string_view pem, const std::string& what)
{
	UniqueBio bio = memory_bio(pem);
	// No password callback: an encrypted key fails here rather than prompting.
	EvpPkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
	if (!key) {
		std::string reason = openssl_reason();
		throw FormatError(what + " is not an unencrypted PEM private key (expected \"-----BEGIN PRIVATE KEY-----\"" +
				  (reason.empty() ? "" : "; OpenSSL: " + reason) + ")");
	}
	require_ed25519(key.get(), what);
	return Ed25519PrivateKey(std::move(key));
}

Ed25519PrivateKey Ed25519PrivateKey::load(const std::string& path)
{
	return from_pem(read_key_file(path), "private key file " + path);
}

Ed25519Signature Ed25519PrivateKey::sign(std::span<const uint8_t> message) const
{
	UniqueMdContext context(EVP_MD_CTX_new());
	if (!context)
		throw Error("OpenSSL: cannot allocate a digest context");
	if (EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key_.get()) != 1)
		throw Error("OpenSSL: cannot start an Ed25519 signature: " + openssl_reason());
	Ed25519Signature signature{};
	size_t length = signature.size();
	if (EVP_DigestSign(context.get(), signature.data(), &length, message.data(), message.size()) != 1 ||
	    length != signature.size())
		throw Error("OpenSSL: Ed25519 signing failed: " + openssl_reason());
	return signature;
}

Ed25519PublicKey Ed25519PrivateKey::public_key() const
{
	Ed25519PublicKeyBytes raw{};
	size_t length = raw.size();
	if (EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &length) != 1 || length != raw.size())
		throw Error("OpenSSL: cannot derive the public key: " + openssl_reason());
	return Ed25519PublicKey::from_raw(raw);
}

std::string Ed25519PrivateKey::to_pem() const
{
	UniqueBio bio = new_memory_bio();
	if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
		throw Error("OpenSSL: cannot write a PEM private key: " + openssl_reason());
	return bio_text(bio.get());
}

} // namespace httpcloop
