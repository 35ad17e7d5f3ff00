#include "core/key_derivation.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <cstdlib>
#include <memory>

namespace mpc::core {

namespace {

void ensure_sodium() {
  // Idempotent and thread-safe; fails only if the library cannot work at all.
  static const int ok = sodium_init();
  if (ok < 0) std::abort();
}

// Wipes a fixed-size scratch buffer on scope exit.
template <std::size_t N>
struct Scratch {
  std::array<std::uint8_t, N> b{};
  ~Scratch() { sodium_memzero(b.data(), b.size()); }
  std::uint8_t* data() { return b.data(); }
};

// A 32-byte little-endian integer reduced mod L.
void reduce32(const std::uint8_t* in, std::uint8_t* out) {
  Scratch<crypto_core_ed25519_NONREDUCEDSCALARBYTES> wide;
  std::copy(in, in + 32, wide.data());
  crypto_core_ed25519_scalar_reduce(out, wide.data());
}

}  // namespace

Tweak derive_tweak(std::string_view predecessor_account_id, std::string_view path) {
  std::string text;
  text.reserve(kTweakDerivationPrefix.size() + predecessor_account_id.size() + 1 + path.size());
  text.append(kTweakDerivationPrefix).append(predecessor_account_id).append(",").append(path);
  Tweak out{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha3_256(), nullptr) != 1 || len != out.size()) std::abort();
  return out;
}

// ---------------------------------------------------------------- Ed25519

std::array<std::uint8_t, 32> ed25519_tweak_scalar(const Tweak& tweak) {
  ensure_sodium();
  std::array<std::uint8_t, 32> out{};
  reduce32(tweak.data(), out.data());
  return out;
}

Result<Ed25519PublicKey> derive_ed25519_public_key(const Ed25519PublicKey& group, const Tweak& tweak) {
  ensure_sodium();
  if (crypto_core_ed25519_is_valid_point(group.bytes.data()) != 1) {
    return invalid("the group key is not a valid Ed25519 point of the prime-order subgroup");
  }
  const auto t = ed25519_tweak_scalar(tweak);
  if (sodium_is_zero(t.data(), t.size())) return group;  // 0·G is the identity
  std::array<std::uint8_t, 32> tweak_point{};
  if (crypto_scalarmult_ed25519_base_noclamp(tweak_point.data(), t.data()) != 0) {
    return invalid("the tweak does not give an Ed25519 point");
  }
  Ed25519PublicKey out;
  if (crypto_core_ed25519_add(out.bytes.data(), group.bytes.data(), tweak_point.data()) != 0 ||
      crypto_core_ed25519_is_valid_point(out.bytes.data()) != 1) {
    return invalid("the derived Ed25519 key is not a valid point");
  }
  return out;
}

Result<SecretBytes> derive_ed25519_secret_scalar(const SecretBytes& secret, const Tweak& tweak) {
  ensure_sodium();
  if (secret.size() != 32) return invalid("an Ed25519 key scalar must be 32 bytes");
  Scratch<32> s;
  reduce32(secret.data(), s.data());
  const auto t = ed25519_tweak_scalar(tweak);
  SecretBytes out(32);
  crypto_core_ed25519_scalar_add(out.data(), s.data(), t.data());
  return out;
}

Result<Ed25519PublicKey> ed25519_public_key_of_scalar(const SecretBytes& scalar) {
  ensure_sodium();
  if (scalar.size() != 32) return invalid("an Ed25519 key scalar must be 32 bytes");
  Scratch<32> a;
  reduce32(scalar.data(), a.data());
  Ed25519PublicKey out;
  if (crypto_scalarmult_ed25519_base_noclamp(out.bytes.data(), a.data()) != 0) return invalid("the Ed25519 key scalar is zero");
  return out;
}

