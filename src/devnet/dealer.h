// A trusted dealer for local networks: real Shamir shares of fresh random
// group keys, in the reference's formats (interop §5), so that a devnet's
// nodes hold shares that reconstruct to the keyset's group keys.
//
// Participant id p receives f(p + 1), where f is a random polynomial of
// degree threshold - 1 whose constant term is the group secret. Any
// `threshold` shares determine the secret; fewer reveal nothing about it.
//
// Curves: Secp256k1 (scalars mod the group order, OpenSSL BIGNUM/EC) and
// Ed25519 (libsodium's scalar and point functions). Bls12381 is refused.
// Not for production: the dealer sees every secret. Secrets are wiped
// (BN_clear_free, sodium_memzero) as soon as they are encoded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "model/types.h"

namespace mpc::devnet {

struct DealtDomain {
  model::KeyForDomain key;                     // the keyset entry
  std::vector<std::uint64_t> participant_ids;  // in the order given
  std::vector<model::Keyshare> shares;          // shares[i] belongs to participant_ids[i]
};

// Deals one domain's key to the given participants.
// REQUIRES (else kInvalidArgument): participant_ids non-empty and distinct,
// 1 <= threshold <= participant_ids.size(), kind is Secp256k1 or Ed25519.
core::Result<DealtDomain> deal(model::CurveKind kind, std::uint64_t domain_id, std::span<const std::uint64_t> participant_ids,
                               std::size_t threshold, std::uint64_t epoch_id, std::uint64_t attempt);
// Participants 0 .. participants-1.
core::Result<DealtDomain> deal(model::CurveKind kind, std::uint64_t domain_id, std::size_t participants,
                               std::size_t threshold, std::uint64_t epoch_id, std::uint64_t attempt);

struct DomainToDeal {
  std::uint64_t domain_id = 0;
  model::CurveKind kind = model::CurveKind::kSecp256k1;
  std::uint64_t attempt = 0;
};

struct DealtKeyset {
  model::Keyset keyset;
  std::vector<std::uint64_t> participant_ids;
  // shares[i]: participant_ids[i]'s keyshares, one per domain, in keyset order.
  std::vector<std::vector<model::Keyshare>> shares;
};

// Deals every domain of a keyset (domain ids must be distinct).
core::Result<DealtKeyset> deal_keyset(std::span<const DomainToDeal> domains, std::span<const std::uint64_t> participant_ids,
                                      std::size_t threshold, std::uint64_t epoch_id);

// A keyset from given plaintext shares instead of a dealer (mpc-devnet create
// --import-keyshares): `shares[i]` are participant_ids[i]'s keyshares, one per
// domain. Refused, with the domain and participant named, unless every
// participant holds the same domains (same key ids, curve and group key),
// the shares of each domain lie on one polynomial of degree < threshold, and
// that polynomial's value at 0 is the secret of the group key the shares
// name. All shares must be at one epoch. Secrets reconstructed for the check
// are wiped. Ed25519 and Secp256k1 only.
core::Result<DealtKeyset> keyset_from_shares(std::vector<std::vector<model::Keyshare>> shares,
                                             std::span<const std::uint64_t> participant_ids, std::size_t threshold);

}  // namespace mpc::devnet
