// FROST(Ed25519, SHA-512), RFC 9591: the two-round Schnorr threshold
// signature whose output is a plain RFC 8032 Ed25519 signature.
//
// Everything here is pure (no I/O, no clock, no randomness of its own: the
// caller passes the 32 random bytes each nonce needs). Curve and scalar
// arithmetic is libsodium's (crypto_core_ed25519_*, crypto_scalarmult_ed25519_*
// noclamp); hashing is libsodium's SHA-512. Secret scalars (shares, nonces)
// live in SecretScalar, wiped on destruction and on move.
//
// Encodings (RFC 9591 §6.1): a Scalar is 32 bytes little-endian, canonical
// (< L = 2^252 + 27742317777372353535851937790883648493); an Element is a
// 32-byte compressed Edwards point. deserialize_element refuses what the RFC's
// DeserializeElement must refuse: non-canonical encodings, points not on the
// curve, the identity, small-order points and points outside the prime-order
// subgroup.
//
// Identifiers: the RFC's participant identifiers are non-zero scalars; the
// network's participant id p holds f(p + 1) (model::Keyshare, the dealer), so
// its FROST identifier is p + 1 (identifier_for_participant). Identifiers are
// kept as u64 here (p = 2^64 - 1 has no identifier and is refused).
//
// Key derivation ("tweak"). RFC 9591 defines none; we do what the reference
// near/mpc does for EdDSA (crates/node providers/eddsa/sign.rs and
// threshold-signatures Tweak): the 32-byte tweak is read little-endian and
// reduced mod L (from_bytes_mod_order: no value is refused), every signer
// signs with share + t, and the whole FROST computation (binding factors,
// challenge) runs under the derived group key Y + t·G. Since the Lagrange
// coefficients at 0 of any signing set sum to 1, the shifted shares are
// shares of s + t, so the result is a plain Ed25519 signature under Y + t·G.
// See tweak_scalar / derive_signing_share / derive_public_key.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "model/types.h"

namespace mpc::threshold {

inline constexpr std::size_t kScalarSize = 32;
inline constexpr std::size_t kElementSize = 32;
inline constexpr std::size_t kSignatureSize = 64;
// contextString of the ciphersuite (RFC 9591 §6.1).
inline constexpr std::string_view kContextString = "FROST-ED25519-SHA512-v1";

// A public scalar mod L (binding factor, challenge, signature share,
// Lagrange coefficient), canonical little-endian.
using Scalar = std::array<std::uint8_t, kScalarSize>;
// A valid group element: compressed Edwards point in the prime-order
// subgroup, never the identity (when it came from deserialize_element or
// from this module's arithmetic).
using Element = std::array<std::uint8_t, kElementSize>;
// R || z, an RFC 8032 Ed25519 signature.
using Signature = std::array<std::uint8_t, kSignatureSize>;
// A FROST participant identifier (non-zero).
using Identifier = std::uint64_t;
// 32 fresh random bytes, as nonce_generate consumes them.
using NonceRandomness = std::span<const std::uint8_t, 32>;

// A secret scalar mod L (a key share, a nonce). Not copyable (clone() is
// explicit), wiped on destruction and when moved from; never printed.
class SecretScalar {
 public:
  SecretScalar() { bytes_.fill(0); }
  ~SecretScalar();
  SecretScalar(const SecretScalar&) = delete;
  SecretScalar& operator=(const SecretScalar&) = delete;
  SecretScalar(SecretScalar&& other) noexcept;
  SecretScalar& operator=(SecretScalar&& other) noexcept;

  // 32 bytes, little-endian, canonical (< L). Errors never show the bytes.
  static core::Result<SecretScalar> from_bytes(core::ByteView bytes);
  // 64 hex characters (model::Keyshare's Ed25519 private_share).
  static core::Result<SecretScalar> from_hex(std::string_view hex);

  SecretScalar clone() const;
  bool is_zero() const;
  const std::uint8_t* data() const { return bytes_.data(); }
  std::uint8_t* mutable_data() { return bytes_.data(); }
  std::span<const std::uint8_t, kScalarSize> view() const { return bytes_; }

