// What backup-cli checks against the contract before it acts, as pure
// functions of the contract's views (unit-tested without a chain).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backup/coverage.h"
#include "model/types.h"

namespace mpc::backup {

// put-keyshares with --rpc-url: the contract must show an ongoing migration
// for `account_id` whose destination TLS key is `node_key`, and be Running.
// The error names what is wrong (no migration, another destination, state).
core::Status check_migration_destination(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                         const std::string& account_id, const core::Ed25519PublicKey& node_key);

// put-keyshares with the chain: the ongoing migration to send to. The
// account is `account_id` when given (and then `node_key`, when given, must
// be its destination's key, as check_migration_destination); otherwise the
// account whose ongoing migration's destination TLS key is `node_key`. One of
// the two is required. The error names what is missing.
struct MigrationTarget {
  std::string account_id;
  model::DestinationNodeInfo destination;
};
core::Result<MigrationTarget> find_migration_target(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                                    const std::optional<std::string>& account_id,
                                                    const std::optional<core::Ed25519PublicKey>& node_key);

// The account of the current participant whose TLS key is `key` (Running,
// Resharing: the previous parameters, Initializing: the generating key's).
std::optional<std::string> account_with_tls_key(const model::ProtocolState& state, const core::Ed25519PublicKey& key);

// A node serves only the backup service registered on-chain for its
// account: before connecting, check that the node whose TLS key is
// `node_key` belongs to an account whose registered backup-service key is
// `own_key`. kPermissionDenied naming both keys (and the fix) otherwise.
// When no participant has `node_key` (a node not yet in the contract) there
// is no account to check: ok, and the node's own answer decides.
core::Status check_backup_registration(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                       const core::Ed25519PublicKey& node_key, const core::Ed25519PublicKey& own_key);

// The readable summary of `backup-cli status`.
struct StatusReport {
  std::vector<std::string> lines;
  bool backup_up_to_date = false;
  bool backup_key_matches = false;
};

StatusReport build_status_report(const model::ProtocolState& state, const model::MigrationInfo& migrations,
                                 const std::string& account_id, const core::Ed25519PublicKey& home_p2p_key,
                                 const std::optional<StoredBackup>& newest);

}  // namespace mpc::backup
