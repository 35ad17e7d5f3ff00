// backup-cli: the MPC node operator's backup tool, a drop-in for the
// reference backup-cli (same subcommands, flags, environment and home). This
// file parses flags, builds the real ports and maps results to exit codes;
// the commands themselves are in src/backup (operator.h, service.h).
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "backup/chain_checks.h"
#include "backup/operator.h"
#include "backup/service.h"
#include "cli/cli.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "core/near_key.h"
#include "near/contract_view.h"
#include "net/http_server.h"

namespace {

using namespace mpc;
using cli::kUsage;
using json = nlohmann::json;
const std::string kApp = "backup-cli";

int fail(const core::Error& e) { return cli::fail(kApp, e); }
int fail(const core::Error& e, int code) { return cli::fail(kApp, e, code); }
int usage(const std::string& message) { return cli::usage(kApp, message); }
int usage(const core::Error& e) { return cli::fail(kApp, e, kUsage); }
void progress(const std::string& what) { std::cerr << "backup-cli: " << what << "\n"; }

struct Options {
  std::string home_dir, node_address, node_p2p_key, encryption_key_hex /* secret */, contract_id, near_network;
  std::string signer_account_id, signer_key_file, rpc_url /* may carry an API key: never printed */, contract_state_file;
  std::string destination_url, destination_tls_key, destination_access_key, near_chain_id = "mainnet", metrics_addr;
  int request_timeout_seconds = 30, poll_interval_seconds = 60, destination_migration_port = backup::kDefaultMigrationPort;
  bool force = false, memory_only = false;
  // get-keyshares, put-keyshares and verify read the chain only when both
  // an RPC endpoint and the contract are given: BACKUP_RPC_URL alone changes nothing.
  bool chain_given() const { return !rpc_url.empty() && !contract_id.empty(); }
};

// ---- operator inputs, all checked before any traffic (usage errors) ----

core::Result<backup::NodeTarget> node_target(const Options& o) {
  auto address = net::HostPort::parse(o.node_address);
  if (!address) return core::invalid("--mpc-node-address: " + address.error().message);
  auto key = core::parse_ed25519_public_key(o.node_p2p_key);
  if (!key) return core::invalid("--mpc-node-p2p-key: expected ed25519:<base58 of 32 bytes>: " + key.error().message);
  return backup::NodeTarget{*address, *key};
}

core::Status check_common(const Options& o, bool need_contract) {
  if (o.request_timeout_seconds < 1) return core::invalid("--request-timeout-seconds must be at least 1");
  if (o.destination_migration_port < 1 || o.destination_migration_port > 65535)
    return core::invalid("--destination-migration-port must be a TCP port (1..65535)");
  if ((need_contract || !o.contract_id.empty()) && !core::is_valid_account_id(o.contract_id))
    return core::invalid("--mpc-contract-account-id: '" + o.contract_id + "' is not a valid NEAR account id");
  if (!o.signer_account_id.empty() && !core::is_valid_account_id(o.signer_account_id))
    return core::invalid("--signer-account-id: '" + o.signer_account_id + "' is not a valid NEAR account id");
  return {};
}

core::Result<std::unique_ptr<near::RpcClient>> rpc_client(const Options& o) {
  auto rpc = near::RpcClient::create(o.rpc_url, near::RpcClientOptions{std::chrono::seconds(o.request_timeout_seconds)});
  if (!rpc) return core::invalid("--rpc-url: " + rpc.error().message);
  return rpc;
}

// The contract state the operator gave as a file (default
// HOME/contract_state.json, as the reference reads it).
core::Result<core::ProtocolState> state_from_file(const Options& o) {
  const std::filesystem::path file = o.contract_state_file.empty() ? std::filesystem::path(o.home_dir) / "contract_state.json"
                                                                   : std::filesystem::path(o.contract_state_file);
  auto text = core::read_file(file, 64 << 20);
  if (!text)
    return core::invalid("cannot read the contract state from " + file.string() + ": " + text.error().message +
                         " (give --contract-state-file, or --rpc-url with --mpc-contract-account-id)");
  json j = core::parse_json(*text, {64 << 20, 64}).value_or(json::value_t::discarded);
  if (j.is_discarded()) return core::invalid(file.string() + " is not JSON (expected the contract's `state` view)");
  auto s = core::parse_protocol_state(j);
  if (!s) return std::unexpected(s.error().context(file.string() + " is not a contract state"));
  return s;
}

core::Result<core::SecretBytes> encryption_key(const Options& o) {
  return core::parse_aes256_key_hex(o.encryption_key_hex, "--backup-encryption-key-hex (BACKUP_ENCRYPTION_KEY_HEX)");
}

core::Result<backup::Secrets> load_secrets(const Options& o) {
  auto s = backup::BackupHome(o.home_dir).load_secrets();
  if (!s && s.error().code == core::ErrorCode::kNotFound)
    return core::fail(core::ErrorCode::kNotFound, s.error().message + " (run `backup-cli generate-keys` first)");
  return s;
}

// The real ports: the chain over RPC (when given), the node over mTLS.
backup::OperatorPorts real_ports(const Options& o, near::RpcClient* rpc, const core::Ed25519SecretKey& own,
                                 const core::SecretBytes& aes) {
  backup::OperatorPorts ports;
  if (rpc) {
    ports.read_chain = [rpc, id = o.contract_id] {
      progress("reading the contract state of " + id + " from " + rpc->endpoint());
      return near::read_contract_view(*rpc, id);
    };
  }
  const auto timeout = std::chrono::seconds(o.request_timeout_seconds);
  ports.fetch = [&own, &aes, timeout](const backup::NodeTarget& t, const core::Keyset& ks) {
    return backup::NodeClient({t.address, t.key, timeout}, own, aes).get_keyshares(ks);
  };
  ports.push = [&own, &aes, timeout](const backup::NodeTarget& t, const std::vector<core::Keyshare>& shares) {
    return backup::NodeClient({t.address, t.key, timeout}, own, aes).put_keyshares(shares);
  };
  ports.progress = progress;
  return ports;
}

// ---- commands ----

int cmd_generate_keys(const Options& o) {
  backup::BackupHome home(o.home_dir);
  auto out = home.generate_secrets(o.force);
  if (!out && out.error().code == core::ErrorCode::kAlreadyExists)
    return fail(core::Error{out.error().code, out.error().message +
                                                  " (existing keys are never overwritten; --force keeps a timestamped copy and "
                                                  "generates new ones — the old backup service registration then stops working)"},
                cli::kOther);
  if (!out) return fail(out.error(), cli::kOther);
  if (out->previous_copy) std::cout << "previous secrets kept in " << out->previous_copy->string() << "\n";
  std::cout << "generated new keys in " << home.secrets_file().string() << " (0600)\n"
            << "p2p public key:    " << core::ed25519_public_key_to_string(out->secrets.p2p_private_key.public_key()) << "\n"
            << "signer public key: " << core::ed25519_public_key_to_string(out->secrets.near_signer_key.public_key()) << "\n";
  return cli::kOk;
}

// register, start-migration, cancel-migration: one signed function call.
int send_tx(const Options& o, const std::string& method, const json& args, const std::string& what) {
  if (o.signer_key_file.empty()) return usage("--signer-key-file is required to sign transactions");
  auto creds = core::read_credentials_file(o.signer_key_file);
  if (!creds) return usage("--signer-key-file: " + creds.error().message);
  if (!o.signer_account_id.empty() && o.signer_account_id != creds->account_id)
    return usage("--signer-key-file is for account " + creds->account_id + ", but --signer-account-id is " + o.signer_account_id);
  auto rpc = rpc_client(o);
  if (!rpc) return usage(rpc.error());
  progress(what + " for " + creds->account_id);
  near::Signer signer(**rpc, creds->account_id, std::move(creds->secret_key));
  auto out = signer.call(o.contract_id, method, args, 1);
  if (!out) return fail(out.error().context(method));
  std::cout << method << ": transaction " << out->tx_hash << " succeeded\n";
  return cli::kOk;
}

int cmd_register(const Options& o) {
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), cli::kOther);
  const json args = backup::register_args(secrets->p2p_private_key.public_key());
  if (!o.rpc_url.empty()) return send_tx(o, "register_backup_service", args, "registering this backup service's key");
  if (o.signer_account_id.empty()) return usage("--signer-account-id must be a valid NEAR account id");
  if (o.near_network.empty()) return usage("--near-network is required to print the NEAR CLI command (or give --rpc-url to submit)");
  std::cout << "Run the following command to register your backup service:\n\n"
            << backup::near_cli_register_command(o.contract_id, args, o.signer_account_id, o.near_network);
  return cli::kOk;
}

