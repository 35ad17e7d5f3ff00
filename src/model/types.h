// The contract's JSON domain model (module `model`, on top of core): the JSON
// types of the MPC contract and of key shares (interop §2, §5),
// with exact round-trip: parse_X(to_json(x)) == x and, for input from the
// chain, to_json(parse_X(j)) == j (unknown fields are kept, not dropped).
// Ids are u64 and survive above 2^53. Parse errors name the field path.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/near_key.h"
#include "core/result.h"
#include "core/secret.h"

namespace mpc::model {

using json = nlohmann::json;
// The model speaks core's vocabulary.
using core::Ed25519PublicKey;
using core::Error;
using core::ErrorCode;
using core::NearPublicKey;
using core::Result;
using core::Secp256k1PublicKey;
using core::SecretString;
using core::Status;

struct ParticipantInfo {
  std::string url;
  Ed25519PublicKey tls_public_key;
  bool operator==(const ParticipantInfo&) const = default;
};

struct ParticipantEntry {
  std::string account_id;
  std::uint64_t id = 0;
  ParticipantInfo info;
  bool operator==(const ParticipantEntry&) const = default;
};

struct Participants {
  std::uint64_t next_id = 0;
  std::vector<ParticipantEntry> participants;
  const ParticipantEntry* find(std::string_view account_id) const;
  const ParticipantEntry* find_by_tls_key(const Ed25519PublicKey& key) const;
  bool operator==(const Participants&) const = default;
};

struct ThresholdParameters {
  Participants participants;
  std::uint64_t threshold = 0;
  bool operator==(const ThresholdParameters&) const = default;
};

struct DomainConfig {
  std::uint64_t id = 0;
  std::string protocol;     // "CaitSith", "Frost", ...
  std::string purpose;      // "Sign", ... (may be absent in old states: empty)
  json extra = json::object();  // other fields ("curve", "reconstruction_threshold", ...)
  bool operator==(const DomainConfig&) const = default;
};

struct DomainRegistry {
  std::vector<DomainConfig> domains;
  std::uint64_t next_domain_id = 0;
  bool operator==(const DomainRegistry&) const = default;
};

enum class CurveKind { kSecp256k1, kEd25519, kBls12381 };
const char* curve_name(CurveKind kind);

// A domain's group public key as the contract shows it.
struct PublicKeyExtended {
  CurveKind kind = CurveKind::kEd25519;
  // Secp256k1: the 64-byte X||Y key; Ed25519: the 32-byte compressed point.
  std::optional<NearPublicKey> near_public_key;
  std::array<std::uint8_t, 32> edwards_point{};  // Ed25519 only
  std::string bls_public_key;                    // Bls12381 only ("bls12381g2:…")
  bool operator==(const PublicKeyExtended&) const = default;
};

struct KeyForDomain {
  std::uint64_t domain_id = 0;
  PublicKeyExtended key;
  std::uint64_t attempt = 0;
  bool operator==(const KeyForDomain&) const = default;
};

struct Keyset {
  std::uint64_t epoch_id = 0;
  std::vector<KeyForDomain> domains;
  const KeyForDomain* find(std::uint64_t domain_id) const;
  bool operator==(const Keyset&) const = default;
};

struct KeyshareKeyId {
  std::uint64_t epoch_id = 0;
  std::uint64_t domain_id = 0;
  std::uint64_t attempt_id = 0;
  bool operator==(const KeyshareKeyId&) const = default;
};
// The contract's key event id ({epoch_id, domain_id, attempt_id}) has the
// same shape as a keyshare's key id.
using KeyEventId = KeyshareKeyId;

// One participant's share of one domain's key. The private share is secret:
// wiped on destruction, never printed; to_json is the only way out.
struct Keyshare {
  KeyshareKeyId key_id;
  CurveKind kind = CurveKind::kSecp256k1;
  SecretString private_share;  // 64 hex; Secp256k1 big-endian, Ed25519 little-endian scalar
  std::string public_key;      // lower-case hex of the GROUP key: 33-byte SEC1, 32-byte Edwards, or BLS G2 bytes
  Keyshare clone() const;
};

struct BackupServiceInfo {
  Ed25519PublicKey public_key;
  bool operator==(const BackupServiceInfo&) const = default;
};

struct DestinationNodeInfo {
  Ed25519PublicKey signer_account_pk;  // the new node's NEAR access key
  ParticipantInfo destination_node_info;
  bool operator==(const DestinationNodeInfo&) const = default;
};

struct MigrationEntry {
  std::optional<BackupServiceInfo> backup_service;
  std::optional<DestinationNodeInfo> migration;
  bool operator==(const MigrationEntry&) const = default;
};
using MigrationInfo = std::map<std::string, MigrationEntry>;

// Protocol states. Vote bookkeeping is kept as the contract shows it (JSON):
// clients read it, never interpret it.
struct RunningState {
  DomainRegistry domains;
  Keyset keyset;
  ThresholdParameters parameters;
  json parameters_votes;
  json add_domains_votes;
  json extra = json::object();
  bool operator==(const RunningState&) const = default;
};

struct InitializingState {
  DomainRegistry domains;
  std::uint64_t epoch_id = 0;
  std::vector<KeyForDomain> generated_keys;
  json generating_key;
  json cancel_votes;
  json extra = json::object();
  bool operator==(const InitializingState&) const = default;
};

struct ResharingState {
  RunningState previous_running_state;
  std::vector<KeyForDomain> reshared_keys;
  json resharing_key;
  json cancellation_requests;
  json extra = json::object();
  bool operator==(const ResharingState&) const = default;
};

struct NotInitializedState {
  bool operator==(const NotInitializedState&) const = default;
};

// A key event (the contract's KeyEvent: generating or resharing the key of
// one domain) as the `state` view shows it, in Initializing.generating_key
// and Resharing.resharing_key: what a node needs to run its attempts.
struct KeyEventInstanceView {
  std::uint64_t attempt_id = 0;
  std::uint64_t started_in = 0;  // block height of the leader's start call
  std::uint64_t expires_on = 0;  // the attempt is over at this height and after
  std::vector<std::uint64_t> completed;         // participant ids that voted success
  std::optional<PublicKeyExtended> public_key;  // the key voted so far
  bool operator==(const KeyEventInstanceView&) const = default;
};

struct KeyEventView {
  std::uint64_t epoch_id = 0;
  DomainConfig domain;
  ThresholdParameters parameters;  // the participants that run the event
  std::optional<KeyEventInstanceView> instance;  // null in the view: no attempt
  std::uint64_t next_attempt_id = 0;

