// backup-cli: the MPC node operator's backup tool, a drop-in for the
// reference backup-cli (same subcommands, flags, environment and home). This
// file declares the flags and maps results to exit codes; the commands are
// in src/backup (commands.h, over the use cases of operator.h and service.h).
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "backup/commands.h"
#include "cli/cli.h"

namespace {

using namespace mpc;
const std::string kApp = "backup-cli";

int finish(const backup::CommandResult& result) {
  if (result) {
    std::cout << *result;
    return cli::kOk;
  }
  switch (result.error().kind) {
    case backup::CommandError::Kind::kUsage: return cli::fail(kApp, result.error().error, cli::kUsage);
    case backup::CommandError::Kind::kOther: return cli::fail(kApp, result.error().error, cli::kOther);
    case backup::CommandError::Kind::kClassified: break;
  }
  return cli::fail(kApp, result.error().error);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"backup-cli: back up an MPC node's key shares and migrate the node"};
  cli::add_version_flag(app, kApp);
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_format;
  cli::add_log_format_option(app, log_format, "BACKUP_LOG_FORMAT");
  backup::CommandOptions o;
  o.progress = [](const std::string& what) { std::cerr << "backup-cli: " << what << "\n"; };
  // Required by every subcommand but provision-key (checked after parsing).
  app.add_option("--home-dir", o.home_dir, "Home directory for the backup service's secrets and backups")->envname("BACKUP_HOME_DIR");
  std::vector<CLI::Option*> secret_options;
  auto add_node = [&](CLI::App* cmd, bool required, bool key_required = true) {
    auto* address = cmd->add_option("--mpc-node-address", o.node_address,
                                    "The MPC node's migration endpoint, host:port (its own port, 8079 by convention; not the P2P url)")
                        ->envname("MPC_NODE_ADDRESS");
    auto* key = cmd->add_option("--mpc-node-p2p-key", o.node_p2p_key, "The MPC node's P2P (TLS) public key, ed25519:<base58>")->envname("MPC_NODE_P2P_KEY");
    if (required) address->required(), key->required();
    // Secret: no default shown, no validator that could echo it.
    secret_options.push_back(cmd->add_option("--backup-encryption-key-hex", o.encryption_key_hex,
                                             "The operator's AES-256 key, 64 hex characters (prefer the environment variable)")
                                 ->envname("BACKUP_ENCRYPTION_KEY_HEX"));
    if (key_required) secret_options.back()->required();
    cmd->add_option("--request-timeout-seconds", o.request_timeout_seconds, "Deadline of each network request (>= 1)")
        ->envname("REQUEST_TIMEOUT_SECONDS")
        ->capture_default_str();
  };
  auto add_chain = [&](CLI::App* cmd, bool required) {
    auto* rpc = cmd->add_option("--rpc-url", o.rpc_url, "NEAR JSON-RPC endpoint (may carry an API key; never printed)")->envname("BACKUP_RPC_URL");
    auto* contract = cmd->add_option("--mpc-contract-account-id", o.contract_id, "The MPC contract account")->envname("MPC_CONTRACT_ACCOUNT_ID");
    if (required) rpc->required(), contract->required();
  };
  auto add_signer = [&](CLI::App* cmd) {
    cmd->add_option("--signer-account-id", o.signer_account_id, "The operator's NEAR account")->envname("SIGNER_ACCOUNT_ID");
    cmd->add_option("--signer-key-file", o.signer_key_file, "near-cli credential file of the operator's full-access key")->envname("SIGNER_KEY_FILE");
  };
  auto add_migration_port = [&](CLI::App* cmd) {
    cmd->add_option("--destination-migration-port", o.destination_migration_port,
                    "Port of the migration endpoint on the host of a url the contract names (a migration's destination, the "
                    "account's moved node); --mpc-node-address overrides it for put-keyshares")
        ->envname("DESTINATION_MIGRATION_PORT")
        ->capture_default_str();
  };
  auto add_state_file = [&](CLI::App* cmd) {
    cmd->add_option("--contract-state-file", o.contract_state_file, "Contract state JSON, without the chain (default HOME/contract_state.json)");
  };

