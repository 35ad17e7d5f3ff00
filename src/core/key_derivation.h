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
#include <variant>

#include <nlohmann/json.hpp>

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

// ---- Signature requests and responses: the contract's JSON ----
// What `sign` stores and `respond` takes (near/mpc crates/near-mpc-crypto-
// types/src/{primitives,sign}.rs). Here so that the contract and the nodes
// (which build `respond` arguments) share one definition.

inline constexpr std::size_t kEcdsaPayloadBytes = 32;
// Solana signs whole transactions, at most 1232 bytes (the reference's bound).
inline constexpr std::size_t kEddsaPayloadMaxBytes = 1232;

// A payload to sign: JSON {"Ecdsa":"<64 hex>"} (a 32-byte hash) or
// {"Eddsa":"<hex>"} (the message itself, 0..1232 bytes).
struct SignPayload {
  enum class Kind { kEcdsa, kEddsa };
  Kind kind = Kind::kEddsa;
  Bytes bytes;
  auto operator<=>(const SignPayload&) const = default;
  bool operator==(const SignPayload&) const = default;
};

// The reference's SignatureRequest: a pending request's key.
// JSON {"tweak":[32 ints],"payload":SignPayload,"domain_id":N}.
struct SignatureRequest {
  Tweak tweak{};
  SignPayload payload;
  std::uint64_t domain_id = 0;
  auto operator<=>(const SignatureRequest&) const = default;
  bool operator==(const SignatureRequest&) const = default;

  // The request `sign` stores for (predecessor, path, payload, domain).
  static SignatureRequest make(std::string_view predecessor_account_id, std::string_view path, SignPayload payload,
                               std::uint64_t domain_id);
};

nlohmann::json to_json(const SignPayload& payload);
nlohmann::json to_json(const SignatureRequest& request);
// Strict like serde: hex of either case, Ecdsa exactly 32 bytes, Eddsa at
// most 1232, exactly one variant, a tweak of 32 integers 0..255; unknown
// fields of the request are ignored. Errors name the field under `path`.
Result<SignPayload> parse_sign_payload(const nlohmann::json& j, const std::string& path = "payload");
Result<SignatureRequest> parse_signature_request(const nlohmann::json& j, const std::string& path = "request");

// secp256k1 ECDSA as the reference returns it: JSON {"scheme":"Secp256k1",
// "big_r":{"affine_point":"<66 hex, compressed SEC1>"},"s":{"scalar":"<64 hex>"},"recovery_id":N}.
struct Secp256k1SignatureResponse {
  std::array<std::uint8_t, 33> big_r{};
  std::array<std::uint8_t, 32> s{};
  std::uint8_t recovery_id = 0;
  bool operator==(const Secp256k1SignatureResponse&) const = default;
};
// A `respond` response, JSON internally tagged by "scheme":
// {"scheme":"Ed25519","signature":[64 ints]} or the Secp256k1 form above.
// This JSON (compact) is also the sign transaction's SuccessValue.
using SignatureResponse = std::variant<Ed25519Signature, Secp256k1SignatureResponse>;

nlohmann::json to_json(const SignatureResponse& response);
Result<SignatureResponse> parse_signature_response(const nlohmann::json& j, const std::string& path = "response");

// The arguments of `respond`: {"request":SignatureRequest,"response":SignatureResponse}.
// What a node submits once it has signed `request`.
nlohmann::json respond_args(const SignatureRequest& request, const SignatureResponse& response);

// ---- Secp256k1 ----

// group + tweak·G on secp256k1 (OpenSSL). kInvalidArgument if `group` is not
// a point of the curve, if the tweak read big-endian is not below the group
// order n ("The provided tweak is not on the curve of the public key." in
// the reference), or if the sum is the point at infinity.
// A 33-byte SEC1 compressed secp256k1 point as the 64-byte X||Y form NEAR
// keys use; kInvalidArgument unless it is a point of the curve.
Result<Secp256k1PublicKey> secp256k1_decompress(ByteView compressed);
Result<Secp256k1PublicKey> derive_secp256k1_public_key(const Secp256k1PublicKey& group, const Tweak& tweak);

}  // namespace mpc::core
