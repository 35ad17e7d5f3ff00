// Threshold ECDSA signing on secp256k1 from a presignature (ecdsa_presign.h):
// one round, as the reference's `DamgardEtAl` (robust_ecdsa) signing with a
// coordinator. Pure; no I/O.
//
// Inputs every signer must agree on (the node takes them from the contract's
// sign request; a coordinator that shows different signers different
// values can extract the key, see ecdsa_presign.h): the message hash h
// (32 bytes, read big-endian and reduced mod n, as ECDSA verification
// does; never zero), the tweak (derived key Y = X + tweak·G with the tweak
// read big-endian and < n, as core/key_derivation.h
// derive_secp256k1_public_key), the group key X, public entropy (the
// request's, e.g. the block's random seed), the coordinator and the
// presignature's signing set.
//
// Rerandomization (as the reference, after Groth-Shoup 2021): every signer
// derives delta = HKDF-SHA3-256(salt, ikm = entropy, info = counter(2) ||
// Y || tweak || h || R || ids (u64 LE each)), the first output below n and
// not zero (counter 0, 1, ...), and uses
//   R' = delta·R,  alpha' = alpha·delta^-1,  beta' = (beta + c·tweak)·delta^-1
// so its share s_i = alpha'·h + beta'·r + e_i, r = R'.x mod n, is a
// degree-2t share of s = k'^-1 (h + r·(x + tweak)), k' = delta·k.
//
// The coordinator needs the shares of ALL 2T - 1 signers (s_i lies on a
// polynomial of degree 2t = 2T - 2), combines them by Lagrange
// interpolation at 0, refuses s = 0, normalizes to low s (s <= n/2), sets
// the recovery id (bit 0: R'.y odd, flipped when s was negated; bit 1: R'.x
// >= n, practically never), and VERIFIES the signature with OpenSSL ECDSA
// under Y before returning it. A bad share or presignature therefore never
// yields a returned signature; the session fails instead. The culprit
// cannot be named: with exactly 2t + 1 shares of a degree-2t polynomial
// there is no redundancy to locate a wrong one (blamed() stays nullopt).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/signing_session.h"  // SessionId
#include "threshold/messages.h"         // Tweak

namespace mpc::threshold {

struct EcdsaSignRequest {
  // Binds the shares to this signing attempt.
  SessionId session{};
  std::array<std::uint8_t, 32> msg_hash{};
  Tweak tweak{};
  std::array<std::uint8_t, 32> entropy{};
  CurvePoint group_key;  // X, 33-byte SEC1 compressed
  std::uint64_t coordinator = 0;
};

// As the reference's response: R' compressed, low s, recovery id 0..3.
struct EcdsaSignature {
  std::array<std::uint8_t, 33> big_r{};
  std::array<std::uint8_t, 32> s{};
  std::uint8_t recovery_id = 0;
  bool operator==(const EcdsaSignature&) const = default;
};

// A non-coordinator signer: its SignShare message for the coordinator.
// Consumes the presignature (it is wiped; never sign with it again: the node
// marks it used durably before calling this). Fails (kInvalidArgument) on
// a zero hash, a tweak >= n, an invalid group key, self being the
// coordinator or the coordinator not in the presignature's set; the payload
// may be sent only to request.coordinator.
core::Result<core::Bytes> ecdsa_sign_share(Presignature presignature, const EcdsaSignRequest& request);

// The coordinator's side: its own share from its presignature, the others'
// from their SignShare messages.
class EcdsaSignCoordinator {
 public:
  // Same checks as ecdsa_sign_share, with self == coordinator. Consumes the
  // presignature.
  static core::Result<EcdsaSignCoordinator> create(Presignature presignature, const EcdsaSignRequest& request);

  // A SignShare from authenticated participant `from`. Refused (nothing
  // changes): not a signer, ourselves, malformed, other session, duplicate,
  // after the end. With the last share: the verified signature, or an error
  // (kInvalidArgument "ecdsa sign failed: ...") after which the session has
  // failed for good (failure() says why); otherwise nullopt.
  core::Result<std::optional<EcdsaSignature>> on_message(std::uint64_t from, core::ByteView payload);

  // The key the signature verifies under: X + tweak·G (33-byte compressed).
  const CurvePoint& derived_public_key() const { return derived_key_; }
  std::optional<std::string> failure() const { return failure_; }
  std::vector<std::uint64_t> waiting_for() const;

 private:
  EcdsaSignCoordinator() = default;

  SessionId session_{};
  std::uint64_t self_ = 0;
  std::vector<std::uint64_t> participants_;
  std::vector<std::optional<CurveScalar>> shares_;
  CurvePoint big_r_;  // R'
  CurvePoint derived_key_;
  std::array<std::uint8_t, 32> msg_hash_{};
  bool finished_ = false;
  std::optional<std::string> failure_;
};

// ECDSA verification (OpenSSL) of (r = R'.x mod n, s) over the 32-byte hash
// under a 33-byte compressed public key; false on anything invalid.
bool ecdsa_verify(const CurvePoint& public_key, const std::array<std::uint8_t, 32>& msg_hash,
                  const std::array<std::uint8_t, 32>& r, const std::array<std::uint8_t, 32>& s);

}  // namespace mpc::threshold
