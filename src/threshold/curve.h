// The two curves of the key events (key_event.h), behind one small
// interface over encoded values: Ed25519 through libsodium
// (crypto_core_ed25519_*, crypto_scalarmult_ed25519_*noclamp, as frost.cc),
// secp256k1 through OpenSSL (EC_GROUP/EC_POINT/BIGNUM; BIGNUMs that hold a
// scalar are BN_secure_new with BN_FLG_CONSTTIME and cleared when freed).
// No field arithmetic of our own.
//
// Encodings:
//   scalar  Ed25519: 32 bytes little-endian, canonical (< L);
//           secp256k1: 32 bytes big-endian, < n.
//   point   Ed25519: 32-byte compressed Edwards point; decode_point refuses
//           what frost.h deserialize_element refuses (non-canonical, off the
//           curve, identity, small or mixed order);
//           secp256k1: 33-byte SEC1 compressed (0x02/0x03 || x, x < p), on
//           the curve, not the point at infinity, canonical.
//   Internally a CurvePoint may also be the identity (a sum can be): Ed25519
//   encodes it as its 32-byte encoding (y = 1), secp256k1 as the single byte
//   0x00 (SEC1's infinity). decode_point never returns it.
//
// Arithmetic on values this interface produced or decoded cannot fail
// except when memory runs out inside OpenSSL; that aborts the process (as
// an allocation failure would), so the arithmetic returns plain values.
//
// Thread-safe: the curve objects are immutable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::threshold {

enum class KeyCurve { kEd25519, kSecp256k1 };
const char* key_curve_name(KeyCurve curve);

inline constexpr std::size_t kCurveScalarSize = 32;

// A scalar mod the curve's order in the curve's encoding. May be secret:
// wiped on destruction and when moved from; copies are explicit values too
// (each wiped on its own destruction). Never printed.
class CurveScalar {
 public:
  CurveScalar() { bytes_.fill(0); }
  ~CurveScalar();
  CurveScalar(const CurveScalar& other) = default;
  CurveScalar& operator=(const CurveScalar& other) = default;
  CurveScalar(CurveScalar&& other) noexcept;
  CurveScalar& operator=(CurveScalar&& other) noexcept;

  const std::uint8_t* data() const { return bytes_.data(); }
  std::uint8_t* mutable_data() { return bytes_.data(); }
  std::span<const std::uint8_t, kCurveScalarSize> view() const { return bytes_; }
  bool is_zero() const;
  // Constant time.
  bool operator==(const CurveScalar& other) const;

 private:
  std::array<std::uint8_t, kCurveScalarSize> bytes_;
};

// A canonical point encoding (see above).
using CurvePoint = core::Bytes;

class Curve {
 public:
  static const Curve& of(KeyCurve curve);
  virtual ~Curve() = default;

  virtual KeyCurve id() const = 0;
  const char* name() const { return key_curve_name(id()); }
  // 32 (Ed25519) or 33 (secp256k1).
  virtual std::size_t point_size() const = 0;

  // ---- scalars ----
  // A 64-byte integer (Ed25519: little-endian; secp256k1: big-endian)
  // reduced mod the order: uniform scalars from 64 random bytes, hashes.
  virtual CurveScalar reduce_wide(std::span<const std::uint8_t, 64> wide) const = 0;
  // Fails (kInvalidArgument) unless 32 bytes encoding an integer < order.
  // Errors never show the bytes.
  virtual core::Result<CurveScalar> decode_scalar(core::ByteView bytes) const = 0;
  // The integer v (< 2^64 is below both orders).
  virtual CurveScalar from_u64(std::uint64_t v) const = 0;
  virtual CurveScalar add(const CurveScalar& a, const CurveScalar& b) const = 0;
  virtual CurveScalar sub(const CurveScalar& a, const CurveScalar& b) const = 0;
  virtual CurveScalar mul(const CurveScalar& a, const CurveScalar& b) const = 0;
  // REQUIRES: a != 0 (aborts otherwise: a caller bug).
  virtual CurveScalar invert(const CurveScalar& a) const = 0;

  // The x coordinate of participant `id`'s share: id + 1 (2^64 for
  // id = 2^64 - 1).
  CurveScalar participant_x(std::uint64_t id) const;
  // The Lagrange coefficient at 0 of `x_i` over `xs` (distinct, containing
  // x_i): prod_{j != i} x_j / (x_j - x_i). Fails (kInvalidArgument) on a
  // repeated x or x_i not in xs.
  core::Result<CurveScalar> lagrange_at_zero(std::span<const CurveScalar> xs, const CurveScalar& x_i) const;

  // ---- points ----
  // A valid non-identity point in the curve's public encoding (see above);
  // kInvalidArgument naming what is wrong otherwise.
  virtual core::Result<CurvePoint> decode_point(core::ByteView bytes) const = 0;
  virtual CurvePoint identity() const = 0;
  bool is_identity(const CurvePoint& p) const { return p == identity(); }
  // s·G (the identity for s = 0). Constant time in s.
  virtual CurvePoint base_mul(const CurveScalar& s) const = 0;
  // s·P for P decoded or computed here (the identity for s = 0 or P the identity).
  virtual CurvePoint mul(const CurveScalar& s, const CurvePoint& p) const = 0;
  virtual CurvePoint add(const CurvePoint& a, const CurvePoint& b) const = 0;
};

}  // namespace mpc::threshold
