#include "node/home.h"

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/file_util.h"
#include "core/json_limits.h"

namespace mpc::node {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kConfigFile = "node.json";
constexpr const char* kTlsKeyFile = "tls_key.json";
constexpr const char* kAccessKeyFile = "access_key.json";
constexpr const char* kLocalKeyFile = "local_storage.key";

core::Status write_tls_key(const fs::path& path, const core::Ed25519SecretKey& key) {
  core::SecretString text(json{{"public_key", core::ed25519_public_key_to_string(key.public_key())},
                               {"private_key", core::ed25519_secret_key_to_string(key).reveal()}}
                              .dump());
  return core::write_file_exclusive(path, core::as_bytes(text.reveal()), 0600);
}

core::Result<core::Ed25519SecretKey> read_tls_key(const fs::path& path) {
  MPC_ASSIGN(std::string raw, core::read_file(path, 1 << 16));
  core::SecretString text(std::move(raw));
  json j = core::parse_json(text.reveal(), {1 << 16, 8}).value_or(json::value_t::discarded);
  if (j.is_discarded() || !j.is_object() || !j.contains("private_key") || !j["private_key"].is_string())
    return core::invalid(path.string() + ": expected {\"public_key\":…,\"private_key\":\"ed25519:…\"}");
  core::SecretString secret(j["private_key"].get<std::string>());
  std::string public_text = j.value("public_key", std::string());
  j["private_key"].get_ref<std::string&>().assign(secret.reveal().size(), '\0');
  auto key = core::parse_ed25519_secret_key(secret.reveal());
  if (!key) return std::unexpected(key.error().context(path.string()));
  if (!public_text.empty() && public_text != core::ed25519_public_key_to_string(key->public_key()))
    return core::invalid(path.string() + ": public_key does not match private_key");
  return std::move(*key);
}

}  // namespace

core::Result<NodeHome> NodeHome::init(const fs::path& dir, const std::string& account_id) {
  if (!core::is_valid_account_id(account_id))
    return core::invalid("--account-id: '" + account_id + "' is not a valid NEAR account id");
  for (const char* name : {kConfigFile, kTlsKeyFile, kAccessKeyFile, kLocalKeyFile, "keyshares.enc"}) {
    std::error_code ec;
    if (fs::exists(dir / name, ec))
      return core::fail(core::ErrorCode::kAlreadyExists,
                        (dir / name).string() + " already exists: this directory is already a node home; refusing to overwrite its keys");
  }
  MPC_TRY(core::ensure_directory(dir, 0700));

  NodeHome home{dir, account_id, core::Ed25519SecretKey::generate(),
                core::NearCredentials{account_id, core::Ed25519SecretKey::generate()},
                core::SecretBytes(32)};
  core::random_fill(home.local_storage_key.mutable_view());
  // The local key first: a half-created home (crash between files) is then
  // detected by load() and by a second init, never silently completed.
  core::SecretString local_hex(core::hex_encode(home.local_storage_key.view()));
  MPC_TRY(core::write_file_exclusive(dir / kLocalKeyFile, core::as_bytes(local_hex.reveal()), 0600));
  MPC_TRY(write_tls_key(dir / kTlsKeyFile, home.tls_key));
  MPC_TRY(core::write_credentials_file(dir / kAccessKeyFile, home.access_key));
  std::string config = json{{"version", 1}, {"account_id", account_id}}.dump(2) + "\n";
  MPC_TRY(core::write_file_exclusive(dir / kConfigFile, core::as_bytes(config), 0600));
  return home;
}

core::Result<NodeHome> NodeHome::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return core::fail(core::ErrorCode::kNotFound, dir.string() + " is not a node home (create one with `mpc-node init`)");
  auto missing = [&](const char* name) -> std::optional<core::Error> {
    if (fs::exists(dir / name, ec)) return std::nullopt;
    return core::Error{core::ErrorCode::kNotFound,
                       (dir / name).string() + " is missing: the home is incomplete (was `mpc-node init` interrupted?)"};
  };
  for (const char* name : {kConfigFile, kTlsKeyFile, kAccessKeyFile, kLocalKeyFile})
    if (auto e = missing(name)) return std::unexpected(*e);

  MPC_ASSIGN(std::string config_text, core::read_file(dir / kConfigFile, 1 << 16));
  json config = core::parse_json(config_text, {1 << 16, 8}).value_or(json::value_t::discarded);
  if (config.is_discarded() || !config.is_object() || !config.contains("account_id") || !config["account_id"].is_string())
    return core::invalid((dir / kConfigFile).string() + ": expected {\"version\":1,\"account_id\":\"…\"}");
  std::string account_id = config["account_id"].get<std::string>();

  MPC_ASSIGN(auto tls_key, read_tls_key(dir / kTlsKeyFile));
  auto access = core::read_credentials_file(dir / kAccessKeyFile);
  if (!access) return std::unexpected(access.error().context((dir / kAccessKeyFile).string()));
  if (access->account_id != account_id)
    return core::invalid((dir / kAccessKeyFile).string() + " is for account " + access->account_id + ", node.json says " + account_id);

  MPC_ASSIGN(std::string local_raw, core::read_file(dir / kLocalKeyFile, 256));
  core::SecretString local_hex(std::move(local_raw));
  auto local = core::parse_aes256_key_hex(local_hex.reveal(), (dir / kLocalKeyFile).string());
  if (!local) return std::unexpected(local.error());

  return NodeHome{dir, account_id, std::move(tls_key), std::move(*access), std::move(*local)};
}

}  // namespace mpc::node