// get-keyshares, put-keyshares, verify: the home, the keys and the chain.
struct Session {
  std::optional<backup::Secrets> secrets;
  core::SecretBytes aes;
  std::unique_ptr<near::RpcClient> rpc;  // null without the chain
};
std::optional<int> open_session(const Options& o, bool with_node, Session& s) {
  if (with_node) {
    auto aes = encryption_key(o);
    if (!aes) return usage(aes.error());
    s.aes = std::move(*aes);
  }
  if (o.chain_given()) {
    auto rpc = rpc_client(o);
    if (!rpc) return usage(rpc.error());
    s.rpc = std::move(*rpc);
  }
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), cli::kOther);
  s.secrets.emplace(std::move(*secrets));
  return std::nullopt;
}

int cmd_get_keyshares(const Options& o) {
  auto node = node_target(o);
  if (!node) return usage(node.error());
  Session s;
  if (auto code = open_session(o, true, s)) return *code;
  std::optional<core::ProtocolState> file;
  if (!s.rpc) {
    auto state = state_from_file(o);
    if (!state) return usage(state.error());
    file = std::move(*state);
  }
  backup::BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = backup::get_keyshares(*node, s.secrets->p2p_private_key.public_key(), file, store,
                                   real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes));
  if (!out) return fail(out.error());
  std::cout << (out->outcome == backup::StoreOutcome::kStored ? "stored" : "already stored") << " backup of epoch "
            << out->keyset.epoch_id << " with " << out->keyset.domains.size() << " domain(s) in " << out->file.string() << "\n";
  return cli::kOk;
}

