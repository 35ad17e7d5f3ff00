#include "threshold/curve.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/openssl_ptr.h"
#include "core/secret.h"

namespace mpc::threshold {

using core::ByteView;
using core::invalid;
using core::Result;

namespace {

[[noreturn]] void fatal(const char* what) {
  // Only reachable when OpenSSL runs out of memory, or on a caller bug
  // (documented REQUIRES); never with secret material in the message.
  std::fprintf(stderr, "mpc_threshold curve: %s\n", what);
  std::abort();
}

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) fatal("libsodium initialisation failed");
}

// ---- Ed25519 (libsodium) ----

constexpr std::array<std::uint8_t, 32> kEdIdentity = {1};

class Ed25519Curve final : public Curve {
 public:
  Ed25519Curve() { ensure_sodium(); }
  KeyCurve id() const override { return KeyCurve::kEd25519; }
  std::size_t point_size() const override { return 32; }

  CurveScalar reduce_wide(std::span<const std::uint8_t, 64> wide) const override {
    std::array<std::uint8_t, 64> copy;
    std::copy(wide.begin(), wide.end(), copy.begin());
    CurveScalar out;
    crypto_core_ed25519_scalar_reduce(out.mutable_data(), copy.data());
    sodium_memzero(copy.data(), copy.size());
    return out;
  }
  Result<CurveScalar> decode_scalar(ByteView bytes) const override {
    if (bytes.size() != kCurveScalarSize) {
      return invalid("an Ed25519 scalar must be 32 bytes, got " + std::to_string(bytes.size()));
    }
    std::array<std::uint8_t, 64> wide{};
    std::copy(bytes.begin(), bytes.end(), wide.begin());
    CurveScalar out;
    crypto_core_ed25519_scalar_reduce(out.mutable_data(), wide.data());
    sodium_memzero(wide.data(), wide.size());
    if (sodium_memcmp(out.data(), bytes.data(), kCurveScalarSize) != 0) {
      return invalid("Ed25519 scalar is not canonical (not below the group order)");
    }
    return out;
  }
  CurveScalar from_u64(std::uint64_t v) const override {
    CurveScalar out;
    for (int b = 0; b < 8; ++b) out.mutable_data()[b] = static_cast<std::uint8_t>(v >> (8 * b));
    return out;
  }
  CurveScalar add(const CurveScalar& a, const CurveScalar& b) const override {
    CurveScalar out;
    crypto_core_ed25519_scalar_add(out.mutable_data(), a.data(), b.data());
    return out;
  }
  CurveScalar sub(const CurveScalar& a, const CurveScalar& b) const override {
    CurveScalar out;
    crypto_core_ed25519_scalar_sub(out.mutable_data(), a.data(), b.data());
    return out;
  }
  CurveScalar mul(const CurveScalar& a, const CurveScalar& b) const override {
    CurveScalar out;
    crypto_core_ed25519_scalar_mul(out.mutable_data(), a.data(), b.data());
    return out;
  }
  CurveScalar invert(const CurveScalar& a) const override {
    CurveScalar out;
    if (crypto_core_ed25519_scalar_invert(out.mutable_data(), a.data()) != 0) fatal("inverting zero");
    return out;
  }

