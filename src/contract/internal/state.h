// INTERNAL to src/contract: the contract's state as typed values, and its
// JSON form. Only the contract's own .cc files and its tests include this;
// everyone else sees contract/contract.h.
//
// The JSON form is exactly the reference contract's `state` view (near/mpc's
// ProtocolContractState) and what serialize() stores: to_json(parse(j)) == j
// for every state this contract writes, so stored chains load unchanged.
// Fields the types here do not know (from a genesis taken from another
// contract version) are kept in `extra` and written back as given.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/contract.h"
#include "contract/internal/tee.h"
#include "core/key_derivation.h"
#include "core/result.h"
#include "model/types.h"

namespace mpc::contract {

namespace internal {

using json = nlohmann::json;

// The contract's configuration: the reference's Config, of which this
// contract has one setting, and our attestation mode. In the durable form as
// "config": {"key_event_timeout_blocks": N, "attestation_mode":
// "production"} (the mode only when production: a development state keeps
// its earlier form); the `config` view shows the reference's
// setting only, the `attestation_mode` view the mode.
struct Config {
  // An attempt of a key event that has not completed within this many blocks
  // has failed (the reference's DEFAULT_KEY_EVENT_TIMEOUT_BLOCKS).
  static constexpr std::uint64_t kDefaultKeyEventTimeoutBlocks = 30;
  std::uint64_t key_event_timeout_blocks = kDefaultKeyEventTimeoutBlocks;
  // Ours: development accepts the reference's Mock attestations (and
  // unattested backup services); production only verified Dstack ones.
  AttestationMode attestation_mode = AttestationMode::kDevelopment;
  bool operator==(const Config&) const = default;
};
json to_json(const Config& config);
// The durable "config" object (or init's `init_config`, `path` naming it):
// key_event_timeout_blocks, an unsigned integer, and attestation_mode,
// "development" or "production" (each null or absent: as `base`). Any other
// field is refused: this contract has no such setting.
core::Result<Config> config_from_json(const json& j, const Config& base, const std::string& path);

// An attempt of a key event (the reference's KeyEventInstance), started by
// the event's leader (start_keygen_instance / start_reshare_instance).
struct KeyEventInstance {
  std::uint64_t attempt_id = 0;
  std::uint64_t started_in = 0;  // block height of the start call
  // started_in + 1 + key_event_timeout_blocks: a call at this height or
  // later sees no attempt (inactive instances are treated as absent and
  // dropped by the next key event call).
  std::uint64_t expires_on = 0;
  std::vector<std::uint64_t> completed;               // participant ids that voted success, ascending (a set)
  std::optional<model::PublicKeyExtended> public_key;  // the key voted for; set by the first success vote
  json extra = json::object();
  bool operator==(const KeyEventInstance&) const = default;
  bool active(std::uint64_t block_height) const { return block_height < expires_on; }
};

// Generating or resharing the key of one domain (the reference's KeyEvent).
// An event starts with no attempt; the leader (the participant of
// `parameters` with the lowest id) starts attempt `next_attempt_id`, every
// participant then votes success (vote_pk / vote_reshared), and the
// attempt succeeds when all have voted for the same key. An attempt ends
// without success when it expires, when a vote disagrees on the key, or
// when a participant that has not voted success votes to abort; the
// leader then starts the next one.
struct KeyEvent {
  std::uint64_t epoch_id = 0;
  model::DomainConfig domain;
  model::ThresholdParameters parameters;  // who takes part
  std::optional<KeyEventInstance> instance;  // JSON null when none
  std::uint64_t next_attempt_id = 0;
  json extra = json::object();
  bool operator==(const KeyEvent&) const = default;

  // A new event for `domain`: no attempt yet, next_attempt_id 0.
  static KeyEvent create(std::uint64_t epoch_id, model::DomainConfig domain, model::ThresholdParameters parameters);
  // The participant with the lowest id (parameters are never empty).
  const model::ParticipantEntry& leader() const;
  // The id of the attempt `id` must name to start one.
  model::KeyEventId next_id() const { return {epoch_id, domain.id, next_attempt_id}; }
  // The active attempt's id at `block_height`, if any.
  std::optional<model::KeyEventId> active_id(std::uint64_t block_height) const;

