#include "backup/chain_checks.h"

namespace mpc::backup {

namespace {

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

const model::ThresholdParameters* current_parameters(const model::ProtocolState& state) {
  if (const auto* r = state.running()) return &r->parameters;
  if (const auto* rs = std::get_if<model::ResharingState>(&state.state)) return &rs->previous_running_state.parameters;
  return nullptr;
}

std::string epoch_text(const model::ProtocolState& state) {
  if (const auto* r = state.running()) return "epoch " + std::to_string(r->keyset.epoch_id);
  if (const auto* rs = std::get_if<model::ResharingState>(&state.state))
    return "resharing from epoch " + std::to_string(rs->previous_running_state.keyset.epoch_id);
  if (const auto* i = std::get_if<model::InitializingState>(&state.state))
    return "generating keys for epoch " + std::to_string(i->epoch_id);
  return "no epoch";
}

}  // namespace

core::Status check_migration_destination(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                         const std::string& account_id, const core::Ed25519PublicKey& node_key) {
  if (!state.running())
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      std::string("the protocol is ") + state.name() + ", not Running: a migration cannot proceed now");
  auto it = migrations.find(account_id);
  if (it == migrations.end() || !it->second.migration)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "the contract shows no ongoing migration for " + account_id +
                          ": start one with `backup-cli start-migration` before putting key shares");
  const auto& dest = it->second.migration->destination_node_info;
  if (!(dest.tls_public_key == node_key))
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "the ongoing migration of " + account_id + " goes to the node with TLS key " + key_text(dest.tls_public_key) +
                          " (" + dest.url + "), not to --mpc-node-p2p-key " + key_text(node_key));
  return {};
}

core::Result<MigrationTarget> find_migration_target(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                                    const std::optional<std::string>& account_id,
                                                    const std::optional<core::Ed25519PublicKey>& node_key) {
  if (account_id) {
    auto it = migrations.find(*account_id);
    if (node_key) {
      MPC_TRY(check_migration_destination(state, migrations, *account_id, *node_key));
    } else {
      if (!state.running())
        return core::fail(core::ErrorCode::kFailedPrecondition,
                          std::string("the protocol is ") + state.name() + ", not Running: a migration cannot proceed now");
      if (it == migrations.end() || !it->second.migration)
        return core::fail(core::ErrorCode::kFailedPrecondition,
                          "the contract shows no ongoing migration for " + *account_id +
                              ": start one with `backup-cli start-migration` before putting key shares");
    }
    return MigrationTarget{*account_id, *it->second.migration};
  }
  if (!node_key) return core::invalid("name the migration: give --signer-account-id (the operator's account) or --mpc-node-p2p-key");
  for (const auto& [account, entry] : migrations) {
    if (entry.migration && entry.migration->destination_node_info.tls_public_key == *node_key) {
      MPC_TRY(check_migration_destination(state, migrations, account, *node_key));
      return MigrationTarget{account, *entry.migration};
    }
  }
  return core::fail(core::ErrorCode::kFailedPrecondition,
                    "the contract shows no ongoing migration to the node with TLS key " + key_text(*node_key) +
                        ": start one with `backup-cli start-migration` before putting key shares");
}

std::optional<std::string> account_with_tls_key(const model::ProtocolState& state, const core::Ed25519PublicKey& key) {
  const model::ThresholdParameters* params = current_parameters(state);
  const model::Participants* participants = params ? &params->participants : nullptr;
  std::optional<model::ThresholdParameters> generating;  // Initializing keeps its parameters as JSON
  if (const auto* in = std::get_if<model::InitializingState>(&state.state); in && in->generating_key.is_object()) {
    if (auto p = model::parse_threshold_parameters(in->generating_key.value("parameters", nlohmann::json()))) {
      generating = std::move(*p);
      participants = &generating->participants;
    }
  }
  if (!participants) return std::nullopt;
  const auto* entry = participants->find_by_tls_key(key);
  if (!entry) return std::nullopt;
  return entry->account_id;
}

core::Status check_backup_registration(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                       const core::Ed25519PublicKey& node_key, const core::Ed25519PublicKey& own_key) {
  auto account = account_with_tls_key(state, node_key);
  if (!account) return {};
  auto it = migrations.find(*account);
  if (it == migrations.end() || !it->second.backup_service)
    return core::fail(core::ErrorCode::kPermissionDenied, "no backup service is registered for " + *account +
                                                              ": its node refuses every backup service (run `backup-cli register`)");
  const auto& registered = it->second.backup_service->public_key;
  if (!(registered == own_key))
    return core::fail(core::ErrorCode::kPermissionDenied,
                      "the contract registers the backup service key " + key_text(registered) + " for " + *account +
                          ", not this home's key " + key_text(own_key) +
                          ": the node refuses this backup service (run `backup-cli register` with this home)");
  return {};
}

StatusReport build_status_report(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                 const std::string& account_id, const core::Ed25519PublicKey& home_p2p_key,
                                 const std::optional<StoredBackup>& newest) {
  StatusReport r;
  r.lines.push_back(std::string("protocol:        ") + state.name() + " (" + epoch_text(state) + ")");
  if (const auto* params = current_parameters(state)) {
    if (const auto* me = params->participants.find(account_id))
      r.lines.push_back("participant:     " + account_id + " is participant " + std::to_string(me->id) + " at " + me->info.url +
                        " (TLS key " + key_text(me->info.tls_public_key) + ")");
    else
      r.lines.push_back("participant:     " + account_id + " is not a participant");
  }
  auto it = migrations.find(account_id);
  const model::MigrationEntry* entry = it == migrations.end() ? nullptr : &it->second;
  if (entry && entry->backup_service) {
    r.backup_key_matches = entry->backup_service->public_key == home_p2p_key;
    r.lines.push_back("backup service:  registered " + key_text(entry->backup_service->public_key) +
                      (r.backup_key_matches ? " (matches this home's key)"
                                            : " (does NOT match this home's key " + key_text(home_p2p_key) +
                                                  ": the node will refuse this backup service; run `backup-cli register`)"));
  } else {
    r.lines.push_back("backup service:  none registered for " + account_id + " (run `backup-cli register`)");
  }
  if (entry && entry->migration) {
    const auto& d = *entry->migration;
    r.lines.push_back("migration:       ongoing, to " + d.destination_node_info.url + " (TLS key " +
                      key_text(d.destination_node_info.tls_public_key) + ", access key " + key_text(d.signer_account_pk) + ")");
  } else {
    r.lines.push_back("migration:       none");
  }
  if (newest)
    r.lines.push_back("local backup:    epoch " + std::to_string(newest->epoch_id) + ", " +
                      std::to_string(newest->keyshares.size()) + " domain(s) in " + newest->path.filename().string());
  else
    r.lines.push_back("local backup:    none");
  if (auto keyset = model::keyset_to_back_up(state)) {
    auto coverage = backup_coverage(newest, *keyset);
    r.backup_up_to_date = coverage.up_to_date();
    r.lines.push_back("coverage:        " + coverage.summary + " (contract keyset: epoch " + std::to_string(keyset->epoch_id) +
                      ", " + std::to_string(keyset->domains.size()) + " domain(s))");
  } else {
    r.lines.push_back("coverage:        the contract has no keyset to back up yet");
  }
  return r;
}

}  // namespace mpc::backup