  Result<CurvePoint> decode_point(ByteView bytes) const override {
    if (bytes.size() != 32) return invalid("an Ed25519 point must be 32 bytes, got " + std::to_string(bytes.size()));
    if (std::equal(bytes.begin(), bytes.end(), kEdIdentity.begin())) return invalid("Ed25519 point is the identity");
    if (crypto_core_ed25519_is_valid_point(bytes.data()) != 1) {
      return invalid(
          "Ed25519 point is not valid (non-canonical, not on the curve, of small order or outside the prime-order "
          "subgroup)");
    }
    return CurvePoint(bytes.begin(), bytes.end());
  }
  CurvePoint identity() const override { return CurvePoint(kEdIdentity.begin(), kEdIdentity.end()); }
  CurvePoint base_mul(const CurveScalar& s) const override {
    if (s.is_zero()) return identity();
    CurvePoint out(32);
    // Fails only for a zero scalar mod L, excluded above (s is canonical).
    if (crypto_scalarmult_ed25519_base_noclamp(out.data(), s.data()) != 0) fatal("Ed25519 base multiplication failed");
    return out;
  }
  CurvePoint mul(const CurveScalar& s, const CurvePoint& p) const override {
    if (s.is_zero() || is_identity(p)) return identity();
    if (p.size() != 32) fatal("Ed25519 multiplication of a point of the wrong size");
    CurvePoint out(32);
    // p is in the prime-order subgroup and s is non-zero below L, so the
    // product is not the identity; a failure is a caller bug.
    if (crypto_scalarmult_ed25519_noclamp(out.data(), s.data(), p.data()) != 0) fatal("Ed25519 multiplication failed");
    return out;
  }
  CurvePoint add(const CurvePoint& a, const CurvePoint& b) const override {
    if (a.size() != 32 || b.size() != 32) fatal("Ed25519 addition of a point of the wrong size");
    CurvePoint out(32);
    if (crypto_core_ed25519_add(out.data(), a.data(), b.data()) != 0) fatal("Ed25519 addition failed");
    return out;
  }
};

// ---- secp256k1 (OpenSSL) ----

using core::BnCtxPtr;
using core::EcGroupPtr;
using core::EcPointPtr;
using core::SecretBnPtr;

class Secp256k1Curve final : public Curve {
 public:
  Secp256k1Curve() : group_(EC_GROUP_new_by_curve_name(NID_secp256k1)) {
    if (!group_) fatal("cannot set up secp256k1");
    order_ = EC_GROUP_get0_order(group_.get());
  }
  KeyCurve id() const override { return KeyCurve::kSecp256k1; }
  std::size_t point_size() const override { return 33; }