  // The reference's KeyEvent::start: drops an expired instance; refuses
  // while one is active ("Can not start ... still active."), an id other
  // than next_id() ("Key event Id mismatch"), a signer other than the
  // leader ("Voting account is not the leader ..."). Opens attempt
  // next_attempt_id at `block_height`, expiring on block_height + 1 +
  // timeout_blocks, and increments next_attempt_id.
  core::Status start(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height,
                     std::uint64_t timeout_blocks);

  enum class Vote { kRecorded, kComplete, kDisagreement };
  // Participant `signer` votes that attempt `id` produced `key`: refused for
  // a non-participant ("Not a participant: X"), without an active attempt
  // ("Expected ongoing reshare"), for another id ("Key event Id mismatch"),
  // or a second vote ("Vote already casted."). A key other than the one
  // voted before aborts the attempt (kDisagreement: the call succeeds with
  // the instance gone). kComplete once every participant has voted.
  core::Result<Vote> vote_success(const model::KeyEventId& id, std::string_view signer, const model::PublicKeyExtended& key,
                                  std::uint64_t block_height);
  // Participant `signer` aborts attempt `id` (refused as vote_success, and
  // for a participant that already voted success): the instance is gone.
  core::Status vote_abort(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height);

 private:
  void drop_if_expired(std::uint64_t block_height);
  core::Result<std::uint64_t> check_vote(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height);
};

// Votes as the reference shows them: {"proposal_by_account": {voter: proposal}}.
template <typename Proposal>
struct Votes {
  std::map<std::string, Proposal> proposal_by_account;
  json extra = json::object();
  bool operator==(const Votes&) const = default;
};

struct Running {
  model::DomainRegistry domains;
  model::Keyset keyset;
  model::ThresholdParameters parameters;
  Votes<model::ThresholdParameters> parameters_votes;             // keyed by account id
  Votes<std::vector<model::DomainConfig>> add_domains_votes;      // keyed by participant id (decimal)
  std::optional<std::uint64_t> previously_cancelled_resharing_epoch_id;
  json extra = json::object();
  bool operator==(const Running&) const = default;
};

struct Initializing {
  model::DomainRegistry domains;  // the existing domains and the ones being added
  std::uint64_t epoch_id = 0;
  std::vector<model::KeyForDomain> generated_keys;
  KeyEvent generating_key;
  std::vector<std::uint64_t> cancel_votes;  // participant ids, ascending (a set)
  json extra = json::object();
  bool operator==(const Initializing&) const = default;
};

struct Resharing {
  Running previous_running_state;
  std::vector<model::KeyForDomain> reshared_keys;
  KeyEvent resharing_key;
  std::vector<std::string> cancellation_requests;  // account ids
  json extra = json::object();
  bool operator==(const Resharing&) const = default;
};

struct NotInitialized {
  bool operator==(const NotInitialized&) const = default;
};

using ProtocolState = std::variant<NotInitialized, Initializing, Running, Resharing>;

// A Running state with the given registry, keyset and parameters and no
// votes: what every transition back to Running starts from.
Running running_state(model::DomainRegistry domains, model::Keyset keyset, model::ThresholdParameters parameters);

// The domain after `domain_id` in registry order, if any.
const model::DomainConfig* next_domain_after(const model::DomainRegistry& domains, std::uint64_t domain_id);

// The reconstruction threshold a domain records, if it has one.
std::optional<std::uint64_t> reconstruction_threshold(const model::DomainConfig& domain);

// ---- pending signature requests (signing.cc) ----

// How many yields one request key may queue (the reference's
// MAX_PENDING_REQUEST_FAN_OUT: a respond resumes them all in one call).
inline constexpr std::size_t kMaxPendingFanOut = 128;
// How many yields may be pending at all (our bound: the reference's storage
// is paid by the caller; here the state is held in memory and copied).
inline constexpr std::size_t kMaxPendingSignatureYields = 1024;
// The reference's sign_call_gas_attachment_requirement_tera_gas.
inline constexpr std::uint64_t kSignMinimumGas = 15'000'000'000'000;

// A yield queued for a pending request: the reference's YieldIndex, and the
// block it was created in.
struct PendingYield {
  core::Hash256 data_id{};
  std::uint64_t block_height = 0;
  bool operator==(const PendingYield&) const = default;
};

// A signature request waiting for `respond`. Its key (the map's) is the
// reference's SignatureRequest; who asked and the path are kept for the
// nodes (the tweak alone does not say).
struct PendingSignature {
  std::string predecessor_id;
  std::string path;
  std::uint64_t sequence = 0;        // arrival order of the key: the view lists oldest first
  std::vector<PendingYield> yields;  // FIFO, at most kMaxPendingFanOut
  bool operator==(const PendingSignature&) const = default;
};

using PendingSignatures = std::map<core::SignatureRequest, PendingSignature>;

// ---- JSON ----

json to_json(const ProtocolState& state);
// Parses a stored or genesis `protocol_state`. Fields the reference's types
// require that an older state may lack are filled in: a domain's
// `reconstruction_threshold` (that of the parameters it was generated
// under), a key event's `instance` (absent: none), an instance's
// `started_in` (0) / `expires_on` (started_in + 1 + `config`'s timeout),
// a Running state's empty vote maps. Participant-id sets (an instance's
// `completed`, `cancel_votes`) are kept ascending without repeats, as the
// reference's sets are. The contract's rules hold for what it accepts
// (threshold rules, BLS key form). Errors name the field path.
core::Result<ProtocolState> protocol_state_from_json(const json& j, const Config& config);

}  // namespace internal

// The whole contract state. Copyable: a call runs on a copy, so that any
// error leaves the contract exactly as it was.
struct MpcContract::State {
  // The protocol state (participants, keysets, domains, votes): the largest
  // part of the state and the one most calls only read. Copies share it
  // until one of them changes it (protocol_mut, as_mut, transition), so the
  // scratch copy of such a call costs nothing here, and an unchanged
  // pointer means an unchanged protocol state.
  std::shared_ptr<const internal::ProtocolState> protocol_ptr = std::make_shared<const internal::ProtocolState>();
  const internal::ProtocolState& protocol() const { return *protocol_ptr; }
  internal::ProtocolState& protocol_mut() {
    if (protocol_ptr.use_count() != 1) protocol_ptr = std::make_shared<const internal::ProtocolState>(*protocol_ptr);
    return const_cast<internal::ProtocolState&>(*protocol_ptr);
  }
  internal::Config config;
  std::map<std::string, model::BackupServiceInfo> backup_services;  // by account
  std::map<std::string, model::DestinationNodeInfo> migrations;     // by account
  internal::TeeState tee;                                           // attestations and allowed sets (tee.cc)

