// Hashing, Ed25519 and AES-GCM on OpenSSL 3. No cipher or curve arithmetic
// is implemented here; this is a thin, typed layer over libcrypto.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"

namespace mpc::core {

using Hash256 = std::array<std::uint8_t, 32>;

Hash256 sha256(ByteView data);

// Cryptographically secure random bytes (aborts if the RNG fails).
void random_fill(std::span<std::uint8_t> out);
Bytes random_bytes(std::size_t n);

// ---- Ed25519 ----

struct Ed25519PublicKey {
  std::array<std::uint8_t, 32> bytes{};
  bool operator==(const Ed25519PublicKey&) const = default;
  auto operator<=>(const Ed25519PublicKey&) const = default;
};

using Ed25519Signature = std::array<std::uint8_t, 64>;

// A private key: 32-byte seed (the public key is derived and cached).
class Ed25519SecretKey {
 public:
  // Generates a fresh key from the system RNG.
  static Ed25519SecretKey generate();
  // From a 32-byte seed.
  static Result<Ed25519SecretKey> from_seed(ByteView seed);
  // From NEAR's 64-byte form (seed || public key); the public half must match.
  static Result<Ed25519SecretKey> from_keypair_bytes(ByteView seed_and_public);

  const Ed25519PublicKey& public_key() const { return public_key_; }
  const SecretBytes& seed() const { return seed_; }
  // seed || public key, as NEAR encodes secret keys.
  SecretBytes keypair_bytes() const;

  Ed25519Signature sign(ByteView message) const;
  Ed25519SecretKey clone() const;

 private:
  Ed25519SecretKey() = default;
  SecretBytes seed_;
  Ed25519PublicKey public_key_;
};

bool ed25519_verify(const Ed25519PublicKey& key, ByteView message, ByteView signature);

// ---- AES-GCM ----
// Layout: nonce(12) || ciphertext || tag(16). Fresh random nonce per call,
// no AAD. Key length selects AES-128 (16 bytes) or AES-256 (32 bytes).
// The AES-GCM cipher for a 16- or 32-byte key (null for any other size),
// fetched from OpenSSL's provider once per process.
const EVP_CIPHER* gcm_cipher_for(std::size_t key_size);
Result<Bytes> aes_gcm_encrypt(const SecretBytes& key, ByteView plaintext);
// Fails with kPermissionDenied on a wrong key or tampered data.
Result<SecretBytes> aes_gcm_decrypt(const SecretBytes& key, ByteView sealed);

// Parses an operator AES-256 key: exactly 64 hex characters, either case,
// nothing else (no whitespace, no newline). The error names `what` (a flag or
// variable name) and never echoes the value.
Result<SecretBytes> parse_aes256_key_hex(std::string_view text, std::string_view what);

}  // namespace mpc::core
