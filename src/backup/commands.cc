#include "backup/commands.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "backup/chain_checks.h"
#include "backup/service.h"
#include "backup/tee.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "core/near_key.h"
#include "near/contract_view.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace mpc::backup {

namespace {

using json = nlohmann::json;
using Kind = CommandError::Kind;

std::unexpected<CommandError> usage(core::Error e) { return std::unexpected(CommandError{Kind::kUsage, std::move(e)}); }
std::unexpected<CommandError> usage(std::string message) { return usage(core::Error{core::ErrorCode::kInvalidArgument, std::move(message)}); }
std::unexpected<CommandError> other(core::Error e) { return std::unexpected(CommandError{Kind::kOther, std::move(e)}); }
std::unexpected<CommandError> failed(core::Error e) { return std::unexpected(CommandError{Kind::kClassified, std::move(e)}); }

// ---- operator inputs, all checked before any traffic (usage errors) ----

core::Result<NodeTarget> node_target(const CommandOptions& o) {
  auto address = net::HostPort::parse(o.node_address);
  if (!address) return core::invalid("--mpc-node-address: " + address.error().message);
  auto key = core::parse_ed25519_public_key(o.node_p2p_key);
  if (!key) return core::invalid("--mpc-node-p2p-key: expected ed25519:<base58 of 32 bytes>: " + key.error().message);
  return NodeTarget{*address, *key};
}

core::Result<std::unique_ptr<near::RpcClient>> rpc_client(const CommandOptions& o) {
  auto rpc = near::RpcClient::create(o.rpc_url, near::RpcClientOptions{std::chrono::seconds(o.request_timeout_seconds)});
  if (!rpc) return core::invalid("--rpc-url: " + rpc.error().message);
  return rpc;
}

// The contract state the operator gave as a file (default
// HOME/contract_state.json, as the reference reads it).
core::Result<model::ProtocolState> state_from_file(const CommandOptions& o) {
  const std::filesystem::path file = o.contract_state_file.empty() ? std::filesystem::path(o.home_dir) / "contract_state.json"
                                                                   : std::filesystem::path(o.contract_state_file);
  auto text = core::read_file(file, 64 << 20);
  if (!text)
    return core::invalid("cannot read the contract state from " + file.string() + ": " + text.error().message +
                         " (give --contract-state-file, or --rpc-url with --mpc-contract-account-id)");
  json j = core::parse_json(*text, {64 << 20, 64}).value_or(json::value_t::discarded);
  if (j.is_discarded()) return core::invalid(file.string() + " is not JSON (expected the contract's `state` view)");
  auto s = model::parse_protocol_state(j);
  if (!s) return std::unexpected(s.error().context(file.string() + " is not a contract state"));
  return s;
}

core::Result<Secrets> load_secrets(const CommandOptions& o) {
  auto s = BackupHome(o.home_dir).load_secrets();
  if (!s && s.error().code == core::ErrorCode::kNotFound)
    return core::fail(core::ErrorCode::kNotFound, s.error().message + " (run `backup-cli generate-keys` first)");
  return s;
}

// The real ports: the chain over RPC (when given), the node over mTLS.
OperatorPorts real_ports(const CommandOptions& o, near::RpcClient* rpc, const core::Ed25519SecretKey& own,
                         const core::SecretBytes& aes) {
  OperatorPorts ports;
  if (rpc) {
    ports.read_chain = [rpc, id = o.contract_id, progress = o.progress] {
      progress("reading the contract state of " + id + " from " + rpc->endpoint());
      return near::read_contract_view(*rpc, id);
    };
  }
  const auto timeout = std::chrono::seconds(o.request_timeout_seconds);
  ports.fetch = [&own, &aes, timeout](const NodeTarget& t, const model::Keyset& ks) {
    return NodeClient({t.address, t.key, timeout}, own, aes).get_keyshares(ks);
  };
  ports.push = [&own, &aes, timeout](const NodeTarget& t, const std::vector<model::Keyshare>& shares) {
    return NodeClient({t.address, t.key, timeout}, own, aes).put_keyshares(shares);
  };
  ports.progress = o.progress;
  return ports;
}

// register, start-migration, cancel-migration: one signed function call.
CommandResult send_tx(const CommandOptions& o, const std::string& method, const json& args, const std::string& what) {
  if (o.signer_key_file.empty()) return usage("--signer-key-file is required to sign transactions");
  auto creds = core::read_credentials_file(o.signer_key_file);
  if (!creds) return usage("--signer-key-file: " + creds.error().message);
  if (!o.signer_account_id.empty() && o.signer_account_id != creds->account_id)
    return usage("--signer-key-file is for account " + creds->account_id + ", but --signer-account-id is " + o.signer_account_id);
  auto rpc = rpc_client(o);
  if (!rpc) return usage(rpc.error());
  o.progress(what + " for " + creds->account_id);
  near::Signer signer(**rpc, creds->account_id, std::move(creds->secret_key));
  auto out = signer.call(o.contract_id, method, args, 1);
  if (!out) return failed(out.error().context(method));
  return method + ": transaction " + out->tx_hash + " succeeded\n";
}

// get-keyshares, put-keyshares, verify, status, run: the home, the keys and the chain.
struct Session {
  std::optional<Secrets> secrets;
  core::SecretBytes aes;
  std::unique_ptr<near::RpcClient> rpc;  // null without the chain
};
std::optional<CommandError> open_session(const CommandOptions& o, bool with_node, Session& s) {
  if (with_node) {
    auto aes = core::parse_aes256_key_hex(o.encryption_key_hex, "--backup-encryption-key-hex (BACKUP_ENCRYPTION_KEY_HEX)");
    if (!aes) return CommandError{Kind::kUsage, aes.error()};
    s.aes = std::move(*aes);
  }
  if (o.chain_given()) {
    auto rpc = rpc_client(o);
    if (!rpc) return CommandError{Kind::kUsage, rpc.error()};
    s.rpc = std::move(*rpc);
  }
  auto secrets = load_secrets(o);
  if (!secrets) return CommandError{Kind::kOther, secrets.error()};
  s.secrets.emplace(std::move(*secrets));
  return std::nullopt;
}

}  // namespace