  CurveScalar reduce_wide(std::span<const std::uint8_t, 64> wide) const override {
    SecretBnPtr w = secret_bn();
    BnCtxPtr ctx = new_ctx();
    if (!BN_bin2bn(wide.data(), static_cast<int>(wide.size()), w.get())) fatal("BN_bin2bn failed");
    SecretBnPtr r = secret_bn();
    if (BN_nnmod(r.get(), w.get(), order_, ctx.get()) != 1) fatal("BN_nnmod failed");
    return to_scalar(r.get());
  }
  Result<CurveScalar> decode_scalar(ByteView bytes) const override {
    if (bytes.size() != kCurveScalarSize) {
      return invalid("a secp256k1 scalar must be 32 bytes, got " + std::to_string(bytes.size()));
    }
    SecretBnPtr v = secret_bn();
    if (!BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), v.get())) fatal("BN_bin2bn failed");
    if (BN_cmp(v.get(), order_) >= 0) return invalid("secp256k1 scalar is not below the group order");
    CurveScalar out;
    std::copy(bytes.begin(), bytes.end(), out.mutable_data());
    return out;
  }
  CurveScalar from_u64(std::uint64_t v) const override {
    CurveScalar out;
    for (int b = 0; b < 8; ++b) out.mutable_data()[31 - b] = static_cast<std::uint8_t>(v >> (8 * b));
    return out;
  }
  CurveScalar add(const CurveScalar& a, const CurveScalar& b) const override {
    return binary(a, b, [&](BIGNUM* r, const BIGNUM* x, const BIGNUM* y, BN_CTX* ctx) {
      return BN_mod_add(r, x, y, order_, ctx);
    });
  }
  CurveScalar sub(const CurveScalar& a, const CurveScalar& b) const override {
    return binary(a, b, [&](BIGNUM* r, const BIGNUM* x, const BIGNUM* y, BN_CTX* ctx) {
      return BN_mod_sub(r, x, y, order_, ctx);
    });
  }
  CurveScalar mul(const CurveScalar& a, const CurveScalar& b) const override {
    return binary(a, b, [&](BIGNUM* r, const BIGNUM* x, const BIGNUM* y, BN_CTX* ctx) {
      return BN_mod_mul(r, x, y, order_, ctx);
    });
  }
  CurveScalar invert(const CurveScalar& a) const override {
    if (a.is_zero()) fatal("inverting zero");
    SecretBnPtr x = to_bn(a);
    SecretBnPtr r = secret_bn();
    BnCtxPtr ctx = new_ctx();
    if (!BN_mod_inverse(r.get(), x.get(), order_, ctx.get())) fatal("BN_mod_inverse failed");
    return to_scalar(r.get());
  }

  Result<CurvePoint> decode_point(ByteView bytes) const override {
    if (bytes.size() != 33) return invalid("a secp256k1 point must be 33 bytes (SEC1 compressed), got " + std::to_string(bytes.size()));
    if (bytes[0] != 0x02 && bytes[0] != 0x03) return invalid("secp256k1 point does not start with 0x02 or 0x03 (not SEC1 compressed)");
    EcPointPtr p(EC_POINT_new(group_.get()));
    BnCtxPtr ctx = new_ctx();
    if (!p) fatal("EC_POINT_new failed");
    if (EC_POINT_oct2point(group_.get(), p.get(), bytes.data(), bytes.size(), ctx.get()) != 1) {
      return invalid("secp256k1 point is not on the curve (or its x is not below the field prime)");
    }
    if (EC_POINT_is_at_infinity(group_.get(), p.get()) == 1) return invalid("secp256k1 point is the point at infinity");
    if (EC_POINT_is_on_curve(group_.get(), p.get(), ctx.get()) != 1) return invalid("secp256k1 point is not on the curve");
    CurvePoint canonical = encode(p.get(), ctx.get());
    if (!std::equal(canonical.begin(), canonical.end(), bytes.begin(), bytes.end())) {
      return invalid("secp256k1 point encoding is not canonical");
    }
    return canonical;
  }
  CurvePoint identity() const override { return CurvePoint{0x00}; }
  CurvePoint base_mul(const CurveScalar& s) const override {
    SecretBnPtr k = to_bn(s);
    BnCtxPtr ctx = new_ctx();
    core::SecretEcPointPtr r(EC_POINT_new(group_.get()));
    if (!r || EC_POINT_mul(group_.get(), r.get(), k.get(), nullptr, nullptr, ctx.get()) != 1) {
      fatal("secp256k1 base multiplication failed");
    }
    return encode(r.get(), ctx.get());
  }
  CurvePoint mul(const CurveScalar& s, const CurvePoint& p) const override {
    if (s.is_zero() || is_identity(p)) return identity();
    SecretBnPtr k = to_bn(s);
    BnCtxPtr ctx = new_ctx();
    EcPointPtr point = to_point(p, ctx.get());
    core::SecretEcPointPtr r(EC_POINT_new(group_.get()));
    if (!r || EC_POINT_mul(group_.get(), r.get(), nullptr, point.get(), k.get(), ctx.get()) != 1) {
      fatal("secp256k1 multiplication failed");
    }
    return encode(r.get(), ctx.get());
  }
  CurvePoint add(const CurvePoint& a, const CurvePoint& b) const override {
    BnCtxPtr ctx = new_ctx();
    EcPointPtr pa = to_point(a, ctx.get());
    EcPointPtr pb = to_point(b, ctx.get());
    EcPointPtr r(EC_POINT_new(group_.get()));
    if (!r || EC_POINT_add(group_.get(), r.get(), pa.get(), pb.get(), ctx.get()) != 1) fatal("secp256k1 addition failed");
    return encode(r.get(), ctx.get());
  }

 private:
  static SecretBnPtr secret_bn() {
    SecretBnPtr b(BN_secure_new());
    if (!b) fatal("BN_secure_new failed");
    BN_set_flags(b.get(), BN_FLG_CONSTTIME);
    return b;
  }
  static BnCtxPtr new_ctx() {
    BnCtxPtr ctx(BN_CTX_secure_new());
    if (!ctx) fatal("BN_CTX_secure_new failed");
    return ctx;
  }
  static SecretBnPtr to_bn(const CurveScalar& s) {
    SecretBnPtr b = secret_bn();
    if (!BN_bin2bn(s.data(), static_cast<int>(kCurveScalarSize), b.get())) fatal("BN_bin2bn failed");
    return b;
  }
  static CurveScalar to_scalar(const BIGNUM* b) {
    CurveScalar out;
    if (BN_bn2binpad(b, out.mutable_data(), static_cast<int>(kCurveScalarSize)) != static_cast<int>(kCurveScalarSize)) {
      fatal("BN_bn2binpad failed");
    }
    return out;
  }
  template <typename Op>
  CurveScalar binary(const CurveScalar& a, const CurveScalar& b, Op op) const {
    SecretBnPtr x = to_bn(a);
    SecretBnPtr y = to_bn(b);
    SecretBnPtr r = secret_bn();
    BnCtxPtr ctx = new_ctx();
    if (op(r.get(), x.get(), y.get(), ctx.get()) != 1) fatal("secp256k1 scalar arithmetic failed");
    return to_scalar(r.get());
  }
  // `p` is an encoding this class produced or decode_point accepted.
  EcPointPtr to_point(const CurvePoint& p, BN_CTX* ctx) const {
    EcPointPtr out(EC_POINT_new(group_.get()));
    if (!out || EC_POINT_oct2point(group_.get(), out.get(), p.data(), p.size(), ctx) != 1) {
      fatal("secp256k1 point decoding failed on an internal value");
    }
    return out;
  }
  CurvePoint encode(const EC_POINT* p, BN_CTX* ctx) const {
    if (EC_POINT_is_at_infinity(group_.get(), p) == 1) return identity();
    CurvePoint out(33);
    if (EC_POINT_point2oct(group_.get(), p, POINT_CONVERSION_COMPRESSED, out.data(), out.size(), ctx) != out.size()) {
      fatal("secp256k1 point encoding failed");
    }
    return out;
  }

  EcGroupPtr group_;
  const BIGNUM* order_ = nullptr;
};

}  // namespace

