// Per-user key derivation of the MPC network (near/mpc, crates/near-mpc-
// crypto-types/src/kdf.rs and crates/contract/src/crypto_shared/kdf.rs).
//
// A `sign` request signs under a key derived from the domain's group key and
// the caller: tweak = SHA3-256("near-mpc-recovery v0.1.0 epsilon derivation:"
// || predecessor_account_id || "," || path), and
//   Ed25519:   derived = group + (tweak as a little-endian integer mod L)·G
//   Secp256k1: derived = group + (tweak as a big-endian integer)·G, where a
//              tweak >= n is refused (the reference's TweakNotOnCurve).
// The nodes sign with their shares plus the same tweak scalar (the Lagrange
// coefficients sum to one), so the threshold signature verifies under the
// derived key. Curve arithmetic is libsodium's (Ed25519) and OpenSSL's
// (secp256k1).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/near_key.h"
#include "core/result.h"
#include "core/secret.h"

namespace mpc::core {

using Tweak = std::array<std::uint8_t, 32>;

inline constexpr std::string_view kTweakDerivationPrefix = "near-mpc-recovery v0.1.0 epsilon derivation:";

// The reference's derive_tweak. `predecessor_account_id` is the account that
// called `sign` (the contract does not check its form here; callers pass a
// NEAR account id). Total: any path, including the empty one.
Tweak derive_tweak(std::string_view predecessor_account_id, std::string_view path);

// ---- Ed25519 ----

// The tweak as an Ed25519 scalar: little-endian, reduced mod L (32 bytes,
// canonical). What a signer adds to its share.
std::array<std::uint8_t, 32> ed25519_tweak_scalar(const Tweak& tweak);

// group + ed25519_tweak_scalar(tweak)·G. kInvalidArgument if `group` is not
// a canonical encoding of a point of the prime-order subgroup (small-order
// points included), or if the sum is the identity.
Result<Ed25519PublicKey> derive_ed25519_public_key(const Ed25519PublicKey& group, const Tweak& tweak);

// (secret + ed25519_tweak_scalar(tweak)) mod L, for a 32-byte little-endian
// key scalar (a dealer's group secret, or a share: adding the tweak to every
// share adds it to the reconstructed secret). kInvalidArgument unless
// `secret` is 32 bytes. The result wipes itself.
Result<SecretBytes> derive_ed25519_secret_scalar(const SecretBytes& secret, const Tweak& tweak);

// The public key scalar·G of a 32-byte little-endian scalar (reduced mod L
// first). kInvalidArgument for a wrong length or a zero scalar.
Result<Ed25519PublicKey> ed25519_public_key_of_scalar(const SecretBytes& scalar);

// An RFC 8032 Ed25519 signature by the key scalar·G, for a key held as a
// bare scalar (derived keys have no seed): R = r·G with the nonce
// r = SHA-512(domain tag || scalar || message) mod L, S = r + SHA-512(R || A ||
// message)·scalar mod L. Verifies with any Ed25519 verifier (ed25519_verify).
// For dealers and tests; the network's signatures come from FROST.
// kInvalidArgument for a wrong length or a zero scalar.
Result<Ed25519Signature> ed25519_sign_with_scalar(const SecretBytes& scalar, ByteView message);

// ---- Secp256k1 ----

// group + tweak·G on secp256k1 (OpenSSL). kInvalidArgument if `group` is not
// a point of the curve, if the tweak read big-endian is not below the group
// order n ("The provided tweak is not on the curve of the public key." in
// the reference), or if the sum is the point at infinity.
Result<Secp256k1PublicKey> derive_secp256k1_public_key(const Secp256k1PublicKey& group, const Tweak& tweak);

}  // namespace mpc::core
