// INTERNAL to src/contract: TEE attestations on chain (tee.cc), as the
// reference contract keeps them (near/mpc crates/contract/src/tee,
// api/attestation.rs, api/tee_measurements.rs; the backup-service half of
// docs/backup-service-attestation-data.md).
//
// An attestation is the reference's `Attestation` JSON:
//   {"Mock": "Valid"} | {"Mock": "Invalid"}
//   | {"Mock": {"WithConstraints": {"mpc_docker_image_hash": hex|null,
//                                   "launcher_docker_compose_hash": hex|null,
//                                   "expiry_timestamp_seconds": u64|null,
//                                   "expected_measurements": Measurements|null}}}
//   | {"Dstack": {"quote": hex (or an array of bytes), "collateral": {...},
//                 "tcb_info": {...}}}
// Measurements: {"mrtd","rtmr0","rtmr1","rtmr2","key_provider_event_digest"}, hex.
//
// Mock attestations are accepted only when the contract's attestation mode
// is development; Dstack ones are verified with mpc_attest (DCAP quote,
// collateral, dstack checks) at the block timestamp, against the voted
// allowed sets and with report data ReportDataV1(tls_public_key ||
// the signer's access key). An accepted attestation expires
// kAttestationValiditySeconds after the block timestamp it was accepted at
// (a WithConstraints mock's own expiry, when earlier, stays).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/dstack.h"
#include "contract/contract.h"
#include "core/crypto.h"
#include "core/result.h"

namespace mpc::contract::internal {

using json = nlohmann::json;

// The reference's DEFAULT_EXPIRATION_DURATION_SECONDS (mpc-attestation).
inline constexpr std::uint64_t kAttestationValiditySeconds = 60 * 60 * 24 * 7;
// Our bounds on what attestations may be stored (the reference makes the
// submitter prepay storage; this contract's state is held in memory).
inline constexpr std::size_t kMaxAttestationsPerAccount = 4;
inline constexpr std::size_t kMaxStoredAttestations = 1024;
// Our bound on each allowed list (entries are only added by votes).
inline constexpr std::size_t kMaxAllowedEntries = 64;

enum class AttestationMode { kDevelopment, kProduction };
std::string_view attestation_mode_name(AttestationMode mode);  // "development" | "production"
std::optional<AttestationMode> parse_attestation_mode(std::string_view text);

enum class AttestationKind { kMock, kDstack };

// An accepted attestation as stored (the reference's NodeAttestation with
// its VerifiedAttestation): who submitted it, under which keys, and what
// re-verification needs. For a Mock, the hashes and measurements are its
// constraints (each optional); for a Dstack attestation they are what was
// measured (all set).
struct StoredAttestation {
  std::string account_id;
  core::Ed25519PublicKey tls_public_key{};
  core::Ed25519PublicKey account_public_key{};
  AttestationKind kind = AttestationKind::kMock;
  std::uint64_t expiry_timestamp_seconds = 0;
  std::optional<attest::Hash256> mpc_image_hash;
  std::optional<attest::Hash256> launcher_compose_hash;
  std::optional<attest::ExpectedMeasurements> measurements;
  bool operator==(const StoredAttestation&) const = default;
};

// Votes keyed by account id (the reference keys them by participant).
template <typename Proposal>
struct AccountVotes {
  std::map<std::string, Proposal> proposal_by_account;
  bool operator==(const AccountVotes&) const = default;
};

// What an attestation of one kind of service must match.
struct AllowedHashes {
  std::vector<attest::Hash256> image_hashes;            // voted by vote_code_hash / vote_backup_service_code_hash
  std::vector<attest::Hash256> launcher_compose_hashes;  // voted by vote_add_launcher_compose_hash / ..._backup_service_...
  AccountVotes<attest::Hash256> image_votes;
  AccountVotes<attest::Hash256> launcher_votes;
  bool operator==(const AllowedHashes&) const = default;
};

struct TeeState {
  // Participant (and candidate, and migration destination) attestations by
  // TLS public key (ed25519 text): one per key; re-submission overwrites.
  std::map<std::string, StoredAttestation> participant_attestations;
  // A backup service's attestation, by the account it serves.
  std::map<std::string, StoredAttestation> backup_attestations;
  AllowedHashes node;
  AllowedHashes backup;
  std::vector<attest::ExpectedMeasurements> os_measurements;  // shared by nodes and backup services
  AccountVotes<attest::ExpectedMeasurements> measurement_votes;
  bool operator==(const TeeState&) const = default;

  // The allowed set a node's (or a backup service's) Dstack attestation
  // must match now.
  attest::AllowedSet allowed_for_nodes() const;
  attest::AllowedSet allowed_for_backup_services() const;
};

// Whether `a` holds at `now_seconds` under `mode`: unexpired, of a kind the
// mode accepts, and its hashes and measurements still allowed. On failure
// the reason, in words.
core::Status reverify(const StoredAttestation& a, std::uint64_t now_seconds, AttestationMode mode,
                      const attest::AllowedSet& allowed);

// Parses and verifies an Attestation JSON value (`path` names it in
// errors) for the TLS key `tls_key`, submitted by ctx's signer with ctx's
// access key (must be Ed25519), at ctx's block timestamp under `mode`.
// Bad JSON -> kInvalidArgument ("Failed to deserialize input ..."); a
// refused attestation -> a panic naming why.
core::Result<StoredAttestation> verify_submitted(const json& value, const std::string& path,
                                                 const core::Ed25519PublicKey& tls_key, const CallContext& ctx,
                                                 AttestationMode mode, const attest::AllowedSet& allowed);

std::uint64_t block_seconds(const CallContext& ctx);

json to_json(const StoredAttestation& a);
core::Result<StoredAttestation> stored_attestation_from_json(const json& j, const std::string& path);
json to_json(const TeeState& tee);
core::Result<TeeState> tee_state_from_json(const json& j);

}  // namespace mpc::contract::internal