  auto* gen = app.add_subcommand("generate-keys", "Generate the backup service's keys into HOME/secrets.json (refuses to overwrite)");
  gen->add_flag("--force", o.force, "Replace existing keys, keeping a timestamped copy of the old secrets.json");
  auto* reg = app.add_subcommand("register", "Print the NEAR CLI command that registers this backup service, or submit it with --rpc-url and --signer-key-file");
  add_chain(reg, false);
  reg->get_option("--mpc-contract-account-id")->required();
  reg->add_option("--near-network", o.near_network, "NEAR CLI network config name (for the printed command)")->envname("NEAR_NETWORK");
  add_signer(reg);
  auto* get = app.add_subcommand("get-keyshares", "Fetch the node's key shares for the contract's keyset, check them, store them");
  add_node(get, true), add_chain(get, false), add_state_file(get);
  auto* put = app.add_subcommand("put-keyshares", "Send the newest backup to a migration's destination; with the chain, the contract names it "
                                                   "(found by --signer-account-id or --mpc-node-p2p-key)");
  add_node(put, false), add_chain(put, false), add_signer(put), add_migration_port(put);
  auto* start = app.add_subcommand("start-migration", "Start migrating the operator's node to a new node (start_node_migration)");
  add_chain(start, true), add_signer(start);
  start->add_option("--destination-url", o.destination_url, "The new node's participant URL (its P2P address), http(s)://host:port")->required();
  start->add_option("--destination-tls-key", o.destination_tls_key, "The new node's TLS (P2P) public key")->required();
  start->add_option("--destination-access-key", o.destination_access_key, "The new node's NEAR access public key (it signs conclude_node_migration)")->required();
  auto* cancel = app.add_subcommand("cancel-migration", "Cancel the operator's ongoing migration (cancel_node_migration)");
  add_chain(cancel, true), add_signer(cancel);
  auto* status = app.add_subcommand("status", "Summarise the contract's view of the operator's account and the local backup");
  add_chain(status, true), add_signer(status);
  auto* verify = app.add_subcommand("verify", "Decrypt the newest backup and check it restores the keyset (chain or file)");
  add_chain(verify, false), add_state_file(verify);
  auto* run = app.add_subcommand("run", "Run the backup service: back up every new keyset and restore migrating nodes, unattended");
  add_node(run, true, false), add_chain(run, true), add_migration_port(run);  // the AES key: required without --tee (checked)
  run->add_option("--signer-account-id", o.signer_account_id, "The operator's NEAR account (default: the participant whose TLS key is --mpc-node-p2p-key)")
      ->envname("SIGNER_ACCOUNT_ID");
  run->add_option("--poll-interval-seconds", o.poll_interval_seconds, "How often to read the contract (>= 1)")->envname("POLL_INTERVAL_SECONDS")->capture_default_str();
  run->add_option("--near-chain-id", o.near_chain_id, "NEAR chain id (accepted for compatibility; the RPC endpoint decides)")->envname("NEAR_CHAIN_ID");
  run->add_option("--metrics-addr", o.metrics_addr, "HOST:PORT for /metrics and /health (plain HTTP; port 0 picks one, logged)")->envname("BACKUP_METRICS_ADDR");
  run->add_flag("--memory-only", o.memory_only, "Hold shares in memory only, never on disk (TEE mode); fetched again after a restart");
  run->add_flag("--tee", o.tee,
                "Run inside a TEE: keys generated in memory (no secrets.json), registration with an attestation, the AES key "
                "provisioned sealed by `provision-key` (not from the environment), shares in memory only");
  run->add_flag("--mock-attestation", o.mock_attestation, "With --tee: mock attestations ({\"Mock\":\"Valid\"}), for local networks only");
  run->add_option("--dstack-socket", o.dstack_socket, std::string("With --tee: the dstack guest agent's socket (default ") + "/var/run/dstack.sock)")
      ->envname("DSTACK_SOCKET");
  run->add_option("--pccs-url", o.pccs_url, "With --tee: where the quote's collateral comes from (default https://pccs.phala.network)")->envname("PCCS_URL");
  run->add_option("--reattest-interval-hours", o.reattest_interval_hours, "With --tee: register again with a fresh attestation this often (1..167)")
      ->capture_default_str();
  o.provision_addr = "0.0.0.0:8090";
  run->add_option("--provision-addr", o.provision_addr,
                  "With --tee: HOST:PORT of GET /public_data and GET/PUT /provision (plain HTTP, the key arrives sealed; port 0 "
                  "picks one, logged and written to HOME/provision.addr)")
      ->envname("BACKUP_PROVISION_ADDR")
      ->capture_default_str();
  auto* prov = app.add_subcommand("provision-key",
                                  "Send the AES key (BACKUP_ENCRYPTION_KEY_HEX, from the environment only) to a `run --tee` backup service, "
                                  "sealed to the X25519 key its attestation binds, after checking the attestation");
  prov->add_option("--backup-service-url", o.backup_service_url, "The service's provisioning endpoint, http://HOST:PORT")->required();
  prov->add_option("--expected-tls-key", o.expected_tls_key, "Refuse unless the service's TLS key is this one, ed25519:<base58>");
  prov->add_option("--expected-signer-key", o.expected_signer_key, "Refuse unless the service's signer key is this one, ed25519:<base58>");
  prov->add_flag("--allow-mock-attestation", o.allow_mock_attestation, "Accept a mock attestation (local networks only)");
  prov->add_option("--allowed-measurements", o.allowed_measurements_file,
                   "JSON file of the allowed measurements, image and compose hashes (as `mpc-attest verify --measurements`); required for "
                   "a Dstack attestation");
  prov->add_option("--request-timeout-seconds", o.request_timeout_seconds, "Deadline of each network request (>= 1)")
      ->envname("REQUEST_TIMEOUT_SECONDS")
      ->capture_default_str();
  app.footer(cli::exit_codes_help());

