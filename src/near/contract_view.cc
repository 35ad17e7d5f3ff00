#include "near/contract_view.h"

namespace mpc::near {

core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id, const ContractViewOptions& options) {
  MPC_ASSIGN(auto state_answer, rpc.view_answer(contract_id, "state"));
  const json& state_json = state_answer.value;
  MPC_ASSIGN(auto migrations_json, rpc.view(contract_id, "migration_info"));
  ContractView view;
  {
    auto state = model::parse_protocol_state(state_json);
    if (!state) return std::unexpected(state.error().context("contract view `state`"));
    view.state = std::move(*state);
    view.block_height = state_answer.block_height;
  }
  {
    auto migrations = model::parse_migration_info(migrations_json);
    if (!migrations) return std::unexpected(migrations.error().context("contract view `migration_info`"));
    view.migrations = std::move(*migrations);
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
