#include "near/contract_view.h"

namespace mpc::near {

core::Result<BackupServiceAttestation> parse_backup_service_attestation(const nlohmann::json& j) {
  if (!j.is_object()) return core::invalid("contract view `backup_service_attestation`: expected an object");
  BackupServiceAttestation a;
  if (auto it = j.find("tls_public_key"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return core::invalid("contract view `backup_service_attestation`: tls_public_key must be a string");
    auto key = core::parse_ed25519_public_key(it->get<std::string>());
    if (!key) return core::invalid("contract view `backup_service_attestation`: tls_public_key: " + key.error().message);
    a.tls_public_key = *key;
  }
  if (auto it = j.find("attested"); it != j.end()) {
    if (!it->is_boolean()) return core::invalid("contract view `backup_service_attestation`: attested must be a boolean");
    a.attested = it->get<bool>();
  }
  if (auto it = j.find("kind"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return core::invalid("contract view `backup_service_attestation`: kind must be a string");
    a.kind = it->get<std::string>();
  }
  if (auto it = j.find("expires_at_seconds"); it != j.end() && !it->is_null()) {
    auto v = model::json_u64(*it);
    if (!v) return core::invalid("contract view `backup_service_attestation`: expires_at_seconds must be an unsigned integer");
    a.expires_at_seconds = *v;
  }
  return a;
}

core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id, const ContractViewOptions& options) {
  ContractViewCache none;
  return read_contract_view(rpc, contract_id, options, none);
}

core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id, const ContractViewOptions& options,
                                              ContractViewCache& cache) {
  MPC_ASSIGN(auto state_answer, rpc.call_function(contract_id, "state", json::object()));
  MPC_ASSIGN(auto migrations_answer, rpc.call_function(contract_id, "migration_info", json::object()));
  ContractView view;
  view.block_height = state_answer.block_height;
  if (!cache.state || cache.state_bytes != state_answer.result) {
    cache.state.reset();
    MPC_ASSIGN(json state_json, view_value(state_answer, contract_id, "state"));
    auto state = model::parse_protocol_state(state_json);
    if (!state) return std::unexpected(state.error().context("contract view `state`"));
    cache.state = std::move(*state);
    cache.state_bytes = std::move(state_answer.result);
  }
  view.state = *cache.state;
  if (!cache.migrations || cache.migrations_bytes != migrations_answer.result) {
    cache.migrations.reset();
    MPC_ASSIGN(json migrations_json, view_value(migrations_answer, contract_id, "migration_info"));
    auto migrations = model::parse_migration_info(migrations_json);
    if (!migrations) return std::unexpected(migrations.error().context("contract view `migration_info`"));
    cache.migrations = std::move(*migrations);
    cache.migrations_bytes = std::move(migrations_answer.result);
  }
  view.migrations = *cache.migrations;
  if (!options.backup_attestation_account.empty()) {
    auto a = rpc.view(contract_id, "backup_service_attestation", {{"account_id", options.backup_attestation_account}});
    if (!a) {
      if (!is_contract_panic(a.error())) return std::unexpected(a.error());
    } else {
      auto parsed = parse_backup_service_attestation(*a);
      if (!parsed) return std::unexpected(parsed.error());
      view.backup_attestation = *parsed;
    }
  }
  if (options.pending_signatures) {
    auto pending = rpc.view(contract_id, "pending_signature_requests", {{"limit", options.pending_limit}});
    if (!pending) {
      // A contract without the view (method not found) panics; anything else
      // (RPC down, timeout) fails the read like the other views.
      if (is_contract_panic(pending.error())) return view;
      return std::unexpected(pending.error());
    }
    if (!pending->is_array()) return core::invalid("contract view `pending_signature_requests`: expected an array");
    std::vector<core::SignatureRequest> requests;
    for (std::size_t i = 0; i < pending->size(); ++i) {
      const auto& entry = (*pending)[i];
      if (!entry.is_object() || !entry.contains("request"))
        return core::invalid("contract view `pending_signature_requests`: [" + std::to_string(i) + "] has no `request`");
      auto request = core::parse_signature_request(entry.at("request"), "[" + std::to_string(i) + "].request");
      if (!request) return std::unexpected(request.error().context("contract view `pending_signature_requests`"));
      requests.push_back(std::move(*request));
    }
    view.pending_signatures = std::move(requests);
  }
  return view;
}

}  // namespace mpc::near
