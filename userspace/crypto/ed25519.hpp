#pragma once
// Ed25519 keys and signatures through OpenSSL's EVP interface.
//
// Key files are PEM so that the openssl tools read and write them too: the private key is
// PKCS#8 ("-----BEGIN PRIVATE KEY-----", `openssl genpkey -algorithm ed25519`), the
// public key SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----", `openssl pkey -pubout`).

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace httpcloop {

using Ed25519Signature = std::array<uint8_t, 64>;
using Ed25519PublicKeyBytes = std::array<uint8_t, 32>;

struct EvpPkeyDeleter {
	void operator()(EVP_PKEY* key) const;
};
using EvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

class Ed25519PrivateKey;

class Ed25519PublicKey {
public:
	// Parses PEM text (SPKI); throws Error naming `what` if it is not an Ed25519 public key.
	static Ed25519PublicKey from_pem(std::string_view pem, const std::string& what);
	static Ed25519PublicKey load(const std::string& path);
	static Ed25519PublicKey from_raw(const Ed25519PublicKeyBytes& raw);

	// True only for a valid signature of `message` by this key.
	bool verify(std::span<const uint8_t> message, const Ed25519Signature& signature) const;
	Ed25519PublicKeyBytes raw() const;
	std::string to_pem() const;

private:
	friend class Ed25519PrivateKey;
	explicit Ed25519PublicKey(EvpPkey key) : key_(std::move(key)) {}
	EvpPkey key_;
};

class Ed25519PrivateKey {
public:
	static Ed25519PrivateKey generate();
	// Parses PEM text (PKCS#8, unencrypted); throws Error naming `what` otherwise.
	static Ed25519PrivateKey from_pem(std::string_view pem, const std::string& what);
	static Ed25519PrivateKey load(const std::string& path);

	Ed25519Signature sign(std::span<const uint8_t> message) const;
	Ed25519PublicKey public_key() const;
	std::string to_pem() const;

private:
	explicit Ed25519PrivateKey(EvpPkey key) : key_(std::move(key)) {}
	EvpPkey key_;
};

// Reads a whole small text file (a key): at most 64 KiB. Throws IoError/FormatError.
std::string read_key_file(const std::string& path);

} // namespace httpcloop