const char* key_curve_name(KeyCurve curve) {
  switch (curve) {
    case KeyCurve::kEd25519: return "Ed25519";
    case KeyCurve::kSecp256k1: return "secp256k1";
  }
  return "unknown curve";
}

CurveScalar::~CurveScalar() { core::secure_wipe(bytes_.data(), bytes_.size()); }

CurveScalar::CurveScalar(CurveScalar&& other) noexcept : bytes_(other.bytes_) {
  core::secure_wipe(other.bytes_.data(), other.bytes_.size());
}

CurveScalar& CurveScalar::operator=(CurveScalar&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    core::secure_wipe(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

bool CurveScalar::is_zero() const {
  std::uint8_t acc = 0;
  for (std::uint8_t b : bytes_) acc |= b;
  return acc == 0;
}

bool CurveScalar::operator==(const CurveScalar& other) const {
  return core::constant_time_equal(bytes_, other.bytes_);
}

const Curve& Curve::of(KeyCurve curve) {
  static const Ed25519Curve ed25519;
  static const Secp256k1Curve secp256k1;
  return curve == KeyCurve::kSecp256k1 ? static_cast<const Curve&>(secp256k1) : static_cast<const Curve&>(ed25519);
}

CurveScalar Curve::participant_x(std::uint64_t id) const {
  if (id == UINT64_MAX) {
    // 2^64 = (2^63) * 2
    return mul(from_u64(std::uint64_t{1} << 63), from_u64(2));
  }
  return from_u64(id + 1);
}

Result<CurveScalar> Curve::lagrange_at_zero(std::span<const CurveScalar> xs, const CurveScalar& x_i) const {
  CurveScalar num = from_u64(1);
  CurveScalar den = from_u64(1);
  bool found = false;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    for (std::size_t k = j + 1; k < xs.size(); ++k) {
      if (xs[j] == xs[k]) return invalid("Lagrange coefficient over a set with a repeated x");
    }
    if (xs[j] == x_i) {
      found = true;
      continue;
    }
    num = mul(num, xs[j]);
    den = mul(den, sub(xs[j], x_i));
  }
  if (!found) return invalid("Lagrange coefficient for an x outside the set");
  return mul(num, invert(den));
}

}  // namespace mpc::threshold
