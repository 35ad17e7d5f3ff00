// backup-cli's subcommands from flag values to what they print: the inputs
// checked (usage errors before any traffic), the real ports built (the chain
// over RPC, the node over mutual TLS, the store on disk), the use cases of
// operator.h and service.h called, their outcome worded. apps/backup_cli.cc
// only declares the flags and maps a CommandResult to an exit code.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include "backup/operator.h"
#include "core/result.h"

namespace mpc::backup {

// The flag values, as the reference backup-cli names them (apps/backup_cli.cc
// binds each flag and its environment variable to a field).
struct CommandOptions {
  std::string home_dir, node_address, node_p2p_key, contract_id, near_network;
  std::string encryption_key_hex;  // secret: the caller wipes it
  std::string rpc_url;             // may carry an API key: never printed
  std::string signer_account_id, signer_key_file, contract_state_file;
  std::string destination_url, destination_tls_key, destination_access_key, near_chain_id = "mainnet", metrics_addr;
  int request_timeout_seconds = 30, poll_interval_seconds = 60, destination_migration_port = kDefaultMigrationPort;
  bool force = false, memory_only = false;
  // run --tee
  bool tee = false, mock_attestation = false;
  std::string dstack_socket, pccs_url, provision_addr;
  int reattest_interval_hours = 144;
  // provision-key (the AES key is encryption_key_hex, from BACKUP_ENCRYPTION_KEY_HEX only)
  std::string backup_service_url, expected_tls_key, expected_signer_key, allowed_measurements_file;
  bool allow_mock_attestation = false;
  // What a command is doing, for the operator (stderr in backup-cli).
  std::function<void(const std::string&)> progress = [](const std::string&) {};

  // get-keyshares, put-keyshares and verify read the chain only when both
  // an RPC endpoint and the contract are given: BACKUP_RPC_URL alone changes nothing.
  bool chain_given() const { return !rpc_url.empty() && !contract_id.empty(); }
};

// How a command failed, and so how the binary exits: kUsage (exit 2: a flag
// or input in the wrong form, found before any traffic), kOther (exit 1:
// home, secrets, I/O), kClassified (the exit-code table by error code).
struct CommandError {
  enum class Kind { kUsage, kOther, kClassified };
  Kind kind = Kind::kClassified;
  core::Error error;
};
// Success: the text for stdout.
using CommandResult = std::expected<std::string, CommandError>;

// Checks shared by every subcommand (timeouts, ports, account ids);
// `need_contract`: the contract account id is required.
core::Status check_common_options(const CommandOptions& o, bool need_contract);

CommandResult generate_keys_command(const CommandOptions& o);
CommandResult register_command(const CommandOptions& o);
CommandResult get_keyshares_command(const CommandOptions& o);
CommandResult put_keyshares_command(const CommandOptions& o);
CommandResult start_migration_command(const CommandOptions& o);
CommandResult cancel_migration_command(const CommandOptions& o);
CommandResult status_command(const CommandOptions& o);
CommandResult verify_command(const CommandOptions& o);
// provision-key: the AES key sealed to an attested `run --tee` service.
CommandResult provision_key_command(const CommandOptions& o);
// `run`: returns once `wait_for_stop` has returned and the current step is
// done. With o.tee: run_tee_service (no secrets.json, no AES key in the
// environment; --signer-account-id required). REQUIRES: SIGINT/SIGTERM are already blocked (threads start here).
CommandResult run_command(const CommandOptions& o, const std::function<void()>& wait_for_stop);

}  // namespace mpc::backup