  const auto parsed = cli::parse(app, argc, argv);
  for (auto* option : secret_options) cli::wipe_option_results(option);
  if (!parsed && prov->parsed()) {  // provision-key reads the AES key from the environment only
    if (const char* key = std::getenv("BACKUP_ENCRYPTION_KEY_HEX")) o.encryption_key_hex = key;
  }
  // The AES key now lives in the options only (wiped at exit): scrub the environment's copy.
  cli::scrub_env("BACKUP_ENCRYPTION_KEY_HEX");
  cli::WipeOnExit wipe_key(o.encryption_key_hex);
  if (parsed) return *parsed;
  cli::setup_logging(kApp, log_format);
  if (prov->parsed()) return finish(backup::provision_key_command(o));
  if (o.home_dir.empty()) return cli::usage(kApp, "--home-dir (BACKUP_HOME_DIR) is required");
  if (auto st = backup::check_common_options(o, start->parsed() || cancel->parsed() || status->parsed() || run->parsed() || reg->parsed()); !st)
    return cli::fail(kApp, st.error(), cli::kUsage);

  if (gen->parsed()) return finish(backup::generate_keys_command(o));
  if (reg->parsed()) return finish(backup::register_command(o));
  if (get->parsed()) return finish(backup::get_keyshares_command(o));
  if (put->parsed()) return finish(backup::put_keyshares_command(o));
  if (start->parsed()) return finish(backup::start_migration_command(o));
  if (cancel->parsed()) return finish(backup::cancel_migration_command(o));
  if (status->parsed()) return finish(backup::status_command(o));
  if (verify->parsed()) return finish(backup::verify_command(o));
  if (run->parsed()) {
    cli::SignalWaiter signals;  // before any thread starts
    return finish(backup::run_command(o, [&signals] {
      const int sig = signals.wait();
      spdlog::info("received {}, stopping after the current step", cli::SignalWaiter::name(sig));
    }));
  }
  return cli::kUsage;
}
