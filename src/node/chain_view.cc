#include "node/chain_view.h"

namespace mpc::node {

NodeView derive_node_view(const near::ContractView& snapshot, const std::string& account_id,
                          const core::Ed25519PublicKey& tls_key) {
  NodeView view;
  view.protocol = snapshot.state.name();
  if (const auto* running = snapshot.state.running()) {
    view.running = true;
    view.running_keyset = running->keyset;
    if (const auto* me = running->parameters.participants.find(account_id)) {
      view.participant_id = me->id;
      view.is_active_participant = me->info.tls_public_key == tls_key;
    }
  } else if (const auto* resharing = std::get_if<model::ResharingState>(&snapshot.state.state)) {
    // During a resharing the node keeps serving its previous Running keyset;
    // its identity is the one the previous parameters list.
    if (const auto* me = resharing->previous_running_state.parameters.participants.find(account_id)) {
      view.participant_id = me->id;
      view.is_active_participant = me->info.tls_public_key == tls_key;
    }
  }
  if (auto it = snapshot.migrations.find(account_id); it != snapshot.migrations.end()) {
    if (it->second.backup_service) view.backup_service_key = it->second.backup_service->public_key;
    view.account_migration = it->second.migration;
    view.is_migration_destination =
        it->second.migration && it->second.migration->destination_node_info.tls_public_key == tls_key;
  }
  view.backup_attestation = snapshot.backup_attestation;
  return view;
}

bool authorization_changed(const NodeView& before, const NodeView& after) {
  return before.backup_service_key != after.backup_service_key || before.backup_attestation != after.backup_attestation;
}

std::optional<AttestationRefusal> backup_attestation_refusal(const NodeView& view, const core::Ed25519PublicKey& peer,
                                                             std::int64_t now_seconds) {
  const auto& a = view.backup_attestation;
  if (!a) {
    return AttestationRefusal{"backup_service_attestation_unknown",
                              "the contract's backup_service_attestation view is not available (not this project's contract, or not read yet)"};
  }
  if (!a->attested) {
    return AttestationRefusal{"backup_service_not_attested", "the contract holds no attestation for this account's backup service"};
  }
  if (!a->tls_public_key || !(*a->tls_public_key == peer)) {
    return AttestationRefusal{"backup_service_attestation_other_key",
                              "the contract's attestation binds another TLS key (" +
                                  (a->tls_public_key ? core::ed25519_public_key_to_string(*a->tls_public_key) : std::string("none")) +
                                  "), not the peer's " + core::ed25519_public_key_to_string(peer)};
  }
  if (!a->expires_at_seconds || static_cast<std::int64_t>(*a->expires_at_seconds) <= now_seconds) {
    return AttestationRefusal{"backup_service_attestation_expired",
                              "the backup service's attestation expired" +
                                  (a->expires_at_seconds ? " at unix time " + std::to_string(*a->expires_at_seconds) : std::string())};
  }
  return std::nullopt;
}

core::Status may_accept_shares(const NodeView& view) {
  if (!view.running)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "the protocol is " + view.protocol + ", not Running: migrations are only possible while Running");
  if (!view.account_migration)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "this node is not the destination of an ongoing migration: the contract shows none for its account");
  if (!view.is_migration_destination)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "this node is not the destination of an ongoing migration: the contract's destination is " +
                          core::ed25519_public_key_to_string(view.account_migration->destination_node_info.tls_public_key) +
                          ", not this node");
  return {};
}

const char* onboarding_step_name(OnboardingStep step) {
  switch (step) {
    case OnboardingStep::kIdle: return "idle";
    case OnboardingStep::kAwaitingShares: return "awaiting_shares";
    case OnboardingStep::kConcluding: return "concluding";
    case OnboardingStep::kDone: return "done";
  }
  return "unknown";
}

OnboardingDecision decide_onboarding(const NodeView& view, bool holds_running_keyset) {
  if (view.is_migration_destination && view.running && view.running_keyset) {
    if (holds_running_keyset)
      return {OnboardingStep::kConcluding, view.running_keyset, "shares for the running keyset are held"};
    return {OnboardingStep::kAwaitingShares, std::nullopt,
            "waiting for shares of epoch " + std::to_string(view.running_keyset->epoch_id)};
  }
  if (view.is_active_participant) return {OnboardingStep::kDone, std::nullopt, "the contract lists this node"};
  if (view.is_migration_destination)
    return {OnboardingStep::kIdle, std::nullopt, "migration suspended: the protocol is " + view.protocol};
  return {OnboardingStep::kIdle, std::nullopt, "no migration towards this node"};
}

}  // namespace mpc::node
