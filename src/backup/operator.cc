#include "backup/operator.h"

#include "backup/chain_checks.h"
#include "backup/coverage.h"
#include "net/http_client.h"

namespace mpc::backup {

namespace {

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

}  // namespace

core::Result<net::HostPort> migration_address(const std::string& url, std::uint16_t migration_port) {
  auto parsed = net::Url::parse(url);
  if (!parsed) return core::invalid("participant URL is not http(s)://host[:port]");
  return net::HostPort{parsed->host, migration_port};
}

core::Result<model::Keyset> keyset_to_hold(const model::ProtocolState& state) {
  auto keyset = model::keyset_to_back_up(state);
  if (!keyset || keyset->domains.empty())
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      std::string("the contract is ") + state.name() + " with no keyset to back up yet");
  return *keyset;
}

core::Result<BackupOutcome> get_keyshares(const NodeTarget& node, const core::Ed25519PublicKey& own_key,
                                          const std::optional<model::ProtocolState>& state_file, BackupStore& store,
                                          const OperatorPorts& ports) {
  std::optional<model::ProtocolState> chain_state;
  if (ports.read_chain) {
    MPC_ASSIGN(auto view, ports.read_chain());
    MPC_TRY(check_backup_registration(view.state, view.migrations, node.key, own_key));
    chain_state = std::move(view.state);
  } else if (!state_file) {
    return core::invalid("no contract state: give the chain or a contract state file");
  }
  MPC_ASSIGN(model::Keyset keyset, keyset_to_hold(chain_state ? *chain_state : *state_file));
  // Refuse before fetching secrets over the network when the stored backup is newer.
  if (auto newest = store.load_newest(); newest && *newest && (*newest)->epoch_id > keyset.epoch_id)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "the stored backup is for epoch " + std::to_string((*newest)->epoch_id) + ", newer than the keyset's epoch " +
                          std::to_string(keyset.epoch_id) + ": refusing to replace it with an older one");
  ports.progress("fetching key shares of epoch " + std::to_string(keyset.epoch_id) + " (" + std::to_string(keyset.domains.size()) +
                 " domain(s)) from " + node.address.to_string());
  MPC_ASSIGN(auto shares, ports.fetch(node, keyset));
  MPC_ASSIGN(StoreOutcome outcome, store.store(shares));
  return BackupOutcome{keyset, outcome,
                       store.home().permanent_keys_dir() / BackupStore::file_name(keyset.epoch_id, shares.size())};
}

core::Result<RestoreOutcome> put_keyshares(const RestoreRequest& request, BackupStore& store, const OperatorPorts& ports) {
  MPC_ASSIGN(auto newest, store.load_newest());
  if (!newest || newest->keyshares.empty())
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "no backup stored in " + store.home().permanent_keys_dir().string() +
                          ": run `backup-cli get-keyshares` against a node that holds the shares first");
  NodeTarget destination;
  if (ports.read_chain) {
    MPC_ASSIGN(auto view, ports.read_chain());
    MPC_ASSIGN(auto target, find_migration_target(view.state, view.migrations, request.account_id, request.node_key));
    const auto& dest = target.destination.destination_node_info;
    destination.key = dest.tls_public_key;
    if (request.address) {
      destination.address = *request.address;
    } else {
      auto address = migration_address(dest.url, request.migration_port);
      if (!address)
        return core::fail(core::ErrorCode::kFailedPrecondition,
                          "the migration's destination url '" + dest.url + "': " + address.error().message);
      destination.address = *address;
    }
    if (auto keyset = model::keyset_to_back_up(view.state)) {
      auto coverage = backup_coverage(*newest, *keyset);
      if (!coverage.up_to_date())
        return core::fail(core::ErrorCode::kFailedPrecondition, "the stored backup does not cover the contract's keyset: " +
                                                                    coverage.summary + "; the new node could not conclude the migration");
    }
    ports.progress("the contract's migration of " + target.account_id + " goes to TLS key " + key_text(dest.tls_public_key) + " at " +
                   destination.address.to_string());
  } else {
    if (!request.address || !request.node_key)
      return core::invalid("without the chain, put-keyshares needs the node's address and TLS key");
    destination = NodeTarget{*request.address, *request.node_key};
  }
  ports.progress("sending the backup of epoch " + std::to_string(newest->epoch_id) + " (" +
                 std::to_string(newest->keyshares.size()) + " domain(s)) to " + destination.address.to_string());
  MPC_TRY(ports.push(destination, newest->keyshares));
  return RestoreOutcome{destination, newest->epoch_id, newest->keyshares.size()};
}

core::Result<std::string> verify_backup(const model::ProtocolState& state, BackupStore& store) {
  MPC_ASSIGN(auto newest, store.load_newest());
  MPC_ASSIGN(model::Keyset keyset, keyset_to_hold(state));
  auto coverage = backup_coverage(newest, keyset);
  if (!coverage.up_to_date())
    return core::fail(core::ErrorCode::kFailedPrecondition, "the backup would NOT restore the keyset of epoch " +
                                                                std::to_string(keyset.epoch_id) + ": " + coverage.summary);
  return "ok: the backup " + newest->path.filename().string() + " decrypts and restores the keyset of epoch " +
         std::to_string(keyset.epoch_id) + " (" + std::to_string(keyset.domains.size()) + " domain(s))";
}

nlohmann::json register_args(const core::Ed25519PublicKey& own_key) {
  return {{"backup_service_info", {{"public_key", key_text(own_key)}}}};
}

std::string near_cli_register_command(const std::string& contract_id, const nlohmann::json& args, const std::string& signer_account_id,
                                      const std::string& near_network) {
  return "near contract call-function as-transaction \\\n  " + contract_id + " \\\n  register_backup_service \\\n  json-args '" +
         args.dump() + "' \\\n  prepaid-gas '300.0 Tgas' \\\n  attached-deposit '1 yoctoNEAR' \\\n  sign-as " + signer_account_id +
         " \\\n  network-config " + near_network + " \\\n  sign-with-keychain \\\n  send\n";
}

core::Result<nlohmann::json> start_migration_args(const std::string& url, const std::string& tls_key, const std::string& access_key) {
  auto tls = core::parse_ed25519_public_key(tls_key);
  if (!tls) return core::invalid("--destination-tls-key: expected ed25519:<base58 of 32 bytes>: " + tls.error().message);
  auto access = core::parse_ed25519_public_key(access_key);
  if (!access) return core::invalid("--destination-access-key: expected ed25519:<base58 of 32 bytes>: " + access.error().message);
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return core::invalid("--destination-url: expected http(s)://host:port (the new node's participant URL, its P2P address)");
  model::DestinationNodeInfo dest{*access, {url, *tls}};
  return nlohmann::json{{"destination_node_info", to_json(dest)}};
}

}  // namespace mpc::backup
