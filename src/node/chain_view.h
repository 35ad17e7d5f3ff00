// What the chain says about this node, derived from the contract's views.
// Pure functions of plain values: every decision the node makes from chain
// state (whom to accept, whether to accept shares, when to conclude) lives
// here and is unit-tested without a chain.
#pragma once

#include <optional>
#include <string>

#include "model/types.h"
#include "near/contract_view.h"

namespace mpc::node {

struct NodeView {
  std::string protocol;  // "Running", "Resharing", ...
  bool running = false;
  std::optional<model::Keyset> running_keyset;  // only while Running
  // The backup service registered on-chain for this node's account: the only
  // peer the migration endpoint accepts.
  std::optional<core::Ed25519PublicKey> backup_service_key;
  // This account's ongoing migration, if any (whoever its destination is).
  std::optional<model::DestinationNodeInfo> account_migration;
  // True when that migration's destination TLS key is this node's key.
  bool is_migration_destination = false;
  // This account is a participant and the contract lists this node's TLS key.
  bool is_active_participant = false;
  std::optional<std::uint64_t> participant_id;
  // The contract's word on that backup service's attestation (read when the
  // node requires an attested backup service).
  std::optional<near::BackupServiceAttestation> backup_attestation;

  bool operator==(const NodeView&) const = default;
};

// With --require-attested-backup-service: why `peer` (already known to be
// the registered backup service key) may not have the shares at unix time
// `now_seconds`, as {metrics reason, text for the log}; nullopt when the
// contract holds a valid, unexpired attestation for exactly that key.
struct AttestationRefusal {
  std::string reason;
  std::string detail;
};
std::optional<AttestationRefusal> backup_attestation_refusal(const NodeView& view, const core::Ed25519PublicKey& peer,
                                                             std::int64_t now_seconds);

NodeView derive_node_view(const near::ContractView& snapshot, const std::string& account_id,
                          const core::Ed25519PublicKey& tls_key);

// Whether the peer the migration endpoint accepts changed (the backup
// service registered for this account): open connections of any other key
// must then be closed. Migration status is not part of it: the endpoint
// checks it for each request.
bool authorization_changed(const NodeView& before, const NodeView& after);

// Whether the node accepts shares now (PUT /set_keyshares). The error says why
// not, for the HTTP answer: protocol not Running, or not the destination.
core::Status may_accept_shares(const NodeView& view);

enum class OnboardingStep {
  kIdle,            // no migration towards this node
  kAwaitingShares,  // destination of a migration; shares for the running keyset not held yet
  kConcluding,      // shares held: call conclude_node_migration with `keyset`
  kDone,            // the contract lists this node (by its TLS key) for its account
};
const char* onboarding_step_name(OnboardingStep step);

struct OnboardingDecision {
  OnboardingStep step = OnboardingStep::kIdle;
  std::optional<model::Keyset> conclude_with;
  std::string reason;
};

// `holds_running_keyset`: the node's store holds exactly one consistent share
// per domain of the view's running keyset.
OnboardingDecision decide_onboarding(const NodeView& view, bool holds_running_keyset);

}  // namespace mpc::node
