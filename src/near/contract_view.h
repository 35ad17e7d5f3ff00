// The MPC contract as the backup and migration service reads it: the
// `state` and `migration_info` views, typed. One reader for every caller
// (the node's chain watcher, backup-cli's commands and its run daemon).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/key_derivation.h"
#include "model/types.h"
#include "near/rpc_client.h"

namespace mpc::near {

// The contract's word on one account's backup service attestation (view
// `backup_service_attestation{account_id}`, ours).
struct BackupServiceAttestation {
  std::optional<core::Ed25519PublicKey> tls_public_key;  // the registered service's key, if any
  bool attested = false;                                 // an attestation the contract accepted
  std::string kind;                                      // "Mock", "Dstack" or empty
  std::optional<std::uint64_t> expires_at_seconds;       // unix seconds
  bool operator==(const BackupServiceAttestation&) const = default;
};
core::Result<BackupServiceAttestation> parse_backup_service_attestation(const nlohmann::json& j);

struct ContractView {
  model::ProtocolState state;
  model::MigrationInfo migrations;
  // Pending `sign` requests, oldest first (read only when asked for: the
  // nodes sign them; see read_contract_view). nullopt: not read, or the
  // contract has no `pending_signature_requests` view (the reference's
  // contract: its nodes learn requests from an indexer).
  std::optional<std::vector<core::SignatureRequest>> pending_signatures;
  // The block the `state` view was read at (0 when the RPC did not say):
  // key event attempts expire by block height.
  std::uint64_t block_height = 0;
  // The attestation of ContractViewOptions::backup_attestation_account's
  // backup service (read only when asked for; nullopt also when the contract
  // has no such view).
  std::optional<BackupServiceAttestation> backup_attestation;
  bool operator==(const ContractView&) const = default;
};

struct ContractViewOptions {
  bool pending_signatures = false;
  std::size_t pending_limit = 100;
  std::string backup_attestation_account;  // empty: not read
};

// Reads both views (final finality). Errors name the view that failed:
// the RPC's classified errors as they are, a malformed answer as
// kInvalidArgument "contract view `state`: …".
// With options.pending_signatures, also the `pending_signature_requests`
// view (ours); a contract without it leaves the field nullopt.
core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id, const ContractViewOptions& options = {});

// The last `state` and `migration_info` answers a poller read, byte for
// byte, and what they parsed to: most blocks change neither, and an answer
// equal to the last one is not parsed and validated again (at 1,000 domains
// that was most of an idle node's CPU). An answer that differs in any byte
// is parsed and checked in full. Not thread-safe: one per poller.
struct ContractViewCache {
  core::Bytes state_bytes;
  std::optional<model::ProtocolState> state;
  core::Bytes migrations_bytes;
  std::optional<model::MigrationInfo> migrations;
};
core::Result<ContractView> read_contract_view(RpcClient& rpc, const std::string& contract_id, const ContractViewOptions& options,
                                              ContractViewCache& cache);

}  // namespace mpc::near
