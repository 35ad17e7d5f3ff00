// The operator's one-shot commands (get-keyshares, put-keyshares, verify,
// register, start/cancel-migration) as functions over ports: the chain, the
// node and the backup store come in as plain functions and objects, so the
// decisions are tested with fakes. backup-cli only parses flags, builds the
// real ports and maps results to exit codes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/home.h"
#include "backup/node_client.h"
#include "model/types.h"
#include "near/contract_view.h"

namespace mpc::backup {

// A node and the TLS key it must present.
struct NodeTarget {
  net::HostPort address;
  core::Ed25519PublicKey key;
  bool operator==(const NodeTarget& o) const {
    return address.host == o.address.host && address.port == o.address.port && key == o.key;
  }
};

// The migration endpoint of the reference deployment: a port of its own on
// the host of the participant's (P2P) url.
inline constexpr std::uint16_t kDefaultMigrationPort = 8079;

// The migration endpoint of the node whose participant/destination url is
// `url` (http(s)://host[:port][/...], the P2P address): its host with
// `migration_port`. The url's own port is the P2P port and is never used.
core::Result<net::HostPort> migration_address(const std::string& url, std::uint16_t migration_port);

struct OperatorPorts {
  // Both contract views; empty when no chain was given.
  std::function<core::Result<near::ContractView>()> read_chain;
  std::function<core::Result<std::vector<model::Keyshare>>(const NodeTarget&, const model::Keyset&)> fetch;
  std::function<core::Status(const NodeTarget&, const std::vector<model::Keyshare>&)> push;
  // What the command is doing, for the operator (stderr in backup-cli).
  std::function<void(const std::string&)> progress = [](const std::string&) {};
};

// The keyset a backup must hold now (interop §6); kFailedPrecondition when
// the contract has none yet.
core::Result<model::Keyset> keyset_to_hold(const model::ProtocolState& state);

struct BackupOutcome {
  model::Keyset keyset;
  StoreOutcome outcome = StoreOutcome::kStored;
  std::filesystem::path file;
};

// get-keyshares: the keyset from the chain (ports.read_chain; then the node's
// account must register `own_key` as its backup service, checked before any
// connection) or else from `state_file`; refuses before fetching when the
// stored backup is of a newer epoch; fetches from `node`, checks, stores.
core::Result<BackupOutcome> get_keyshares(const NodeTarget& node, const core::Ed25519PublicKey& own_key,
                                          const std::optional<model::ProtocolState>& state_file, BackupStore& store,
                                          const OperatorPorts& ports);

struct RestoreRequest {
  // Without the chain both are required; with it they override what the
  // contract names (the address) or must match it (the key).
  std::optional<net::HostPort> address;
  std::optional<core::Ed25519PublicKey> node_key;
  // With the chain: whose migration (else found by node_key).
  std::optional<std::string> account_id;
  std::uint16_t migration_port = kDefaultMigrationPort;
};

struct RestoreOutcome {
  NodeTarget destination;
  std::uint64_t epoch_id = 0;
  std::size_t domains = 0;
};

// put-keyshares: the newest backup (required) to the migration's
// destination. With the chain: the contract's ongoing migration (by account
// or destination key) names the destination's TLS key and, unless
// `address` is given, its address (the url's host on `migration_port`); the
// backup must cover the running keyset.
core::Result<RestoreOutcome> put_keyshares(const RestoreRequest& request, BackupStore& store, const OperatorPorts& ports);

// verify: the newest backup decrypts and covers the keyset of `state`.
// Returns the line to print; kFailedPrecondition saying what is missing.
core::Result<std::string> verify_backup(const model::ProtocolState& state, BackupStore& store);

// register_backup_service's arguments for this home's key, and the NEAR CLI
// command the reference prints for them.
nlohmann::json register_args(const core::Ed25519PublicKey& own_key);
std::string near_cli_register_command(const std::string& contract_id, const nlohmann::json& args, const std::string& signer_account_id,
                                      const std::string& near_network);

// start_node_migration's arguments from the operator's flag values;
// kInvalidArgument naming the flag that is wrong.
core::Result<nlohmann::json> start_migration_args(const std::string& url, const std::string& tls_key, const std::string& access_key);

}  // namespace mpc::backup
