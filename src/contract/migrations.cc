// Node migrations (interop §3): a participant's registered backup service,
// and moving a participant to a new node (start, conclude, cancel), plus
// updating its url. Migrations happen only while Running; protocol changes
// win over them (State::transition).
#include "contract/internal/calls.h"
#include "contract/internal/state.h"
#include "core/near_key.h"

namespace mpc::contract::internal {

namespace {

// The caller's entry in the running parameters, which it may change.
core::Result<model::ParticipantEntry*> caller_entry(Running& running, const CallContext& ctx) {
  for (auto& e : running.parameters.participants.participants) {
    if (e.account_id == ctx.signer_account_id) return &e;
  }
  return not_participant(ctx.signer_account_id);
}

// A migration may not take an identity that is already someone's: the
// destination TLS key must be no current participant's key (the caller's
// own included: that node is the one being replaced) and not the destination
// of another account's ongoing migration (near/mpc #4252). Checked when the
// migration starts and again when it concludes, since the state may change
// in between.
core::Status require_tls_key_unclaimed(const State& s, const std::string& account, const core::Ed25519PublicKey& tls_key) {
  const std::string key_text = core::ed25519_public_key_to_string(tls_key);
  if (const model::ThresholdParameters* params = s.current_parameters()) {
    if (const model::ParticipantEntry* holder = params->participants.find_by_tls_key(tls_key)) {
      return panic("The destination TLS key " + key_text + " is already the TLS key of participant " + holder->account_id +
                   "; a migration needs a new node key.");
    }
  }
  for (const auto& [other, m] : s.migrations) {
    if (other != account && m.destination_node_info.tls_public_key == tls_key) {
      return panic("The destination TLS key " + key_text + " is already claimed by the ongoing migration of " + other + ".");
    }
  }
  return {};
}

}  // namespace

core::Result<CallOutcome> register_backup_service(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  if (s.as<NotInitialized>()) return panic("Unexpected protocol state: NotInitialized");
  if (!s.is_participant(ctx.signer_account_id) && !s.is_prospective(ctx.signer_account_id)) {
    return not_participant(ctx.signer_account_id);
  }
  MPC_ASSIGN(const json* value, arg(args, "backup_service_info"));
  // The hard launch's BackupServiceInfo{public_key, attestation}: the
  // attestation binds public_key (TLS) and the access key signing this call.
  // Optional in development mode (an unattested registration as before),
  // required in production.
  const json* attestation =
      value->is_object() && value->contains("attestation") && !(*value)["attestation"].is_null() ? &(*value)["attestation"] : nullptr;
  // An unattested registration is the soft launch's payable call (>= 1
  // yoctoNEAR). An attested one is signed by the key the TEE generated, which
  // the operator adds as a function-call access key, and NEAR forbids a
  // function-call key to attach a deposit: it needs none (any deposit is
  // refunded), as the reference's submit_participant_info.
  core::u128 refund = ctx.attached_deposit;
  if (attestation == nullptr) {
    MPC_ASSIGN(refund, require_deposit(ctx));
  }
  MPC_ASSIGN(model::BackupServiceInfo info, backup_service_value(*value, "backup_service_info"));
  std::string kind = "unattested";
  if (attestation != nullptr) {
    MPC_ASSIGN(StoredAttestation a, verify_submitted(*attestation, "backup_service_info.attestation", info.public_key, ctx,
                                                     s.config.attestation_mode, s.tee.allowed_for_backup_services()));
    kind = a.kind == AttestationKind::kDstack ? "Dstack-attested" : "Mock-attested";
    s.tee.backup_attestations[ctx.signer_account_id] = std::move(a);
  } else if (s.config.attestation_mode == AttestationMode::kProduction) {
    return panic("Invalid TEE Remote Attestation: a contract in production mode registers a backup service only with a Dstack "
                 "attestation (backup_service_info.attestation is missing)");
  } else {
    s.tee.backup_attestations.erase(ctx.signer_account_id);
  }
  s.backup_services[ctx.signer_account_id] = info;
  return unit_outcome(refund, {"registered " + kind + " backup service " + core::ed25519_public_key_to_string(info.public_key) + " for " +
                               ctx.signer_account_id});
}

core::Result<CallOutcome> start_node_migration(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  if (!s.as<Running>()) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  MPC_ASSIGN(const json* value, arg(args, "destination_node_info"));
  MPC_ASSIGN(model::DestinationNodeInfo destination, destination_value(*value, "destination_node_info"));
  MPC_TRY(require_tls_key_unclaimed(s, ctx.signer_account_id, destination.destination_node_info.tls_public_key));
  s.migrations[ctx.signer_account_id] = std::move(destination);
  return unit_outcome(refund, {"started node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> conclude_node_migration(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, "conclude_node_migration"));
  if (!args.contains("keyset") || !args["keyset"].is_object()) return bad_args("keyset must be a Keyset object");
  // Order as in the reference: state, participant, keyset (converted only
  // now, so the first two errors take precedence), migration, signer key.
  Running* running = s.as_mut<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  MPC_ASSIGN(model::ParticipantEntry * entry, caller_entry(*running, ctx));
  MPC_ASSIGN(model::Keyset keyset, keyset_value(args["keyset"], "keyset"));
  if (keyset != running->keyset) {
    return panic("The submitted keyset differs from the expected keyset. Found: " + to_json(keyset).dump() +
                 ", expected: " + to_json(running->keyset).dump());
  }
  auto it = s.migrations.find(ctx.signer_account_id);
  if (it == s.migrations.end()) return panic("Node does not have an ongoing recovery");
  const core::NearPublicKey expected{it->second.signer_account_pk};
  if (ctx.signer_public_key != expected) {
    return panic("The transaction was submitted by a different public key than expected. Found: " +
                 ctx.signer_public_key.to_string() + ", expected: " + expected.to_string());
  }
  MPC_TRY(require_tls_key_unclaimed(s, ctx.signer_account_id, it->second.destination_node_info.tls_public_key));
  // The destination node must be attested: an attestation submitted by this
  // account with the destination's access key for the destination's TLS key
  // (submit_participant_info), valid at this block.
  MPC_ASSIGN(std::string problem, participant_attestation_problem(s, ctx.signer_account_id,
                                                                  it->second.destination_node_info.tls_public_key,
                                                                  it->second.signer_account_pk, block_seconds(ctx)));
  if (!problem.empty()) {
    return panic("Invalid TEE Remote Attestation: destination node TEE quote is invalid: " + problem +
                 " (the destination node calls submit_participant_info with its TLS key, signed by its access key, before "
                 "conclude_node_migration)");
  }
  entry->info = it->second.destination_node_info;
  s.migrations.erase(it);
  return unit_outcome(0, {"concluded node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> cancel_node_migration(State& s, const CallContext& ctx, const json&) {
  // Payable like the reference's: only the operator's full-access key can
  // cancel, never the node's function-call key.
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (s.migrations.erase(ctx.signer_account_id) == 0) return panic("Node does not have an ongoing recovery");
  return unit_outcome(refund, {"cancelled node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> update_participant_url(State& s, const CallContext& ctx, const json& args) {
  // Reference order: state, participant, deposit. The TLS key and id stay.
  MPC_TRY(require_direct_call(ctx));
  MPC_ASSIGN(std::string url, string_arg(args, "url"));
  Running* running = s.as_mut<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  MPC_ASSIGN(model::ParticipantEntry * entry, caller_entry(*running, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (url.empty()) return panic("The participant url must not be empty.");
  entry->info.url = std::move(url);
  return unit_outcome(refund, {"updated the url of " + ctx.signer_account_id});
}

}  // namespace mpc::contract::internal