core::Status check_common_options(const CommandOptions& o, bool need_contract) {
  if (o.home_dir.empty()) return core::invalid("--home-dir must not be empty");
  if (o.request_timeout_seconds < 1) return core::invalid("--request-timeout-seconds must be at least 1");
  if (o.destination_migration_port < 1 || o.destination_migration_port > 65535)
    return core::invalid("--destination-migration-port must be a TCP port (1..65535)");
  if ((need_contract || !o.contract_id.empty()) && !core::is_valid_account_id(o.contract_id))
    return core::invalid("--mpc-contract-account-id: '" + o.contract_id + "' is not a valid NEAR account id");
  if (!o.signer_account_id.empty() && !core::is_valid_account_id(o.signer_account_id))
    return core::invalid("--signer-account-id: '" + o.signer_account_id + "' is not a valid NEAR account id");
  return {};
}

CommandResult generate_keys_command(const CommandOptions& o) {
  BackupHome home(o.home_dir);
  auto out = home.generate_secrets(o.force);
  if (!out && out.error().code == core::ErrorCode::kAlreadyExists)
    return other(core::Error{out.error().code, out.error().message +
                                                   " (existing keys are never overwritten; --force keeps a timestamped copy and "
                                                   "generates new ones — the old backup service registration then stops working)"});
  if (!out) return other(out.error());
  std::ostringstream text;
  if (out->previous_copy) text << "previous secrets kept in " << out->previous_copy->string() << "\n";
  text << "generated new keys in " << home.secrets_file().string() << " (0600)\n"
       << "p2p public key:    " << core::ed25519_public_key_to_string(out->secrets.p2p_private_key.public_key()) << "\n"
       << "signer public key: " << core::ed25519_public_key_to_string(out->secrets.near_signer_key.public_key()) << "\n";
  return text.str();
}

CommandResult register_command(const CommandOptions& o) {
  auto secrets = load_secrets(o);
  if (!secrets) return other(secrets.error());
  const json args = register_args(secrets->p2p_private_key.public_key());
  if (!o.rpc_url.empty()) return send_tx(o, "register_backup_service", args, "registering this backup service's key");
  if (o.signer_account_id.empty()) return usage("--signer-account-id must be a valid NEAR account id");
  if (o.near_network.empty()) return usage("--near-network is required to print the NEAR CLI command (or give --rpc-url to submit)");
  return "Run the following command to register your backup service:\n\n" +
         near_cli_register_command(o.contract_id, args, o.signer_account_id, o.near_network);
}

