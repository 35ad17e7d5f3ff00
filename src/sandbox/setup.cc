#include "sandbox/setup.h"

#include "core/file_util.h"
#include "core/json_limits.h"
#include "sandbox/server.h"

namespace mpc::sandbox {

namespace {

constexpr const char* kDefaultBalance = "1000000000000000000000000000";  // 1000 NEAR

core::Result<core::Ed25519PublicKey> new_credentials(const std::filesystem::path& dir, const std::string& account_id,
                                                     const std::string& suffix = "") {
  core::NearCredentials creds{account_id, core::Ed25519SecretKey::generate()};
  MPC_TRY(core::write_credentials_file(dir / (account_id + suffix + ".json"), creds));
  return creds.secret_key.public_key();
}

}  // namespace

core::Result<Genesis> write_local_genesis(const std::filesystem::path& home, const LocalChainSpec& spec) {
  if (spec.participants < 0 || spec.participants > 1000) return core::invalid("--participants must be between 0 and 1000");
  if (spec.participants > 0 && (spec.threshold < 1 || spec.threshold > spec.participants)) {
    return core::invalid("--threshold must be between 1 and the number of participants");
  }
  if (spec.attestation && *spec.attestation != "mock" && *spec.attestation != "dstack") {
    return core::invalid("--attestation must be mock or dstack, not " + *spec.attestation);
  }
  if (std::filesystem::exists(database_path(home)) || std::filesystem::exists(home / "genesis.json")) {
    return core::fail(core::ErrorCode::kAlreadyExists,
                      home.string() + " already holds a chain; refusing to overwrite it (choose another --home)");
  }
  MPC_TRY(core::ensure_directory(home, 0700));
  const auto cred_dir = home / "credentials";
  MPC_TRY(core::ensure_directory(cred_dir, 0700));
  Genesis genesis;
  genesis.chain_id = spec.chain_id;
  genesis.genesis_time_ns = now_ns();
  genesis.contract_account_id = "mpc.sandbox";
  const auto balance = *core::parse_u128(kDefaultBalance);
  MPC_ASSIGN(auto contract_key, new_credentials(cred_dir, genesis.contract_account_id));
  genesis.accounts.push_back({genesis.contract_account_id, balance, {{core::NearPublicKey{contract_key}, {}}}});
  json entries = json::array();
  for (int i = 0; i < spec.participants; ++i) {
    const std::string id = "node" + std::to_string(i) + ".sandbox";
    MPC_ASSIGN(auto key, new_credentials(cred_dir, id));
    MPC_ASSIGN(auto tls_key, new_credentials(cred_dir, id, ".tls_key"));
    genesis.accounts.push_back({id, balance, {{core::NearPublicKey{key}, {}}}});
    entries.push_back(json::array({id, i,
                                   {{"url", "https://node" + std::to_string(i) + ".sandbox:443"},
                                    {"tls_public_key", core::ed25519_public_key_to_string(tls_key)}}}));
  }
  if (spec.participants > 0) {
    genesis.contract_state = {
        {"protocol_state",
         {{"Running",
           {{"domains", {{"domains", json::array()}, {"next_domain_id", 0}}},
            {"keyset", {{"epoch_id", 0}, {"domains", json::array()}}},
            {"parameters",
             {{"participants", {{"next_id", spec.participants}, {"participants", entries}}}, {"threshold", spec.threshold}}},
            {"parameters_votes", {{"proposal_by_account", json::object()}}},
            {"add_domains_votes", {{"proposal_by_account", json::object()}}}}}}}};
  }
  if (spec.key_event_timeout_blocks || spec.attestation) {
    if (genesis.contract_state.is_null()) genesis.contract_state = {{"protocol_state", "NotInitialized"}};
    json config = json::object();
    if (spec.key_event_timeout_blocks) config["key_event_timeout_blocks"] = *spec.key_event_timeout_blocks;
    if (spec.attestation) config["attestation_mode"] = *spec.attestation == "dstack" ? "production" : "development";
    genesis.contract_state["config"] = std::move(config);
  }
  MPC_TRY(core::write_file_exclusive(home / "genesis.json", core::as_bytes(genesis_to_json(genesis).dump(2) + "\n"), 0644));
  return genesis;
}

core::Status create_chain(const std::filesystem::path& home, const Genesis& genesis) {
  if (std::filesystem::exists(database_path(home))) {
    return core::fail(core::ErrorCode::kAlreadyExists,
                      home.string() + " already holds a chain; refusing to overwrite it (choose another --home)");
  }
  MPC_TRY(core::ensure_directory(home, 0700));
  // Build the database under a temporary name so a failed init leaves no half chain.
  const auto tmp = home / "chain.sqlite.init";
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(tmp.string() + suffix, ec);
  {
    MPC_ASSIGN(auto store, Store::open(tmp));
    MPC_TRY(Chain::create(*store, genesis));
  }
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(tmp.string() + suffix, ec);
  std::filesystem::rename(tmp, database_path(home), ec);
  if (ec) return core::fail(core::ErrorCode::kInternal, "cannot move the new chain database into place: " + ec.message());
  return {};
}

core::Result<Genesis> read_genesis_file(const std::filesystem::path& path) {
  constexpr std::size_t kMaxGenesis = 64 << 20;
  MPC_ASSIGN(std::string text, core::read_file(path, kMaxGenesis));
  auto j = core::parse_json(text, core::JsonLimits{kMaxGenesis, 64});
  if (!j) {
    return core::invalid("genesis file " + path.string() +
                         (j.error().message == core::kNotValidJson ? " is not valid JSON" : ": " + j.error().message));
  }
  auto g = genesis_from_json(*j);
  if (!g) return core::invalid("genesis file " + path.string() + ": " + g.error().message);
  return g;
}

}  // namespace mpc::sandbox