int cmd_put_keyshares(const Options& o) {
  backup::RestoreRequest request;
  request.migration_port = static_cast<std::uint16_t>(o.destination_migration_port);
  if (!o.signer_account_id.empty()) request.account_id = o.signer_account_id;
  if (!o.chain_given() || !o.node_address.empty()) {
    auto address = net::HostPort::parse(o.node_address);
    if (!address) return usage("--mpc-node-address: " + address.error().message);
    request.address = *address;
  }
  if (!o.chain_given() || !o.node_p2p_key.empty()) {
    auto key = core::parse_ed25519_public_key(o.node_p2p_key);
    if (!key) return usage("--mpc-node-p2p-key: expected ed25519:<base58 of 32 bytes>: " + key.error().message);
    request.node_key = *key;
  }
  if (o.chain_given() && !request.account_id && !request.node_key)
    return usage("put-keyshares with the chain needs --signer-account-id (the operator's account) or --mpc-node-p2p-key "
                 "(the destination's TLS key) to find the migration");
  Session s;
  if (auto code = open_session(o, true, s)) return *code;
  backup::BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = backup::put_keyshares(request, store, real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes));
  if (!out) return fail(out.error());
  std::cout << "the node accepted and stored the key shares of epoch " << out->epoch_id << "\n";
  return cli::kOk;
}

int cmd_verify(const Options& o) {
  Session s;
  if (auto code = open_session(o, false, s)) return *code;
  core::ProtocolState state;
  if (s.rpc) {
    auto view = real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes).read_chain();
    if (!view) return fail(view.error());
    state = std::move(view->state);
  } else {
    auto file = state_from_file(o);
    if (!file) return usage(file.error());
    state = std::move(*file);
  }
  backup::BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = backup::verify_backup(state, store);
  if (!out) return fail(out.error());
  std::cout << *out << "\n";
  return cli::kOk;
}

int cmd_status(const Options& o) {
  if (o.signer_account_id.empty()) return usage("--signer-account-id (the operator's account) must be a valid NEAR account id");
  Session s;
  if (auto code = open_session(o, false, s)) return *code;
  auto view = real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes).read_chain();
  if (!view) return fail(view.error());
  backup::BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto newest = store.load_newest();
  if (!newest) return fail(newest.error());
  auto report = backup::build_status_report(view->state, view->migrations, o.signer_account_id,
                                            s.secrets->p2p_private_key.public_key(), *newest);
  std::cout << "account:         " << o.signer_account_id << " on " << o.contract_id << "\n";
  for (const auto& line : report.lines) std::cout << line << "\n";
  return cli::kOk;
}

int cmd_run(const Options& o) {
  auto node = node_target(o);
  if (!node) return usage(node.error());
  if (o.poll_interval_seconds < 1) return usage("--poll-interval-seconds must be at least 1");
  backup::ServiceConfig config{o.home_dir, o.contract_id, o.signer_account_id, *node, std::chrono::seconds(o.request_timeout_seconds),
                               std::chrono::seconds(o.poll_interval_seconds), static_cast<std::uint16_t>(o.destination_migration_port),
                               std::nullopt, o.memory_only};
  if (!o.metrics_addr.empty()) {
    auto ep = net::parse_listen_address(o.metrics_addr);
    if (!ep) return usage("--metrics-addr: " + ep.error().message);
    config.metrics = *ep;
  }
  cli::SignalWaiter signals;  // before any thread starts
  Session s;
  if (auto code = open_session(o, true, s)) return *code;
  auto st = backup::run_service(config, *s.rpc, *s.secrets, s.aes, [&signals] {
    const int sig = signals.wait();
    spdlog::info("received {}, stopping after the current step", cli::SignalWaiter::name(sig));
  });
  return st ? cli::kOk : fail(st.error(), cli::kOther);
}

