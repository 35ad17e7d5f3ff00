// backup-cli: the MPC node operator's backup tool. A drop-in for the
// reference backup-cli (same subcommands, flags, environment variables and
// home directory), with chain-aware commands and verification.
#include <CLI/CLI.hpp>

#include "app_support.h"

#include "core/json_limits.h"
#include "core/logging.h"
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "backup/chain_checks.h"
#include "backup/coverage.h"
#include "backup/daemon.h"
#include "net/http_server.h"
#include "net/io_thread.h"
#include "net/metrics.h"
#include "net/mtls_server.h"

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <thread>
#include "backup/home.h"
#include "backup/node_client.h"
#include "core/file_util.h"
#include "core/near_key.h"
#include "core/types.h"
#include "near/rpc_client.h"

namespace {

using namespace mpc;
using json = nlohmann::json;

// Exit codes (also in --help and the README).
constexpr int kExitOk = 0;
constexpr int kExitOther = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNetwork = 3;
constexpr int kExitAuth = 4;
constexpr int kExitValidation = 5;
constexpr int kExitChainRefused = 6;

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 success; 1 other failure; 2 usage error (a flag or input in the wrong form); "
    "3 network failure or timeout (node or RPC unreachable, or the node closed the connection: without the chain a node "
    "that does not accept this backup service's key looks like this); 4 authentication failure (wrong node key, the "
    "contract registers another backup-service key for the node's account, wrong encryption key); 5 validation failure (shares do not "
    "match the keyset, older than the stored backup, backup does not cover the keyset, the contract "
    "state does not allow the step); 6 the chain refused the transaction.";

int exit_code_for(const core::Error& e) {
  switch (e.code) {
    case core::ErrorCode::kUnavailable:
    case core::ErrorCode::kTimeout: return kExitNetwork;
    case core::ErrorCode::kPermissionDenied: return kExitAuth;
    case core::ErrorCode::kFailedPrecondition:
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kInvalidArgument: return kExitValidation;
    case core::ErrorCode::kTxRejected:
    case core::ErrorCode::kContractPanic: return kExitChainRefused;
    default: return kExitOther;
  }
}

int fail(const core::Error& e, int code) {
  std::cerr << "backup-cli: error: " << e.message << "\n";
  return code;
}
int fail(const core::Error& e) { return fail(e, exit_code_for(e)); }
int usage(const std::string& message) { return fail(core::Error{core::ErrorCode::kInvalidArgument, message}, kExitUsage); }

void step(const std::string& what) { std::cerr << "backup-cli: " << what << "\n"; }

struct Options {
  std::string home_dir;
  bool force = false;
  // node connection
  std::string node_address;
  std::string node_p2p_key;
  std::string encryption_key_hex;  // secret: never printed
  int request_timeout_seconds = 30;
  // chain
  std::string contract_id;
  std::string near_network;
  std::string signer_account_id;
  std::string signer_key_file;
  std::string rpc_url;  // may carry an API key: never printed
  // start-migration
  std::string destination_url;
  std::string destination_tls_key;
  std::string destination_access_key;
  std::string contract_state_file;
  // run, put-keyshares: where a node the contract names is reached
  int destination_migration_port = backup::kDefaultMigrationPort;
  // run
  int poll_interval_seconds = 60;
  std::string near_chain_id = "mainnet";
  std::string metrics_addr;
  bool memory_only = false;
};

// ---- validated inputs (all checked before any network traffic) ----

struct NodeInputs {
  backup::NodeClientConfig config;
  core::SecretBytes encryption_key;
};

// The node flags: --mpc-node-address and --mpc-node-p2p-key are required
// unless `optional_node` (put-keyshares with the chain: the contract names
// the destination).
core::Result<NodeInputs> node_inputs(const Options& o, bool optional_node = false) {
  NodeInputs in;
  if (!optional_node || !o.node_address.empty()) {
    auto a = backup::NodeAddress::parse(o.node_address);
    if (!a) return core::invalid("--mpc-node-address: " + a.error().message);
    in.config.address = *a;
  }
  if (!optional_node || !o.node_p2p_key.empty()) {
    auto k = core::parse_ed25519_public_key(o.node_p2p_key);
    if (!k) return core::invalid("--mpc-node-p2p-key: expected ed25519:<base58 of 32 bytes>: " + k.error().message);
    in.config.node_key = *k;
  }
  if (o.request_timeout_seconds < 1) return core::invalid("--request-timeout-seconds must be at least 1");
  in.config.timeout = std::chrono::seconds(o.request_timeout_seconds);
  auto key = core::parse_aes256_key_hex(o.encryption_key_hex, "--backup-encryption-key-hex (BACKUP_ENCRYPTION_KEY_HEX)");
  if (!key) return std::unexpected(key.error());
  in.encryption_key = std::move(*key);
  return in;
}

core::Result<std::unique_ptr<near::RpcClient>> rpc_client(const Options& o) {
  auto rpc = near::RpcClient::create(o.rpc_url, near::RpcClientOptions{std::chrono::seconds(o.request_timeout_seconds)});
  if (!rpc) return core::invalid("--rpc-url: " + rpc.error().message);
  return rpc;
}

// get-keyshares, put-keyshares and verify read the chain only when both the
// RPC endpoint and the contract are given: an exported BACKUP_RPC_URL alone
// changes nothing about them.
bool chain_given(const Options& o) { return !o.rpc_url.empty() && !o.contract_id.empty(); }

core::Status check_migration_port(const Options& o) {
  if (o.destination_migration_port < 1 || o.destination_migration_port > 65535)
    return core::invalid("--destination-migration-port must be a TCP port (1..65535)");
  return {};
}

core::Status require_contract(const Options& o) {
  if (o.contract_id.empty()) return core::invalid("--mpc-contract-account-id is required with --rpc-url");
  if (!core::is_valid_account_id(o.contract_id))
    return core::invalid("--mpc-contract-account-id: '" + o.contract_id + "' is not a valid NEAR account id");
  return {};
}

struct ChainView {
  core::ProtocolState state;
  core::MigrationInfo migrations;
};

core::Result<ChainView> read_chain(near::RpcClient& rpc, const std::string& contract_id, bool with_migrations) {
  step("reading the contract state of " + contract_id + " from " + rpc.endpoint());
  ChainView v;
  MPC_ASSIGN(auto state_json, rpc.view(contract_id, "state"));
  {
    auto s = core::parse_protocol_state(state_json);
    if (!s) return std::unexpected(s.error().context("contract state"));
    v.state = std::move(*s);
  }
  if (with_migrations) {
    MPC_ASSIGN(auto m_json, rpc.view(contract_id, "migration_info"));
    auto m = core::parse_migration_info(m_json);
    if (!m) return std::unexpected(m.error().context("contract migration_info"));
    v.migrations = std::move(*m);
  }
  return v;
}

// A failure with the exit code it maps to.
struct Failure {
  core::Error error;
  int exit_code;
};
template <typename T>
using CliResult = std::expected<T, Failure>;
std::unexpected<Failure> failure(core::Error e) {
  const int code = exit_code_for(e);
  return std::unexpected(Failure{std::move(e), code});
}
std::unexpected<Failure> usage_failure(core::Error e) { return std::unexpected(Failure{std::move(e), kExitUsage}); }
int fail(const Failure& f) { return fail(f.error, f.exit_code); }

// The contract state the operator gave as a file (default
// HOME/contract_state.json, as the reference reads it). Every problem with
// the file is a usage error: it is the operator's input.
CliResult<core::ProtocolState> state_from_file(const Options& o) {
  std::filesystem::path file =
      o.contract_state_file.empty() ? std::filesystem::path(o.home_dir) / "contract_state.json" : std::filesystem::path(o.contract_state_file);
  auto text = core::read_file(file, 64 << 20);
  if (!text)
    return usage_failure(core::Error{core::ErrorCode::kInvalidArgument,
                                     "cannot read the contract state from " + file.string() + ": " + text.error().message +
                                         " (give --contract-state-file, or --rpc-url with --mpc-contract-account-id)"});
  json j = core::parse_json(*text, {64 << 20, 64}).value_or(json::value_t::discarded);
  if (j.is_discarded())
    return usage_failure(core::Error{core::ErrorCode::kInvalidArgument, file.string() + " is not JSON (expected the contract's `state` view)"});
  auto s = core::parse_protocol_state(j);
  if (!s) return usage_failure(s.error().context(file.string() + " is not a contract state"));
  return std::move(*s);
}

// The keyset to back up: from the chain when both --rpc-url and
// --mpc-contract-account-id are given, else from a contract state file.
// With the chain, and `registered_for` (the node's TLS key and this home's
// backup-service key), first checks that the node's account registers this
// home: the node would refuse it otherwise.
CliResult<core::Keyset> keyset_from(
    const Options& o, std::optional<std::pair<core::Ed25519PublicKey, core::Ed25519PublicKey>> registered_for = std::nullopt) {
  core::ProtocolState state;
  if (chain_given(o)) {
    if (auto st = require_contract(o); !st) return usage_failure(st.error());
    auto rpc = rpc_client(o);
    if (!rpc) return usage_failure(rpc.error());
    auto view = read_chain(**rpc, o.contract_id, registered_for.has_value());
    if (!view) return failure(view.error());
    if (registered_for) {
      if (auto st = backup::check_backup_registration(view->state, view->migrations, registered_for->first, registered_for->second); !st)
        return failure(st.error());
    }
    state = std::move(view->state);
  } else {
    auto from_file = state_from_file(o);
    if (!from_file) return std::unexpected(from_file.error());
    state = std::move(*from_file);
  }
  auto keyset = core::keyset_to_back_up(state);
  if (!keyset || keyset->domains.empty())
    return failure(core::Error{core::ErrorCode::kFailedPrecondition,
                               std::string("the contract is ") + state.name() + " with no keyset to back up yet"});
  return *keyset;
}

struct SignerInputs {
  core::NearCredentials creds;
};

core::Result<SignerInputs> signer_inputs(const Options& o) {
  if (o.signer_key_file.empty()) return core::invalid("--signer-key-file is required to sign transactions");
  auto creds = core::read_credentials_file(o.signer_key_file);
  if (!creds) return core::invalid("--signer-key-file: " + creds.error().message);
  if (!o.signer_account_id.empty() && o.signer_account_id != creds->account_id)
    return core::invalid("--signer-key-file is for account " + creds->account_id + ", but --signer-account-id is " +
                         o.signer_account_id);
  return SignerInputs{std::move(*creds)};
}

int report_tx(const core::Result<near::TxOutcome>& out, const std::string& what) {
  if (!out) return fail(out.error().context(what));
  std::cout << what << ": transaction " << out->tx_hash << " succeeded\n";
  return kExitOk;
}

// ---- commands ----

int cmd_generate_keys(const Options& o) {
  backup::BackupHome home(o.home_dir);
  auto out = home.generate_secrets(o.force);
  if (!out) {
    if (out.error().code == core::ErrorCode::kAlreadyExists)
      return fail(core::Error{out.error().code, out.error().message +
                                                    " (existing keys are never overwritten; --force keeps a timestamped copy and "
                                                    "generates new ones — the old backup service registration then stops working)"},
                  kExitOther);
    return fail(out.error(), kExitOther);
  }
  if (out->previous_copy) std::cout << "previous secrets kept in " << out->previous_copy->string() << "\n";
  std::cout << "generated new keys in " << home.secrets_file().string() << " (0600)\n"
            << "p2p public key:    " << core::ed25519_public_key_to_string(out->secrets.p2p_private_key.public_key()) << "\n"
            << "signer public key: " << core::ed25519_public_key_to_string(out->secrets.near_signer_key.public_key()) << "\n";
  return kExitOk;
}

core::Result<backup::Secrets> load_secrets(const Options& o) {
  backup::BackupHome home(o.home_dir);
  auto s = home.load_secrets();
  if (!s && s.error().code == core::ErrorCode::kNotFound)
    return core::fail(core::ErrorCode::kNotFound, s.error().message + " (run `backup-cli generate-keys` first)");
  return s;
}

int cmd_register(const Options& o) {
  if (o.contract_id.empty() || !core::is_valid_account_id(o.contract_id))
    return usage("--mpc-contract-account-id must be a valid NEAR account id");
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  const std::string key = core::ed25519_public_key_to_string(secrets->p2p_private_key.public_key());
  const json args = {{"backup_service_info", {{"public_key", key}}}};
  if (o.rpc_url.empty()) {
    if (o.signer_account_id.empty() || !core::is_valid_account_id(o.signer_account_id))
      return usage("--signer-account-id must be a valid NEAR account id");
    if (o.near_network.empty()) return usage("--near-network is required to print the NEAR CLI command (or give --rpc-url to submit)");
    std::cout << "Run the following command to register your backup service:\n\n"
              << "near contract call-function as-transaction \\\n  " << o.contract_id << " \\\n  register_backup_service \\\n"
              << "  json-args '" << args.dump() << "' \\\n  prepaid-gas '300.0 Tgas' \\\n  attached-deposit '1 yoctoNEAR' \\\n"
              << "  sign-as " << o.signer_account_id << " \\\n  network-config " << o.near_network
              << " \\\n  sign-with-keychain \\\n  send\n";
    return kExitOk;
  }
  auto signer_in = signer_inputs(o);
  if (!signer_in) return fail(signer_in.error(), kExitUsage);
  auto rpc = rpc_client(o);
  if (!rpc) return fail(rpc.error(), kExitUsage);
  step("registering backup service key " + key + " for " + signer_in->creds.account_id);
  near::Signer signer(**rpc, signer_in->creds.account_id, std::move(signer_in->creds.secret_key));
  return report_tx(signer.call(o.contract_id, "register_backup_service", args, 1), "register_backup_service");
}

int cmd_get_keyshares(const Options& o) {
  auto in = node_inputs(o);
  if (!in) return fail(in.error(), kExitUsage);
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  auto keyset = keyset_from(o, std::pair(in->config.node_key, secrets->p2p_private_key.public_key()));
  if (!keyset) return fail(keyset.error());
  backup::BackupStore store(o.home_dir, secrets->local_storage_aes_key.clone());
  // Refuse early (before fetching secrets over the network) when the stored backup is newer.
  if (auto newest = store.load_newest(); newest && *newest && (*newest)->epoch_id > keyset->epoch_id)
    return fail(core::Error{core::ErrorCode::kFailedPrecondition,
                            "the stored backup is for epoch " + std::to_string((*newest)->epoch_id) + ", newer than the keyset's epoch " +
                                std::to_string(keyset->epoch_id) + ": refusing to replace it with an older one"});
  step("fetching key shares of epoch " + std::to_string(keyset->epoch_id) + " (" + std::to_string(keyset->domains.size()) +
       " domain(s)) from " + in->config.address.to_string());
  backup::NodeClient client(in->config, secrets->p2p_private_key, in->encryption_key);
  auto shares = client.get_keyshares(*keyset);
  if (!shares) return fail(shares.error());
  auto outcome = store.store(*shares);
  if (!outcome) return fail(outcome.error());
  std::cout << (*outcome == backup::StoreOutcome::kStored ? "stored" : "already stored") << " backup of epoch "
            << keyset->epoch_id << " with " << shares->size() << " domain(s) in "
            << (store.home().permanent_keys_dir() / backup::BackupStore::file_name(keyset->epoch_id, shares->size())).string()
            << "\n";
  return kExitOk;
}

int cmd_put_keyshares(const Options& o) {
  // With the chain (--rpc-url and --mpc-contract-account-id), the contract
  // names the destination: its TLS key, and its host with
  // --destination-migration-port, unless --mpc-node-address says otherwise.
  const bool with_chain = chain_given(o);
  auto in = node_inputs(o, with_chain);
  if (!in) return fail(in.error(), kExitUsage);
  std::unique_ptr<near::RpcClient> rpc;
  if (with_chain) {
    if (auto st = require_contract(o); !st) return fail(st.error(), kExitUsage);
    if (auto st = check_migration_port(o); !st) return fail(st.error(), kExitUsage);
    if (!o.signer_account_id.empty() && !core::is_valid_account_id(o.signer_account_id))
      return usage("--signer-account-id: '" + o.signer_account_id + "' is not a valid NEAR account id");
    if (o.signer_account_id.empty() && o.node_p2p_key.empty())
      return usage("put-keyshares with the chain needs --signer-account-id (the operator's account) or --mpc-node-p2p-key "
                   "(the destination's TLS key) to find the migration");
    auto client = rpc_client(o);
    if (!client) return fail(client.error(), kExitUsage);
    rpc = std::move(*client);
  }
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  backup::BackupStore store(o.home_dir, secrets->local_storage_aes_key.clone());
  auto newest = store.load_newest();
  if (!newest) return fail(newest.error());
  if (!*newest || (*newest)->keyshares.empty())
    return fail(core::Error{core::ErrorCode::kFailedPrecondition,
                            "no backup stored in " + store.home().permanent_keys_dir().string() +
                                ": run `backup-cli get-keyshares` against a node that holds the shares first"});
  if (with_chain) {
    auto view = read_chain(*rpc, o.contract_id, true);
    if (!view) return fail(view.error());
    const std::optional<std::string> account =
        o.signer_account_id.empty() ? std::nullopt : std::optional<std::string>(o.signer_account_id);
    const std::optional<core::Ed25519PublicKey> key =
        o.node_p2p_key.empty() ? std::nullopt : std::optional<core::Ed25519PublicKey>(in->config.node_key);
    auto target = backup::find_migration_target(view->state, view->migrations, account, key);
    if (!target) return fail(target.error());
    const auto& dest = target->destination.destination_node_info;
    in->config.node_key = dest.tls_public_key;
    if (o.node_address.empty()) {
      auto address = backup::migration_address(dest.url, static_cast<std::uint16_t>(o.destination_migration_port));
      if (!address) return fail(address.error().context("the migration's destination url"), kExitValidation);
      in->config.address = *address;
    }
    if (auto keyset = core::keyset_to_back_up(view->state)) {
      auto coverage = backup::backup_coverage(**newest, *keyset);
      if (!coverage.up_to_date())
        return fail(core::Error{core::ErrorCode::kFailedPrecondition,
                                "the stored backup does not cover the contract's keyset: " + coverage.summary +
                                    "; the new node could not conclude the migration"});
    }
    step("the contract's migration of " + target->account_id + " goes to TLS key " +
         core::ed25519_public_key_to_string(dest.tls_public_key) + " at " + in->config.address.to_string());
  }
  step("sending the backup of epoch " + std::to_string((*newest)->epoch_id) + " (" + std::to_string((*newest)->keyshares.size()) +
       " domain(s)) to " + in->config.address.to_string());
  backup::NodeClient client(in->config, secrets->p2p_private_key, in->encryption_key);
  if (auto st = client.put_keyshares((*newest)->keyshares); !st) return fail(st.error());
  std::cout << "the node accepted and stored the key shares of epoch " << (*newest)->epoch_id << "\n";
  return kExitOk;
}

int cmd_start_migration(const Options& o) {
  if (auto st = require_contract(o); !st) return fail(st.error(), kExitUsage);
  auto tls = core::parse_ed25519_public_key(o.destination_tls_key);
  if (!tls) return usage("--destination-tls-key: expected ed25519:<base58 of 32 bytes>: " + tls.error().message);
  auto access = core::parse_ed25519_public_key(o.destination_access_key);
  if (!access) return usage("--destination-access-key: expected ed25519:<base58 of 32 bytes>: " + access.error().message);
  if (o.destination_url.rfind("https://", 0) != 0 && o.destination_url.rfind("http://", 0) != 0)
    return usage("--destination-url: expected https://host:port (the new node's participant URL)");
  auto signer_in = signer_inputs(o);
  if (!signer_in) return fail(signer_in.error(), kExitUsage);
  auto rpc = rpc_client(o);
  if (!rpc) return fail(rpc.error(), kExitUsage);
  core::DestinationNodeInfo dest{*access, {o.destination_url, *tls}};
  step("starting the migration of " + signer_in->creds.account_id + " to " + o.destination_url);
  near::Signer signer(**rpc, signer_in->creds.account_id, std::move(signer_in->creds.secret_key));
  return report_tx(signer.call(o.contract_id, "start_node_migration", {{"destination_node_info", core::to_json(dest)}}, 1),
                   "start_node_migration");
}

int cmd_cancel_migration(const Options& o) {
  if (auto st = require_contract(o); !st) return fail(st.error(), kExitUsage);
  auto signer_in = signer_inputs(o);
  if (!signer_in) return fail(signer_in.error(), kExitUsage);
  auto rpc = rpc_client(o);
  if (!rpc) return fail(rpc.error(), kExitUsage);
  step("cancelling the migration of " + signer_in->creds.account_id);
  near::Signer signer(**rpc, signer_in->creds.account_id, std::move(signer_in->creds.secret_key));
  return report_tx(signer.call(o.contract_id, "cancel_node_migration", json::object(), 1), "cancel_node_migration");
}

int cmd_status(const Options& o) {
  if (auto st = require_contract(o); !st) return fail(st.error(), kExitUsage);
  if (o.signer_account_id.empty() || !core::is_valid_account_id(o.signer_account_id))
    return usage("--signer-account-id (the operator's account) must be a valid NEAR account id");
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  auto rpc = rpc_client(o);
  if (!rpc) return fail(rpc.error(), kExitUsage);
  auto view = read_chain(**rpc, o.contract_id, true);
  if (!view) return fail(view.error());
  backup::BackupStore store(o.home_dir, secrets->local_storage_aes_key.clone());
  auto newest = store.load_newest();
  if (!newest) return fail(newest.error());
  auto report = backup::build_status_report(view->state, view->migrations, o.signer_account_id,
                                            secrets->p2p_private_key.public_key(), *newest);
  std::cout << "account:         " << o.signer_account_id << " on " << o.contract_id << "\n";
  for (const auto& line : report.lines) std::cout << line << "\n";
  return kExitOk;
}

int cmd_verify(const Options& o) {
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  backup::BackupStore store(o.home_dir, secrets->local_storage_aes_key.clone());
  auto newest = store.load_newest();
  if (!newest) return fail(newest.error());
  auto keyset = keyset_from(o);
  if (!keyset) return fail(keyset.error());
  auto coverage = backup::backup_coverage(*newest, *keyset);
  if (!coverage.up_to_date())
    return fail(core::Error{core::ErrorCode::kFailedPrecondition,
                            "the backup would NOT restore the keyset of epoch " + std::to_string(keyset->epoch_id) + ": " +
                                coverage.summary});
  std::cout << "ok: the backup " << (*newest)->path.filename().string() << " decrypts and restores the keyset of epoch "
            << keyset->epoch_id << " (" << keyset->domains.size() << " domain(s))\n";
  return kExitOk;
}


// `run`: the long-running backup service (see backup/daemon.h).
int cmd_run(const Options& o) {
  auto in = node_inputs(o);
  if (!in) return fail(in.error(), kExitUsage);
  if (auto st = require_contract(o); !st) return fail(st.error(), kExitUsage);
  if (!o.signer_account_id.empty() && !core::is_valid_account_id(o.signer_account_id))
    return usage("--signer-account-id: '" + o.signer_account_id + "' is not a valid NEAR account id");
  if (auto st = check_migration_port(o); !st) return fail(st.error(), kExitUsage);
  if (o.poll_interval_seconds < 1) return usage("--poll-interval-seconds must be at least 1");
  std::optional<boost::asio::ip::tcp::endpoint> metrics_ep;
  if (!o.metrics_addr.empty()) {
    auto ep = net::parse_listen_address(o.metrics_addr);
    if (!ep) return usage("--metrics-addr: " + ep.error().message);
    metrics_ep = *ep;
  }
  auto rpc = rpc_client(o);
  if (!rpc) return fail(rpc.error(), kExitUsage);
  // Fatal conditions (exit non-zero so a supervisor restarts us): secrets
  // missing or unreadable, home unusable.
  auto secrets = load_secrets(o);
  if (!secrets) return fail(secrets.error(), kExitOther);
  backup::BackupStore disk_store(o.home_dir, secrets->local_storage_aes_key.clone());
  backup::MemoryBackupStore memory_store;
  if (!o.memory_only) {
    if (auto newest = disk_store.load_newest(); !newest) return fail(newest.error(), kExitOther);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  net::MetricsRegistry metrics;
  boost::asio::io_context ioc;
  std::shared_ptr<net::HttpServer> metrics_server;
  std::thread io_thread;
  if (metrics_ep) {
    net::HttpServerOptions hopts;
    hopts.max_connections = 32;
    hopts.body_limit = 4096;
    metrics_server = std::make_shared<net::HttpServer>(ioc, hopts, net::metrics_handler(metrics));
    auto bound = metrics_server->listen(*metrics_ep);
    if (!bound) return fail(bound.error(), kExitOther);
    std::cerr << "backup-cli: metrics on http://" << bound->address().to_string() << ":" << bound->port() << "/metrics\n";
  }
  auto work = boost::asio::make_work_guard(ioc);
  io_thread = std::thread([&ioc] { net::run_io_context(ioc, "backup-cli"); });

  const std::string contract_id = o.contract_id;
  near::RpcClient& rpc_ref = **rpc;
  const core::Ed25519SecretKey& own_key = secrets->p2p_private_key;
  const core::SecretBytes& aes = in->encryption_key;
  const auto timeout = in->config.timeout;
  backup::DaemonPorts ports;
  ports.read_chain = [&rpc_ref, contract_id]() -> core::Result<backup::ChainState> {
    MPC_ASSIGN(auto state_json, rpc_ref.view(contract_id, "state"));
    MPC_ASSIGN(auto migrations_json, rpc_ref.view(contract_id, "migration_info"));
    backup::ChainState c;
    {
      MPC_ASSIGN(c.state, core::parse_protocol_state(state_json));
    }
    {
      MPC_ASSIGN(c.migrations, core::parse_migration_info(migrations_json));
    }
    return c;
  };
  if (o.memory_only) {
    ports.load_newest = [&memory_store] { return memory_store.load_newest(); };
    ports.store = [&memory_store](const std::vector<core::Keyshare>& s) { return memory_store.store(s); };
  } else {
    ports.load_newest = [&disk_store] { return disk_store.load_newest(); };
    ports.store = [&disk_store](const std::vector<core::Keyshare>& s) -> core::Status {
      MPC_TRY(disk_store.store(s));
      return {};
    };
  }
  ports.fetch = [&own_key, &aes, timeout](const backup::NodeTarget& t, const core::Keyset& keyset) {
    backup::NodeClient client({t.address, t.key, timeout}, own_key, aes);
    return client.get_keyshares(keyset);
  };
  ports.push = [&own_key, &aes, timeout](const backup::NodeTarget& t, const std::vector<core::Keyshare>& shares) {
    backup::NodeClient client({t.address, t.key, timeout}, own_key, aes);
    return client.put_keyshares(shares);
  };
  backup::DaemonOptions dopts;
  dopts.account_id = o.signer_account_id;
  dopts.initial_node = backup::NodeTarget{in->config.address, in->config.node_key};
  dopts.migration_port = static_cast<std::uint16_t>(o.destination_migration_port);
  dopts.poll_interval = std::chrono::seconds(o.poll_interval_seconds);
  dopts.max_backoff = std::chrono::seconds(std::max(1, o.poll_interval_seconds));
  backup::BackupDaemon daemon(dopts, std::move(ports), metrics);

  std::thread signal_thread([&signals, &daemon] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received {}, stopping after the current step", sig == SIGINT ? "SIGINT" : "SIGTERM");
    daemon.stop();
  });
  spdlog::info("backing up {}node {} (TLS key {}; contract {} at {}, poll every {} s, destinations on port {}{})",
               o.signer_account_id.empty() ? std::string() : o.signer_account_id + "'s ", in->config.address.to_string(),
               core::ed25519_public_key_to_string(in->config.node_key), contract_id, rpc_ref.endpoint(), o.poll_interval_seconds,
               o.destination_migration_port, o.memory_only ? ", memory only" : "");
  daemon.run();
  // The signal thread is waiting in sigwait only if run() ended otherwise (it does not).
  signal_thread.join();
  if (metrics_server) metrics_server->stop();
  work.reset();
  ioc.stop();
  io_thread.join();
  spdlog::info("stopped");
  return kExitOk;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"backup-cli: back up an MPC node's key shares and migrate the node"};
  mpc::apps::add_version_flag(app, "backup-cli");
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "Log lines as text or json (one JSON object per line)")
      ->envname("BACKUP_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  Options o;
  app.add_option("--home-dir", o.home_dir, "Home directory for the backup service's secrets and backups")
      ->envname("BACKUP_HOME_DIR")
      ->required();

  auto add_node = [&](CLI::App* cmd, bool required) {
    auto* address = cmd->add_option("--mpc-node-address", o.node_address,
                                    "The MPC node's migration endpoint, host:port (its own port, 8079 by convention; not the P2P url)")
                        ->envname("MPC_NODE_ADDRESS");
    auto* key = cmd->add_option("--mpc-node-p2p-key", o.node_p2p_key, "The MPC node's P2P (TLS) public key, ed25519:<base58>")
                    ->envname("MPC_NODE_P2P_KEY");
    if (required) {
      address->required();
      key->required();
    }
    // Secret: no default shown, no validator that could echo it.
    cmd->add_option("--backup-encryption-key-hex", o.encryption_key_hex,
                    "The operator's AES-256 key, 64 hex characters (prefer the environment variable)")
        ->envname("BACKUP_ENCRYPTION_KEY_HEX")
        ->required();
    cmd->add_option("--request-timeout-seconds", o.request_timeout_seconds, "Deadline of each network request (>= 1)")
        ->envname("REQUEST_TIMEOUT_SECONDS")
        ->capture_default_str();
  };
  auto add_chain = [&](CLI::App* cmd, bool required) {
    auto* rpc = cmd->add_option("--rpc-url", o.rpc_url, "NEAR JSON-RPC endpoint (may carry an API key; never printed)")
                    ->envname("BACKUP_RPC_URL");
    if (required) rpc->required();
    cmd->add_option("--mpc-contract-account-id", o.contract_id, "The MPC contract account")->envname("MPC_CONTRACT_ACCOUNT_ID");
  };
  auto add_signer = [&](CLI::App* cmd) {
    cmd->add_option("--signer-account-id", o.signer_account_id, "The operator's NEAR account")->envname("SIGNER_ACCOUNT_ID");
    cmd->add_option("--signer-key-file", o.signer_key_file, "near-cli credential file of the operator's full-access key")
        ->envname("SIGNER_KEY_FILE");
  };

  auto* gen = app.add_subcommand("generate-keys", "Generate the backup service's keys into HOME/secrets.json (refuses to overwrite)");
  gen->add_flag("--force", o.force, "Replace existing keys, keeping a timestamped copy of the old secrets.json");

  auto* reg = app.add_subcommand(
      "register", "Print the NEAR CLI command that registers this backup service, or submit it with --rpc-url and --signer-key-file");
  add_chain(reg, false);
  reg->add_option("--near-network", o.near_network, "NEAR CLI network config name (for the printed command)")->envname("NEAR_NETWORK");
  add_signer(reg);

  auto* get = app.add_subcommand("get-keyshares", "Fetch the node's key shares for the contract's keyset, check them, store them");
  add_node(get, true);
  add_chain(get, false);
  get->add_option("--contract-state-file", o.contract_state_file, "Contract state JSON to take the keyset from (default HOME/contract_state.json)");

  auto* put = app.add_subcommand(
      "put-keyshares",
      "Send the newest backup to a node (the destination of a migration). With --rpc-url and --mpc-contract-account-id "
      "the contract names the destination (found by --signer-account-id or --mpc-node-p2p-key)");
  add_node(put, false);
  add_chain(put, false);
  add_signer(put);
  auto add_migration_port = [&](CLI::App* cmd) {
    cmd->add_option("--destination-migration-port", o.destination_migration_port,
                    "Port of the migration endpoint on the host of a url the contract names (a migration's destination, "
                    "the account's moved node); --mpc-node-address overrides it for put-keyshares")
        ->envname("DESTINATION_MIGRATION_PORT")
        ->capture_default_str();
  };
  add_migration_port(put);

  auto* start = app.add_subcommand("start-migration", "Start migrating the operator's node to a new node (start_node_migration)");
  add_chain(start, true);
  add_signer(start);
  start->add_option("--destination-url", o.destination_url, "The new node's participant URL, https://host:port")->required();
  start->add_option("--destination-tls-key", o.destination_tls_key, "The new node's TLS (P2P) public key")->required();
  start->add_option("--destination-access-key", o.destination_access_key,
                    "The new node's NEAR access public key (it signs conclude_node_migration)")
      ->required();

  auto* cancel = app.add_subcommand("cancel-migration", "Cancel the operator's ongoing migration (cancel_node_migration)");
  add_chain(cancel, true);
  add_signer(cancel);

  auto* status = app.add_subcommand("status", "Summarise the contract's view of the operator's account and the local backup");
  add_chain(status, true);
  add_signer(status);

  auto* verify = app.add_subcommand("verify", "Decrypt the newest backup and check it restores the keyset (chain or file)");
  add_chain(verify, false);
  verify->add_option("--contract-state-file", o.contract_state_file, "Contract state JSON (default HOME/contract_state.json)");

  auto* run = app.add_subcommand("run", "Run the backup service: back up every new keyset and restore migrating nodes, unattended");
  add_node(run, true);
  add_chain(run, true);
  run->add_option("--signer-account-id", o.signer_account_id,
                  "The operator's NEAR account (default: the participant whose TLS key is --mpc-node-p2p-key)")
      ->envname("SIGNER_ACCOUNT_ID");
  add_migration_port(run);
  run->add_option("--poll-interval-seconds", o.poll_interval_seconds, "How often to read the contract (>= 1)")
      ->envname("POLL_INTERVAL_SECONDS")
      ->capture_default_str();
  run->add_option("--near-chain-id", o.near_chain_id, "NEAR chain id (accepted for compatibility; the RPC endpoint decides)")
      ->envname("NEAR_CHAIN_ID");
  run->add_option("--metrics-addr", o.metrics_addr, "HOST:PORT for /metrics and /health (plain HTTP)")->envname("BACKUP_METRICS_ADDR");
  run->add_flag("--memory-only", o.memory_only, "Hold shares in memory only, never on disk (TEE mode); fetched again after a restart");

  app.footer(kExitCodesHelp);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  core::setup_logging("backup-cli", *core::parse_log_format(log_format, "--log-format"));
  if (o.home_dir.empty()) return usage("--home-dir must not be empty");
  // The AES key was copied into the options: scrub the environment's copy.
  if (char* env_key = std::getenv("BACKUP_ENCRYPTION_KEY_HEX")) {
    core::secure_wipe(env_key, std::strlen(env_key));
    ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
  }
  struct WipeOnExit {
    std::string& s;
    ~WipeOnExit() { core::secure_wipe(s.data(), s.size()); }
  } wipe_key{o.encryption_key_hex};

  if (gen->parsed()) return cmd_generate_keys(o);
  if (reg->parsed()) return cmd_register(o);
  if (get->parsed()) return cmd_get_keyshares(o);
  if (put->parsed()) return cmd_put_keyshares(o);
  if (start->parsed()) return cmd_start_migration(o);
  if (cancel->parsed()) return cmd_cancel_migration(o);
  if (status->parsed()) return cmd_status(o);
  if (verify->parsed()) return cmd_verify(o);
  if (run->parsed()) return cmd_run(o);
  return kExitUsage;
}
