// The MPC contract as the backup and migration service reads it: the
// `state` and `migration_info` views, typed. One reader for every caller
// (the node's chain watcher, backup-cli's commands and its run daemon).
#pragma once

#include <string>

#include "core/types.h"
#include "near/rpc_client.h"

namespace mpc::near {

struct ContractView {
  core::ProtocolState state;
  core::MigrationInfo migrations;
  bool operator==(const ContractView&) const = default;
};

// Reads both views (final finality). Errors name the view that failed:
// the RPC's classified errors as they are, a malformed answer as
// kInvalidArgument "contract view `state`: …".
core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id);

}  // namespace mpc::near