 private:
  std::array<std::uint8_t, kScalarSize> bytes_;
};

// ---- encodings (RFC 9591 §6.1) ----

// Fails (kInvalidArgument) unless `bytes` is 32 bytes encoding an integer < L.
core::Result<Scalar> deserialize_scalar(core::ByteView bytes);
// Fails (kInvalidArgument) on a wrong length, a non-canonical encoding, a
// point off the curve, the identity, a small-order or mixed-order point.
core::Result<Element> deserialize_element(core::ByteView bytes);
// SerializeScalar(identifier): 32 bytes little-endian.
Scalar identifier_scalar(Identifier id);
// Participant p -> identifier p + 1; refuses p = 2^64 - 1.
core::Result<Identifier> identifier_for_participant(std::uint64_t participant_id);

// ---- hash functions H1..H5 (RFC 9591 §6.1) ----
Scalar h1(core::ByteView m);  // SHA-512(contextString || "rho" || m) mod L
Scalar h2(core::ByteView m);  // SHA-512(m) mod L: RFC 8032's challenge, no context
Scalar h3(core::ByteView m);  // SHA-512(contextString || "nonce" || m) mod L
std::array<std::uint8_t, 64> h4(core::ByteView m);  // SHA-512(contextString || "msg" || m)
std::array<std::uint8_t, 64> h5(core::ByteView m);  // SHA-512(contextString || "com" || m)

// ---- keys ----

// secret·G. Fails on a zero secret.
core::Result<Element> public_element(const SecretScalar& secret);
// The reference's tweak: 32 bytes read little-endian, reduced mod L.
Scalar tweak_scalar(std::span<const std::uint8_t, 32> tweak);
// share + t (mod L).
SecretScalar derive_signing_share(const SecretScalar& share, const Scalar& tweak);
// Y + t·G (Y itself when t = 0). Fails if the result is the identity.
core::Result<Element> derive_public_key(const Element& group_key, const Scalar& tweak);

// One participant's signing key for one domain: its (untweaked) share, its
// verifying share (share·G, public) and the group key.
struct KeyPackage {
  SecretScalar share;
  Element verifying_share{};
  Element group_key{};
  KeyPackage clone() const { return KeyPackage{share.clone(), verifying_share, group_key}; }
};
// Computes the verifying share. Fails on a zero share.
core::Result<KeyPackage> make_key_package(SecretScalar share, const Element& group_key);
// From a node's keyshare: Ed25519 kind, 64-hex canonical non-zero share,
// 64-hex valid group key. Errors name the field, never the share.
core::Result<KeyPackage> key_package_from_keyshare(const model::Keyshare& keyshare);

// ---- round one (RFC 9591 §5.1) ----

struct SigningNonces {
  SecretScalar hiding;
  SecretScalar binding;
};

struct NonceCommitment {
  Identifier identifier = 0;
  Element hiding{};
  Element binding{};
  bool operator==(const NonceCommitment&) const = default;
};
// Sorted by identifier, strictly ascending (check_commitment_list).
using CommitmentList = std::vector<NonceCommitment>;

// H3(random_bytes || SerializeScalar(secret)).
SecretScalar nonce_generate(NonceRandomness random_bytes, const SecretScalar& secret);

struct CommitOutput {
  SigningNonces nonces;
  Element hiding_commitment{};
  Element binding_commitment{};
};
// commit(sk_i) with the randomness of its two nonce_generate calls given.
// Fails only if a nonce is zero (probability 2^-252).
core::Result<CommitOutput> commit(const SecretScalar& share, NonceRandomness hiding_randomness,
                                  NonceRandomness binding_randomness);

// ---- round two (RFC 9591 §4.3-4.6, §5.2, §5.3) ----

// Non-empty, identifiers non-zero and strictly ascending.
core::Status check_commitment_list(const CommitmentList& list);
// identifier || hiding || binding for each entry, in list order.
core::Bytes encode_group_commitment_list(const CommitmentList& list);

struct BindingFactor {
  Identifier identifier = 0;
  Scalar factor{};
};
core::Result<std::vector<BindingFactor>> compute_binding_factors(const Element& group_public_key,
                                                                 const CommitmentList& list, core::ByteView msg);
core::Result<Element> compute_group_commitment(const CommitmentList& list, std::span<const BindingFactor> factors);
Scalar compute_challenge(const Element& group_commitment, const Element& group_public_key, core::ByteView msg);
// Lagrange coefficient at 0 of x_i over `list`; fails if x_i is not in the
// list, or the list holds zero or a repeated identifier.
core::Result<Scalar> derive_interpolating_value(std::span<const Identifier> list, Identifier x_i);

// What every step of round two recomputes from the commitment list, once:
// the binding factors, each signer's commitment share D_i + rho_i·E_i, R and
// the challenge. The coordinator verifies every share against one context
// instead of recomputing R (one variable-base multiplication per signer) for
// each.
struct SigningContext {
  Element group_public_key{};
  CommitmentList commitments;
  std::vector<Identifier> identifiers;
  std::vector<BindingFactor> binding_factors;  // same order as commitments
  std::vector<Element> commitment_shares;      // same order as commitments
  Element group_commitment{};
  Scalar challenge{};
  std::vector<std::uint8_t> message;
};
core::Result<SigningContext> prepare_signing(const Element& group_public_key, CommitmentList list, core::ByteView msg);

// sign (RFC 9591 §5.2): the signature share of `identifier`, which must be in
// the list. `nonces` are wiped before returning, success or not: a nonce pair
// signs at most once.
core::Result<Scalar> sign(Identifier identifier, const SecretScalar& share, const Element& group_public_key,
                          SigningNonces& nonces, core::ByteView msg, const CommitmentList& list);
core::Result<Scalar> sign(const SigningContext& context, Identifier identifier, const SecretScalar& share,
                          SigningNonces& nonces);

// verify_signature_share (RFC 9591 §5.4): ok, or kPermissionDenied naming
// the identifier. `public_key_share` is identifier's share·G (with a tweak:
// its derived share's, i.e. share·G + t·G).
core::Status verify_signature_share(Identifier identifier, const Element& public_key_share,
                                    const Scalar& signature_share, const CommitmentList& list,
                                    const Element& group_public_key, core::ByteView msg);
core::Status verify_signature_share(const SigningContext& context, Identifier identifier,
                                    const Element& public_key_share, const Scalar& signature_share);

// aggregate (RFC 9591 §5.3): R || sum of the shares. Does not verify.
core::Result<Signature> aggregate(const CommitmentList& list, core::ByteView msg, const Element& group_public_key,
                                  std::span<const Scalar> signature_shares);
Signature aggregate(const SigningContext& context, std::span<const Scalar> signature_shares);

}  // namespace mpc::threshold
