// Hashing, Ed25519 and AES-GCM on OpenSSL 3. No cipher or curve arithmetic
// is implemented here; this is a thin, typed layer over libcrypto.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

// One AES-GCM key sealing many messages, each as aes_gcm_encrypt lays it out
// (nonce || ciphertext || tag, no AAD; aes_gcm_decrypt opens them), the
// ciphertext written piece by piece (a node streams GET /get_keyshares
// answers this way). What a message would otherwise pay each time is paid
// once:
//  - the key schedule: keyed cipher contexts are kept in a pool and reused,
//    each message only sets its nonce (at most kMaxIdle of them stay idle);
//  - the RNG: nonces are random, as aes_gcm_encrypt's, but drawn kNonceBatch
//    at a time from the RNG (one DRBG call instead of one per message); each
//    is handed out once and never again. A forked child must not use a
//    sealer of its parent (the process that owns it does not fork).
// The key's copies (the pool's contexts, the sealer's own) are wiped when
// freed. Thread-safe: one sealer serves every I/O thread.
class AesGcmSealer : public std::enable_shared_from_this<AesGcmSealer> {
 public:
  static constexpr std::size_t kNonce = 12, kTag = 16;
  static constexpr std::size_t kNonceBatch = 256;
  static constexpr std::size_t kMaxIdle = 64;
  using Nonce = std::array<std::uint8_t, kNonce>;
  using Tag = std::array<std::uint8_t, kTag>;

  // A 16- or 32-byte key (AES-128 or AES-256), else kInvalidArgument.
  static Result<std::shared_ptr<AesGcmSealer>> make(const SecretBytes& key);
  ~AesGcmSealer();
  AesGcmSealer(const AesGcmSealer&) = delete;
  AesGcmSealer& operator=(const AesGcmSealer&) = delete;

  // One message under a fresh nonce: encrypt() its plaintext in order, in
  // pieces of any size, then tag(). Its context goes back to the pool when
  // it is destroyed, finished or not.
  class Message {
   public:
    Message(Message&&) noexcept;
    Message& operator=(Message&&) = delete;
    ~Message();
    const Nonce& nonce() const { return nonce_; }
    // Writes in.size() bytes of ciphertext to `out`. Not after tag().
    Status encrypt(ByteView in, std::uint8_t* out);
    // Ends the message; its authentication tag.
    Result<Tag> tag();

   private:
    friend class AesGcmSealer;
    Message(std::shared_ptr<AesGcmSealer> sealer, EVP_CIPHER_CTX* ctx, const Nonce& nonce)
        : sealer_(std::move(sealer)), ctx_(ctx), nonce_(nonce) {}
    std::shared_ptr<AesGcmSealer> sealer_;
    EVP_CIPHER_CTX* ctx_;
    Nonce nonce_;
    bool done_ = false;
  };

  // A new message (kInternal if OpenSSL fails to set up a context).
  Result<Message> begin();

 private:
  explicit AesGcmSealer(const SecretBytes& key) : key_(key.clone()) {}
  EVP_CIPHER_CTX* take_context();  // keyed; null on failure
  void give_back(EVP_CIPHER_CTX* ctx);
  Nonce next_nonce();

  const SecretBytes key_;
  std::mutex mu_;
  std::vector<EVP_CIPHER_CTX*> idle_;                     // keyed, under mu_
  std::array<std::uint8_t, kNonce * kNonceBatch> nonces_{};  // under mu_
  std::size_t nonces_used_ = kNonceBatch;                  // under mu_
};

// Parses an operator AES-256 key: exactly 64 hex characters, either case,
// nothing else (no whitespace, no newline). The error names `what` (a flag or
// variable name) and never echoes the value.
Result<SecretBytes> parse_aes256_key_hex(std::string_view text, std::string_view what);

}  // namespace mpc::core