  // The active attempt's id at `block_height` (nullopt when no instance or it expired: block_height >= expires_on).
  std::optional<KeyEventId> active_id(std::uint64_t block_height) const;
  KeyEventId next_id() const;  // (epoch, domain, next_attempt_id): what the leader starts
  std::uint64_t leader() const; // lowest participant id of parameters
  bool operator==(const KeyEventView&) const = default;
};

struct ProtocolState {
  std::variant<NotInitializedState, InitializingState, RunningState, ResharingState> state;
  const RunningState* running() const { return std::get_if<RunningState>(&state); }
  const char* name() const;
  bool operator==(const ProtocolState&) const = default;
};

// ---- JSON ----

// A non-negative JSON integer as u64 (JSON text parses to unsigned; values
// built in C++ from int literals are signed). Floats and negatives: nullopt.
std::optional<std::uint64_t> json_u64(const json& j);

Result<ParticipantInfo> parse_participant_info(const json& j);
Result<Participants> parse_participants(const json& j);
Result<ThresholdParameters> parse_threshold_parameters(const json& j);
Result<DomainConfig> parse_domain_config(const json& j);
Result<DomainRegistry> parse_domain_registry(const json& j);
Result<KeyEventId> parse_key_event_id(const json& j);
Result<PublicKeyExtended> parse_public_key_extended(const json& j);
Result<KeyForDomain> parse_key_for_domain(const json& j);
Result<Keyset> parse_keyset(const json& j);
Result<Keyshare> parse_keyshare(const json& j);
Result<std::vector<Keyshare>> parse_keyshares(const json& j);
Result<BackupServiceInfo> parse_backup_service_info(const json& j);
Result<DestinationNodeInfo> parse_destination_node_info(const json& j);
Result<MigrationInfo> parse_migration_info(const json& j);
Result<ProtocolState> parse_protocol_state(const json& j);
// A KeyEventView from the view's JSON (InitializingState::generating_key,
// ResharingState::resharing_key). `instance` null or absent: none. The
// parameters must list at least one participant (the leader). Fields it does
// not know are ignored. Errors name the field path ("key_event.instance...").
Result<KeyEventView> parse_key_event(const json& j);

json to_json(const ParticipantInfo& v);
json to_json(const Participants& v);
json to_json(const ThresholdParameters& v);
json to_json(const DomainConfig& v);
json to_json(const DomainRegistry& v);
json to_json(const PublicKeyExtended& v);
json to_json(const KeyForDomain& v);
json to_json(const Keyset& v);
json to_json(const KeyshareKeyId& v);
// Contains the private share: the caller must wipe the result's text when done.
json to_json(const Keyshare& v);
json to_json(const BackupServiceInfo& v);
json to_json(const DestinationNodeInfo& v);
json to_json(const MigrationInfo& v);
json to_json(const RunningState& v);
json to_json(const ProtocolState& v);

// Overwrites, in place, every "private_share" string inside a JSON value
// holding keyshares (an array of Keyshare, or {"keyshares":[…]}), so that a
// parsed or built tree can be dropped without leaving secrets in memory.
void wipe_private_shares(json& j);

// ---- rules ----

// The keyset a backup must hold (interop §6): Running -> keyset;
// Resharing -> previous_running_state.keyset; otherwise none.
std::optional<Keyset> keyset_to_back_up(const ProtocolState& state);
inline std::optional<Keyset> which_keyset_to_back_up(const ProtocolState& state) { return keyset_to_back_up(state); }

// A group key as a keyshare's public_key holds it (bytes; the hex of these):
// Ed25519 the 32-byte point, Secp256k1 the 33-byte compressed SEC1 point
// (prefix from Y's parity || X: no curve arithmetic), Bls12381 the G2 bytes
// of "bls12381g2:<base58>". Fails when the key has no such form.
Result<core::Bytes> keyshare_group_key(const PublicKeyExtended& key);

// The keyset's extended form of an Ed25519 or secp256k1 NEAR key (the
// reference's vote_pk argument, "ed25519:…" / "secp256k1:…").
PublicKeyExtended public_key_extended_of(const NearPublicKey& key);

// Interop §5: key_id == (keyset.epoch_id, entry.domain_id, entry.attempt) and
// the share's group public key equals the entry's key. The error says which.
Status check_keyshare_consistent(const Keyshare& share, std::uint64_t epoch_id, const KeyForDomain& entry);

// Exactly one consistent share per keyset domain, no extra ones.
Status check_keyshares_cover_keyset(const std::vector<Keyshare>& shares, const Keyset& keyset);

}  // namespace mpc::model
