#include "core/crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

#include "core/openssl_ptr.h"

namespace mpc::core {

namespace {

constexpr std::size_t kGcmNonce = AesGcmSealer::kNonce;
constexpr std::size_t kGcmTag = AesGcmSealer::kTag;

// Fetched once: EVP_aes_256_gcm() makes every EVP_EncryptInit_ex look the
// implementation up again in the provider's tables, under a lock (it was a
// visible share of a node answering GET /get_keyshares). Never freed: they
// live as long as the process.
const EVP_CIPHER* fetch_cipher(const char* name, const EVP_CIPHER* legacy) {
  const EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, name, nullptr);
  return fetched != nullptr ? fetched : legacy;
}
}  // namespace

const EVP_CIPHER* gcm_cipher_for(std::size_t key_size) {
  static const EVP_CIPHER* const k128 = fetch_cipher("AES-128-GCM", EVP_aes_128_gcm());
  static const EVP_CIPHER* const k256 = fetch_cipher("AES-256-GCM", EVP_aes_256_gcm());
  if (key_size == 16) return k128;
  if (key_size == 32) return k256;
  return nullptr;
}

Hash256 sha256(ByteView data) {
  Hash256 out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) std::abort();
  return out;
}

void random_fill(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  random_fill(out);
  return out;
}

// ---- Ed25519 ----

Ed25519SecretKey Ed25519SecretKey::generate() {
  SecretBytes seed(32);
  random_fill(seed.mutable_view());
  return *from_seed(seed.view());
}

Result<Ed25519SecretKey> Ed25519SecretKey::from_seed(ByteView seed) {
  if (seed.size() != 32) return invalid("an Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size()));
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return fail(ErrorCode::kInternal, "OpenSSL rejected the Ed25519 seed");
  Ed25519SecretKey key;
  key.seed_ = SecretBytes(seed);
  std::size_t len = 32;
  if (EVP_PKEY_get_raw_public_key(pkey.get(), key.public_key_.bytes.data(), &len) != 1 || len != 32) {
    return fail(ErrorCode::kInternal, "could not derive the Ed25519 public key");
  }
  return key;
}

Result<Ed25519SecretKey> Ed25519SecretKey::from_keypair_bytes(ByteView seed_and_public) {
  if (seed_and_public.size() != 64) {
    return invalid("an Ed25519 key pair must be 64 bytes (seed || public key), got " +
                   std::to_string(seed_and_public.size()));
  }
  MPC_ASSIGN(auto key, from_seed(seed_and_public.first(32)));
  if (!constant_time_equal(key.public_key_.bytes, seed_and_public.subspan(32))) {
    return invalid("the public half of the Ed25519 key pair does not match its seed");
  }
  return key;
}

SecretBytes Ed25519SecretKey::keypair_bytes() const {
  SecretBytes out(64);
  std::copy(seed_.view().begin(), seed_.view().end(), out.data());
  std::copy(public_key_.bytes.begin(), public_key_.bytes.end(), out.data() + 32);
  return out;
}

Ed25519Signature Ed25519SecretKey::sign(ByteView message) const {
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Ed25519Signature sig{};
  std::size_t len = sig.size();
  if (!pkey || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 || len != 64) {
    std::abort();  // cannot happen with a valid key; never return an unsigned result
  }
  return sig;
}

Ed25519SecretKey Ed25519SecretKey::clone() const {
  Ed25519SecretKey k;
  k.seed_ = seed_.clone();
  k.public_key_ = public_key_;
  return k;
}

bool ed25519_verify(const Ed25519PublicKey& key, ByteView message, ByteView signature) {
  if (signature.size() != 64) return false;
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size()));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

// ---- AES-GCM ----

Result<Bytes> aes_gcm_encrypt(const SecretBytes& key, ByteView plaintext) {
  const EVP_CIPHER* cipher = gcm_cipher_for(key.size());
  if (cipher == nullptr) return invalid("an AES-GCM key must be 16 or 32 bytes, got " + std::to_string(key.size()));
  if (plaintext.size() > (1u << 30)) return invalid("plaintext too large for one AES-GCM message");
  Bytes out(kGcmNonce + plaintext.size() + kGcmTag);
  random_fill(std::span(out.data(), kGcmNonce));
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), out.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kGcmNonce, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kGcmNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTag, out.data() + kGcmNonce + plaintext.size()) != 1) {
    return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
  }
  return out;
}

