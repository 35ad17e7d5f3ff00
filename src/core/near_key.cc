#include "core/near_key.h"

#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "core/json_limits.h"

namespace mpc::core {

namespace {
constexpr std::string_view kEd25519Prefix = "ed25519:";
constexpr std::string_view kSecp256k1Prefix = "secp256k1:";
}  // namespace

std::string ed25519_public_key_to_string(const Ed25519PublicKey& key) {
  return std::string(kEd25519Prefix) + base58_encode(key.bytes);
}

Result<Ed25519PublicKey> parse_ed25519_public_key(std::string_view text) {
  if (!text.starts_with(kEd25519Prefix)) {
    return invalid("an Ed25519 public key must look like \"ed25519:<base58>\"");
  }
  auto bytes = base58_decode(text.substr(kEd25519Prefix.size()));
  if (!bytes) return invalid("Ed25519 public key: " + bytes.error().message);
  if (bytes->size() != 32) {
    return invalid("an Ed25519 public key must be 32 bytes, got " + std::to_string(bytes->size()));
  }
  Ed25519PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.bytes.begin());
  return key;
}

std::string NearPublicKey::to_string() const {
  if (is_ed25519()) return ed25519_public_key_to_string(ed25519());
  return std::string(kSecp256k1Prefix) + base58_encode(std::get<Secp256k1PublicKey>(key).bytes);
}

Result<NearPublicKey> NearPublicKey::parse(std::string_view text) {
  if (text.starts_with(kEd25519Prefix)) {
    MPC_ASSIGN(auto k, parse_ed25519_public_key(text));
    return NearPublicKey{k};
  }
  if (text.starts_with(kSecp256k1Prefix)) {
    auto bytes = base58_decode(text.substr(kSecp256k1Prefix.size()));
    if (!bytes) return invalid("secp256k1 public key: " + bytes.error().message);
    if (bytes->size() != 64) {
      return invalid("a secp256k1 public key must be 64 bytes (X||Y), got " + std::to_string(bytes->size()));
    }
    Secp256k1PublicKey k;
    std::copy(bytes->begin(), bytes->end(), k.bytes.begin());
    return NearPublicKey{k};
  }
  return invalid("a public key must start with \"ed25519:\" or \"secp256k1:\"");
}

SecretString ed25519_secret_key_to_string(const Ed25519SecretKey& key) {
  SecretBytes pair = key.keypair_bytes();
  return SecretString(std::string(kEd25519Prefix) + base58_encode(pair.view()));
}

Result<Ed25519SecretKey> parse_ed25519_secret_key(std::string_view text) {
  if (!text.starts_with(kEd25519Prefix)) {
    return invalid("a secret key must look like \"ed25519:<base58>\"");
  }
  auto bytes = base58_decode(text.substr(kEd25519Prefix.size()));
  if (!bytes) return invalid("the secret key is not valid base58");
  SecretBytes secret = SecretBytes::take(*bytes);
  if (secret.size() == 64) return Ed25519SecretKey::from_keypair_bytes(secret.view());
  if (secret.size() == 32) return Ed25519SecretKey::from_seed(secret.view());
  return invalid("an Ed25519 secret key must be 64 bytes (or a 32-byte seed), got " + std::to_string(secret.size()));
}

Result<NearCredentials> read_credentials_file(const std::filesystem::path& path) {
  auto text = read_file(path, 64 * 1024);
  if (!text) return std::unexpected(text.error().context("credential file " + path.string()));
  SecretString guard(std::move(*text));
  nlohmann::json j = parse_json(guard.reveal(), {64 * 1024, 8}).value_or(nlohmann::json::value_t::discarded);
  if (j.is_discarded() || !j.is_object()) {
    return invalid("credential file " + path.string() + " is not a JSON object");
  }
  auto field = [&](const char* name) -> Result<std::string> {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
      return invalid("credential file " + path.string() + " has no string field \"" + name + "\"");
    }
    return it->get<std::string>();
  };
  MPC_ASSIGN(std::string account_id, field("account_id"));
  MPC_ASSIGN(std::string private_key, field("private_key"));
  SecretString private_guard(std::move(private_key));
  if (!is_valid_account_id(account_id)) {
    return invalid("credential file " + path.string() + " has an invalid account_id");
  }
  auto key = parse_ed25519_secret_key(private_guard.reveal());
  // Wipe JSON-held copy of the key.
  if (auto it = j.find("private_key"); it != j.end()) {
    auto& s = it->get_ref<std::string&>();
    secure_wipe(s.data(), s.size());
  }
  if (!key) return invalid("credential file " + path.string() + ": private_key: " + key.error().message);
  if (auto it = j.find("public_key"); it != j.end() && it->is_string()) {
    auto pk = parse_ed25519_public_key(it->get<std::string>());
    if (!pk || *pk != key->public_key()) {
      return invalid("credential file " + path.string() + ": public_key does not match private_key");
    }
  }
  return NearCredentials{std::move(account_id), std::move(*key)};
}

Status write_credentials_file(const std::filesystem::path& path, const NearCredentials& creds) {
  SecretString secret = ed25519_secret_key_to_string(creds.secret_key);
  SecretString text(std::string("{\"account_id\":") + nlohmann::json(creds.account_id).dump() +
                    ",\"public_key\":\"" + ed25519_public_key_to_string(creds.secret_key.public_key()) +
                    "\",\"private_key\":\"" + secret.reveal() + "\"}\n");
  return write_file_exclusive(path, as_bytes(text.reveal()), 0600);
}

bool is_valid_account_id(std::string_view id) {
  if (id.size() < 2 || id.size() > 64) return false;
  bool last_separator = true;  // no leading separator
  for (char c : id) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool sep = c == '-' || c == '_' || c == '.';
    if (!alnum && !sep) return false;
    if (sep && last_separator) return false;
    last_separator = sep;
  }
  return !last_separator;
}

}  // namespace mpc::core