CommandResult get_keyshares_command(const CommandOptions& o) {
  auto node = node_target(o);
  if (!node) return usage(node.error());
  Session s;
  if (auto e = open_session(o, true, s)) return std::unexpected(*e);
  std::optional<model::ProtocolState> file;
  if (!s.rpc) {
    auto state = state_from_file(o);
    if (!state) return usage(state.error());
    file = std::move(*state);
  }
  BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = get_keyshares(*node, s.secrets->p2p_private_key.public_key(), file, store,
                           real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes));
  if (!out) return failed(out.error());
  return std::string(out->outcome == StoreOutcome::kStored ? "stored" : "already stored") + " backup of epoch " +
         std::to_string(out->keyset.epoch_id) + " with " + std::to_string(out->keyset.domains.size()) + " domain(s) in " +
         out->file.string() + "\n";
}

CommandResult put_keyshares_command(const CommandOptions& o) {
  RestoreRequest request;
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
  if (auto e = open_session(o, true, s)) return std::unexpected(*e);
  BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = put_keyshares(request, store, real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes));
  if (!out) return failed(out.error());
  return "the node accepted and stored the key shares of epoch " + std::to_string(out->epoch_id) + "\n";
}

CommandResult start_migration_command(const CommandOptions& o) {
  auto args = start_migration_args(o.destination_url, o.destination_tls_key, o.destination_access_key);
  if (!args) return usage(args.error());
  return send_tx(o, "start_node_migration", *args, "starting the migration to " + o.destination_url);
}

CommandResult cancel_migration_command(const CommandOptions& o) {
  return send_tx(o, "cancel_node_migration", json::object(), "cancelling the migration");
}

CommandResult verify_command(const CommandOptions& o) {
  Session s;
  if (auto e = open_session(o, false, s)) return std::unexpected(*e);
  model::ProtocolState state;
  if (s.rpc) {
    auto view = real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes).read_chain();
    if (!view) return failed(view.error());
    state = std::move(view->state);
  } else {
    auto file = state_from_file(o);
    if (!file) return usage(file.error());
    state = std::move(*file);
  }
  BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto out = verify_backup(state, store);
  if (!out) return failed(out.error());
  return *out + "\n";
}

CommandResult status_command(const CommandOptions& o) {
  if (o.signer_account_id.empty()) return usage("--signer-account-id (the operator's account) must be a valid NEAR account id");
  Session s;
  if (auto e = open_session(o, false, s)) return std::unexpected(*e);
  auto view = real_ports(o, s.rpc.get(), s.secrets->p2p_private_key, s.aes).read_chain();
  if (!view) return failed(view.error());
  BackupStore store(o.home_dir, s.secrets->local_storage_aes_key.clone());
  auto newest = store.load_newest();
  if (!newest) return failed(newest.error());
  auto report = build_status_report(view->state, view->migrations, o.signer_account_id, s.secrets->p2p_private_key.public_key(), *newest);
  std::string text = "account:         " + o.signer_account_id + " on " + o.contract_id + "\n";
  for (const auto& line : report.lines) text += line + "\n";
  return text;
}

CommandResult provision_key_command(const CommandOptions& o) {
  if (o.request_timeout_seconds < 1) return usage("--request-timeout-seconds must be at least 1");
  ProvisionRequest request;
  request.service_url = o.backup_service_url;
  auto url = net::Url::parse(o.backup_service_url);
  if (!url || url->scheme != "http")
    return usage("--backup-service-url: expected http://HOST:PORT of `backup-cli run --tee`'s provisioning endpoint, got '" +
                 o.backup_service_url + "'");
  request.timeout = std::chrono::seconds(o.request_timeout_seconds);
  if (!o.expected_tls_key.empty()) {
    auto k = core::parse_ed25519_public_key(o.expected_tls_key);
    if (!k) return usage("--expected-tls-key: expected ed25519:<base58 of 32 bytes>: " + k.error().message);
    request.expected_tls_key = *k;
  }
  if (!o.expected_signer_key.empty()) {
    auto k = core::parse_ed25519_public_key(o.expected_signer_key);
    if (!k) return usage("--expected-signer-key: expected ed25519:<base58 of 32 bytes>: " + k.error().message);
    request.expected_signer_key = *k;
  }
  std::optional<attest::AllowedSet> allowed;
  if (!o.allowed_measurements_file.empty()) {
    auto text = core::read_file(o.allowed_measurements_file, 4 << 20);
    if (!text) return usage("--allowed-measurements: " + text.error().message);
    auto parsed = attest::parse_allowed_set(*text);
    if (!parsed) return usage("--allowed-measurements " + o.allowed_measurements_file + ": " + parsed.error().message);
    allowed = std::move(*parsed);
    request.policy.allowed = &*allowed;
  }
  request.policy.allow_mock = o.allow_mock_attestation;
  request.policy.now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto aes = core::parse_aes256_key_hex(o.encryption_key_hex, "BACKUP_ENCRYPTION_KEY_HEX");
  if (!aes) return usage(aes.error());
  o.progress("checking the attestation of the backup service at " + o.backup_service_url);
  auto out = provision_key(request, *aes);
  if (!out) return failed(out.error().context("provision-key"));
  return *out;
}

