#include "near/contract_view.h"

namespace mpc::near {

core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id) {
  MPC_ASSIGN(auto state_json, rpc.view(contract_id, "state"));
  MPC_ASSIGN(auto migrations_json, rpc.view(contract_id, "migration_info"));
  ContractView view;
  {
    auto state = core::parse_protocol_state(state_json);
    if (!state) return std::unexpected(state.error().context("contract view `state`"));
    view.state = std::move(*state);
  }
  {
    auto migrations = core::parse_migration_info(migrations_json);
    if (!migrations) return std::unexpected(migrations.error().context("contract view `migration_info`"));
    view.migrations = std::move(*migrations);
  }
  return view;
}

}  // namespace mpc::near