Result<SecretBytes> aes_gcm_decrypt(const SecretBytes& key, ByteView sealed) {
  const EVP_CIPHER* cipher = gcm_cipher_for(key.size());
  if (cipher == nullptr) return invalid("an AES-GCM key must be 16 or 32 bytes, got " + std::to_string(key.size()));
  if (sealed.size() < kGcmNonce + kGcmTag) {
    return invalid("encrypted data is too short (" + std::to_string(sealed.size()) + " bytes) to hold a nonce and a tag");
  }
  const std::size_t n = sealed.size() - kGcmNonce - kGcmTag;
  SecretBytes plain(n);
  std::array<std::uint8_t, kGcmTag> tag{};
  std::copy(sealed.end() - kGcmTag, sealed.end(), tag.begin());
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), sealed.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &len, sealed.data() + kGcmNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTag, tag.data()) != 1) {
    return fail(ErrorCode::kInternal, "AES-GCM decryption failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1) {
    return fail(ErrorCode::kPermissionDenied,
                "decryption failed: wrong encryption key or the data was tampered with");
  }
  return plain;
}

// ---- AesGcmSealer ----

Result<std::shared_ptr<AesGcmSealer>> AesGcmSealer::make(const SecretBytes& key) {
  if (gcm_cipher_for(key.size()) == nullptr)
    return invalid("an AES-GCM key must be 16 or 32 bytes, got " + std::to_string(key.size()));
  return std::shared_ptr<AesGcmSealer>(new AesGcmSealer(key));
}

AesGcmSealer::~AesGcmSealer() {
  for (EVP_CIPHER_CTX* ctx : idle_) EVP_CIPHER_CTX_free(ctx);  // wipes its key schedule
}

EVP_CIPHER_CTX* AesGcmSealer::take_context() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      EVP_CIPHER_CTX* ctx = idle_.back();
      idle_.pop_back();
      return ctx;
    }
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), gcm_cipher_for(key_.size()), nullptr, key_.data(), nullptr) != 1) return nullptr;
  return ctx.release();
}

void AesGcmSealer::give_back(EVP_CIPHER_CTX* ctx) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(ctx);
      return;
    }
  }
  EVP_CIPHER_CTX_free(ctx);
}

AesGcmSealer::Nonce AesGcmSealer::next_nonce() {
  std::lock_guard lock(mu_);
  if (nonces_used_ == kNonceBatch) {
    random_fill(nonces_);
    nonces_used_ = 0;
  }
  Nonce nonce;
  std::uint8_t* at = nonces_.data() + nonces_used_++ * kNonce;
  std::copy(at, at + kNonce, nonce.begin());
  std::fill(at, at + kNonce, std::uint8_t{0});  // handed out: not kept
  return nonce;
}

Result<AesGcmSealer::Message> AesGcmSealer::begin() {
  EVP_CIPHER_CTX* ctx = take_context();
  if (ctx == nullptr) return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
  Message message(shared_from_this(), ctx, next_nonce());
  // The key stays; only the nonce (and with it the counter and GHASH state) is new.
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, message.nonce_.data()) != 1)
    return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
  return message;
}

AesGcmSealer::Message::Message(Message&& other) noexcept
    : sealer_(std::move(other.sealer_)), ctx_(std::exchange(other.ctx_, nullptr)), nonce_(other.nonce_), done_(other.done_) {}

AesGcmSealer::Message::~Message() {
  if (ctx_ != nullptr) sealer_->give_back(ctx_);
}

Status AesGcmSealer::Message::encrypt(ByteView in, std::uint8_t* out) {
  if (done_) return fail(ErrorCode::kInternal, "AES-GCM: the message is already finished");
  while (!in.empty()) {  // EVP takes an int length
    const std::size_t n = std::min<std::size_t>(in.size(), 1u << 30);
    int len = 0;
    if (EVP_EncryptUpdate(ctx_, out, &len, in.data(), static_cast<int>(n)) != 1 || static_cast<std::size_t>(len) != n)
      return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
    in = in.subspan(n);
    out += n;
  }
  return {};
}

Result<AesGcmSealer::Tag> AesGcmSealer::Message::tag() {
  if (done_) return fail(ErrorCode::kInternal, "AES-GCM: the message is already finished");
  done_ = true;
  Tag tag{};
  int len = 0;
  if (EVP_EncryptFinal_ex(ctx_, tag.data(), &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, kTag, tag.data()) != 1)
    return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
  return tag;
}

Result<SecretBytes> parse_aes256_key_hex(std::string_view text, std::string_view what) {
  const std::string name(what);
  if (text.empty()) return invalid(name + " is empty; it must be exactly 64 hex characters (a 32-byte AES-256 key)");
  if (text.size() != 64) {
    std::string hint;
    if (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
      hint = " (it ends with whitespace or a newline; remove it)";
    }
    return invalid(name + " must be exactly 64 hex characters (a 32-byte AES-256 key), got " +
                   std::to_string(text.size()) + hint);
  }
  SecretBytes key(32);
  for (std::size_t i = 0; i < 32; ++i) {
    auto v = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = v(text[2 * i]);
    int lo = v(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return invalid(name + " contains a character that is not hex; it must be exactly 64 hex characters");
    key.data()[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

}  // namespace mpc::core