  // Signature requests waiting for `respond` (signing.cc). Copies share
  // the map until one of them changes it (pending_signatures_mut), so the
  // scratch copy of a call that does not sign costs nothing here.
  std::shared_ptr<const internal::PendingSignatures> pending_signatures = std::make_shared<internal::PendingSignatures>();
  std::uint64_t next_pending_sequence = 0;
  std::size_t pending_yield_count = 0;  // yields over all of pending_signatures
  internal::PendingSignatures& pending_signatures_mut() {
    if (pending_signatures.use_count() != 1) pending_signatures = std::make_shared<internal::PendingSignatures>(*pending_signatures);
    return const_cast<internal::PendingSignatures&>(*pending_signatures);
  }

  // The `state` view's text (of protocol_ptr), made on first use after a
  // change of the protocol state (nodes and backup services poll it far
  // more often than it changes). A call that leaves protocol_ptr as it was
  // keeps it.
  mutable std::shared_ptr<const std::string> state_view;

  // The protocol state as a T, if it is one: to read, and to change (a
  // private copy first, see protocol_ptr).
  template <typename T>
  const T* as() const {
    return std::get_if<T>(protocol_ptr.get());
  }
  template <typename T>
  T* as_mut() {
    return std::holds_alternative<T>(*protocol_ptr) ? &std::get<T>(protocol_mut()) : nullptr;
  }

  // The participants who may act now: Running's, the generating key's
  // while Initializing, the previous running state's while Resharing.
  const model::ThresholdParameters* current_parameters() const;
  // While Resharing: the parameters being reshared to.
  const model::ThresholdParameters* prospective_parameters() const;
  bool is_participant(std::string_view account) const;
  bool is_prospective(std::string_view account) const;

  // Moves to a new protocol state. Leaving Running for Initializing or
  // Resharing cancels every ongoing migration (protocol changes win); backup
  // services (with their attestations), migrations and TEE votes of accounts
  // that are neither current nor prospective participants are dropped.
  void transition(internal::ProtocolState next);
};

}  // namespace mpc::contract