namespace {

CommandResult run_tee_command(const CommandOptions& o, ServiceConfig config, const std::function<void()>& wait_for_stop) {
  if (o.signer_account_id.empty())
    return usage("--tee needs --signer-account-id (SIGNER_ACCOUNT_ID): the operator's account the service registers for");
  if (o.reattest_interval_hours < 1 || o.reattest_interval_hours > 167)
    return usage("--reattest-interval-hours must be 1..167 (the contract's attestations expire after 7 days)");
  TeeServiceConfig tee;
  tee.reattest_interval = std::chrono::hours(o.reattest_interval_hours);
  auto ep = net::parse_listen_address(o.provision_addr);
  if (!ep) return usage("--provision-addr: " + ep.error().message);
  tee.provision_addr = *ep;
  if (o.mock_attestation) {
    if (!o.dstack_socket.empty() || !o.pccs_url.empty()) return usage("--mock-attestation excludes --dstack-socket and --pccs-url");
    tee.source = std::make_shared<tee::MockAttestationSource>();
  } else {
    tee::DstackSourceOptions dstack;
    if (!o.dstack_socket.empty()) dstack.socket = o.dstack_socket;
    if (!o.pccs_url.empty()) {
      auto url = net::Url::parse(o.pccs_url);
      if (!url || (url->scheme != "http" && url->scheme != "https")) return usage("--pccs-url: expected an http(s) URL");
      dstack.pccs_url = o.pccs_url;
    }
    dstack.timeout = std::chrono::seconds(o.request_timeout_seconds);
    tee.source = std::make_shared<tee::DstackAttestationSource>(std::move(dstack));
  }
  if (!o.encryption_key_hex.empty())
    spdlog::warn("--tee: ignoring BACKUP_ENCRYPTION_KEY_HEX (the AES key comes sealed from `backup-cli provision-key`)");
  config.memory_only = true;
  auto rpc = rpc_client(o);
  if (!rpc) return usage(rpc.error());
  if (auto st = run_tee_service(config, tee, **rpc, wait_for_stop); !st) return other(st.error());
  return std::string();
}

}  // namespace

CommandResult run_command(const CommandOptions& o, const std::function<void()>& wait_for_stop) {
  auto node = node_target(o);
  if (!node) return usage(node.error());
  if (o.poll_interval_seconds < 1) return usage("--poll-interval-seconds must be at least 1");
  ServiceConfig config{o.home_dir, o.contract_id, o.signer_account_id, *node, std::chrono::seconds(o.request_timeout_seconds),
                       std::chrono::seconds(o.poll_interval_seconds), static_cast<std::uint16_t>(o.destination_migration_port),
                       std::nullopt, o.memory_only};
  if (!o.metrics_addr.empty()) {
    auto ep = net::parse_listen_address(o.metrics_addr);
    if (!ep) return usage("--metrics-addr: " + ep.error().message);
    config.metrics = *ep;
  }
  if (o.tee) return run_tee_command(o, std::move(config), wait_for_stop);
  if (o.mock_attestation || !o.dstack_socket.empty() || !o.pccs_url.empty())
    return usage("--mock-attestation, --dstack-socket and --pccs-url go with --tee");
  Session s;
  if (auto e = open_session(o, true, s)) return std::unexpected(*e);
  if (auto st = run_service(config, *s.rpc, *s.secrets, s.aes, wait_for_stop); !st) return other(st.error());
  return std::string();
}

}  // namespace mpc::backup