// CLI11 keeps its own copy of every option's text: the AES key's is wiped.
void wipe_option(CLI::Option* option) {
  for (const auto& value : option->results()) core::secure_wipe(const_cast<char*>(value.data()), value.size());
  option->clear();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"backup-cli: back up an MPC node's key shares and migrate the node"};
  cli::add_version_flag(app, kApp);
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_format;
  cli::add_log_format_option(app, log_format, "BACKUP_LOG_FORMAT");
  Options o;
  app.add_option("--home-dir", o.home_dir, "Home directory for the backup service's secrets and backups")->envname("BACKUP_HOME_DIR")->required();
  std::vector<CLI::Option*> secret_options;
  auto add_node = [&](CLI::App* cmd, bool required) {
    auto* address = cmd->add_option("--mpc-node-address", o.node_address,
                                    "The MPC node's migration endpoint, host:port (its own port, 8079 by convention; not the P2P url)")
                        ->envname("MPC_NODE_ADDRESS");
    auto* key = cmd->add_option("--mpc-node-p2p-key", o.node_p2p_key, "The MPC node's P2P (TLS) public key, ed25519:<base58>")->envname("MPC_NODE_P2P_KEY");
    if (required) address->required(), key->required();
    // Secret: no default shown, no validator that could echo it.
    secret_options.push_back(cmd->add_option("--backup-encryption-key-hex", o.encryption_key_hex,
                                             "The operator's AES-256 key, 64 hex characters (prefer the environment variable)")
                                 ->envname("BACKUP_ENCRYPTION_KEY_HEX")
                                 ->required());
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
  add_node(run, true), add_chain(run, true), add_migration_port(run);
  run->add_option("--signer-account-id", o.signer_account_id, "The operator's NEAR account (default: the participant whose TLS key is --mpc-node-p2p-key)")
      ->envname("SIGNER_ACCOUNT_ID");
  run->add_option("--poll-interval-seconds", o.poll_interval_seconds, "How often to read the contract (>= 1)")->envname("POLL_INTERVAL_SECONDS")->capture_default_str();
  run->add_option("--near-chain-id", o.near_chain_id, "NEAR chain id (accepted for compatibility; the RPC endpoint decides)")->envname("NEAR_CHAIN_ID");
  run->add_option("--metrics-addr", o.metrics_addr, "HOST:PORT for /metrics and /health (plain HTTP; port 0 picks one, logged)")->envname("BACKUP_METRICS_ADDR");
  run->add_flag("--memory-only", o.memory_only, "Hold shares in memory only, never on disk (TEE mode); fetched again after a restart");
  app.footer(cli::exit_codes_help());

  const auto parsed = cli::parse(app, argc, argv);
  for (auto* option : secret_options) wipe_option(option);
  // The AES key now lives in Options only (wiped at exit): scrub the environment's copy.
  if (char* env_key = std::getenv("BACKUP_ENCRYPTION_KEY_HEX")) {
    core::secure_wipe(env_key, std::strlen(env_key));
    ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
  }
  struct WipeOnExit {
    std::string& s;
    ~WipeOnExit() { core::secure_wipe(s.data(), s.size()); }
  } wipe_key{o.encryption_key_hex};
  if (parsed) return *parsed;
  cli::setup_logging(kApp, log_format);
  if (o.home_dir.empty()) return usage("--home-dir must not be empty");
  if (auto st = check_common(o, start->parsed() || cancel->parsed() || status->parsed() || run->parsed() || reg->parsed()); !st)
    return usage(st.error());

  if (gen->parsed()) return cmd_generate_keys(o);
  if (reg->parsed()) return cmd_register(o);
  if (get->parsed()) return cmd_get_keyshares(o);
  if (put->parsed()) return cmd_put_keyshares(o);
  if (start->parsed()) {
    auto args = backup::start_migration_args(o.destination_url, o.destination_tls_key, o.destination_access_key);
    return args ? send_tx(o, "start_node_migration", *args, "starting the migration to " + o.destination_url) : usage(args.error());
  }
  if (cancel->parsed()) return send_tx(o, "cancel_node_migration", json::object(), "cancelling the migration");
  if (status->parsed()) return cmd_status(o);
  if (verify->parsed()) return cmd_verify(o);
  if (run->parsed()) return cmd_run(o);
  return kUsage;
}