Result<Ed25519Signature> ed25519_sign_with_scalar(const SecretBytes& scalar, ByteView message) {
  ensure_sodium();
  MPC_ASSIGN(const Ed25519PublicKey public_key, ed25519_public_key_of_scalar(scalar));
  Scratch<32> a;
  reduce32(scalar.data(), a.data());

  // Deterministic nonce: a hash of the key and the message, under a tag of
  // its own (RFC 8032 hashes the seed's second half, which a bare scalar
  // does not have).
  static constexpr std::string_view kNonceTag = "mpc ed25519 bare-scalar signing nonce";
  Scratch<crypto_hash_sha512_BYTES> nonce_hash;
  Scratch<32> r;
  {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, reinterpret_cast<const unsigned char*>(kNonceTag.data()), kNonceTag.size());
    crypto_hash_sha512_update(&st, a.data(), 32);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_final(&st, nonce_hash.data());
    sodium_memzero(&st, sizeof st);
  }
  crypto_core_ed25519_scalar_reduce(r.data(), nonce_hash.data());

  Ed25519Signature sig{};
  if (crypto_scalarmult_ed25519_base_noclamp(sig.data(), r.data()) != 0) {
    return fail(ErrorCode::kInternal, "the signing nonce reduced to zero");
  }
  // k = SHA-512(R || A || M) mod L; S = r + k·a mod L.
  std::array<std::uint8_t, crypto_hash_sha512_BYTES> k_hash{};
  {
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig.data(), 32);
    crypto_hash_sha512_update(&st, public_key.bytes.data(), 32);
    crypto_hash_sha512_update(&st, message.data(), message.size());
    crypto_hash_sha512_final(&st, k_hash.data());
  }
  std::array<std::uint8_t, 32> k{};
  crypto_core_ed25519_scalar_reduce(k.data(), k_hash.data());
  Scratch<32> ka;
  crypto_core_ed25519_scalar_mul(ka.data(), k.data(), a.data());
  crypto_core_ed25519_scalar_add(sig.data() + 32, r.data(), ka.data());
  return sig;
}

// ---------------------------------------------------------------- Secp256k1

namespace {

struct GroupFree {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointFree {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};

}  // namespace

Result<Secp256k1PublicKey> derive_secp256k1_public_key(const Secp256k1PublicKey& group, const Tweak& tweak) {
  std::unique_ptr<EC_GROUP, GroupFree> curve(EC_GROUP_new_by_curve_name(NID_secp256k1));
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
  if (!curve || !ctx) return fail(ErrorCode::kInternal, "OpenSSL cannot set up secp256k1");
  std::array<std::uint8_t, 65> encoded{};
  encoded[0] = 0x04;  // uncompressed SEC1: 04 || X || Y
  std::copy(group.bytes.begin(), group.bytes.end(), encoded.begin() + 1);
  std::unique_ptr<EC_POINT, PointFree> point(EC_POINT_new(curve.get()));
  if (!point || EC_POINT_oct2point(curve.get(), point.get(), encoded.data(), encoded.size(), ctx.get()) != 1) {
    return invalid("the group key is not a point of secp256k1");
  }
  std::unique_ptr<BIGNUM, BnFree> t(BN_bin2bn(tweak.data(), static_cast<int>(tweak.size()), nullptr));
  if (!t) return fail(ErrorCode::kInternal, "OpenSSL cannot hold the tweak");
  if (BN_cmp(t.get(), EC_GROUP_get0_order(curve.get())) >= 0) {
    return invalid("The provided tweak is not on the curve of the public key.");
  }
  // tweak·G + 1·group
  std::unique_ptr<BIGNUM, BnFree> one(BN_new());
  std::unique_ptr<EC_POINT, PointFree> derived(EC_POINT_new(curve.get()));
  if (!one || !derived || BN_one(one.get()) != 1 ||
      EC_POINT_mul(curve.get(), derived.get(), t.get(), point.get(), one.get(), ctx.get()) != 1) {
    return fail(ErrorCode::kInternal, "OpenSSL failed to derive the secp256k1 key");
  }
  if (EC_POINT_is_at_infinity(curve.get(), derived.get()) == 1) return invalid("the derived secp256k1 key is the point at infinity");
  if (EC_POINT_point2oct(curve.get(), derived.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(), encoded.size(),
                         ctx.get()) != encoded.size()) {
    return fail(ErrorCode::kInternal, "OpenSSL failed to encode the derived secp256k1 key");
  }
  Secp256k1PublicKey out;
  std::copy(encoded.begin() + 1, encoded.end(), out.bytes.begin());
  return out;
}

}  // namespace mpc::core
