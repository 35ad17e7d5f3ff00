#include "sandbox/ledger.h"

#include "model/types.h"

namespace mpc::sandbox {

json permission_to_json(const KeyPermission& p) {
  if (p.full_access) return "FullAccess";
  return json{{"FunctionCall",
               {{"allowance", p.allowance ? json(core::u128_to_string(*p.allowance)) : json(nullptr)},
                {"receiver_id", p.receiver_id},
                {"method_names", p.method_names}}}};
}

core::Result<KeyPermission> permission_from_json(const json& j) {
  if (j == "FullAccess") return KeyPermission{};
  if (!j.is_object() || !j.contains("FunctionCall") || !j["FunctionCall"].is_object()) {
    return core::invalid("permission must be \"FullAccess\" or {\"FunctionCall\":{...}}");
  }
  const json& f = j["FunctionCall"];
  KeyPermission p;
  p.full_access = false;
  if (f.contains("allowance") && !f["allowance"].is_null()) {
    if (!f["allowance"].is_string()) return core::invalid("permission.FunctionCall.allowance must be a string");
    MPC_ASSIGN(p.allowance, core::parse_u128(f["allowance"].get<std::string>()));
  }
  if (!f.contains("receiver_id") || !f["receiver_id"].is_string()) {
    return core::invalid("permission.FunctionCall.receiver_id must be a string");
  }
  p.receiver_id = f["receiver_id"].get<std::string>();
  if (f.contains("method_names")) {
    if (!f["method_names"].is_array()) return core::invalid("permission.FunctionCall.method_names must be an array");
    for (const auto& m : f["method_names"]) {
      if (!m.is_string()) return core::invalid("permission.FunctionCall.method_names must hold strings");
      p.method_names.push_back(m.get<std::string>());
    }
  }
  return p;
}

json access_key_to_json(const AccessKeyEntry& k) {
  return json{{"nonce", k.nonce}, {"permission", permission_to_json(k.permission)}};
}

core::Result<AccessKeyEntry> access_key_from_json(const json& j) {
  if (!j.is_object() || !j.contains("nonce") || !model::json_u64(j["nonce"])) {
    return core::invalid("access key must have an unsigned \"nonce\"");
  }
  AccessKeyEntry k;
  k.nonce = *model::json_u64(j["nonce"]);
  MPC_ASSIGN(k.permission, permission_from_json(j.value("permission", json("FullAccess"))));
  return k;
}

json account_to_json(const Account& a) {
  json keys = json::array();
  for (const auto& [pk, entry] : a.keys) {
    json k = access_key_to_json(entry);
    k["public_key"] = pk.to_string();
    keys.push_back(std::move(k));
  }
  return json{{"balance", core::u128_to_string(a.balance)}, {"keys", keys}, {"has_contract", a.has_contract}};
}

core::Result<Account> account_from_json(const json& j) {
  if (!j.is_object()) return core::invalid("account must be an object");
  Account a;
  if (!j.contains("balance") || !j["balance"].is_string()) return core::invalid("account.balance must be a decimal string");
  MPC_ASSIGN(a.balance, core::parse_u128(j["balance"].get<std::string>()));
  a.has_contract = j.value("has_contract", false);
  if (j.contains("keys")) {
    if (!j["keys"].is_array()) return core::invalid("account.keys must be an array");
    for (const auto& k : j["keys"]) {
      if (!k.is_object() || !k.contains("public_key") || !k["public_key"].is_string()) {
        return core::invalid("account.keys[].public_key must be a key string");
      }
      MPC_ASSIGN(auto pk, core::NearPublicKey::parse(k["public_key"].get<std::string>()));
      json entry = k;
      if (!entry.contains("nonce")) entry["nonce"] = 0;
      MPC_ASSIGN(auto ak, access_key_from_json(entry));
      a.keys.emplace(pk, ak);
    }
  }
  return a;
}

json open_yield_to_json(const OpenYield& y) {
  return json{{"data_id", hash_to_base58(y.data_id)},
              {"tx_hash", hash_to_base58(y.tx_hash)},
              {"signer_id", y.signer_id},
              {"signer_public_key", y.signer_public_key.to_string()},
              {"callback_method", y.callback_method},
              {"callback_args", core::base64_encode(y.callback_args)},
              {"created_height", y.created_height}};
}

core::Result<OpenYield> open_yield_from_json(const json& j) {
  if (!j.is_object()) return core::invalid("a stored yield must be an object");
  auto text = [&](const char* name) -> core::Result<std::string> {
    if (!j.contains(name) || !j[name].is_string()) return core::invalid(std::string("stored yield: ") + name + " must be a string");
    return j[name].get<std::string>();
  };
  OpenYield y;
  MPC_ASSIGN(std::string data_id, text("data_id"));
  MPC_ASSIGN(y.data_id, hash_from_base58(data_id));
  MPC_ASSIGN(std::string tx_hash, text("tx_hash"));
  MPC_ASSIGN(y.tx_hash, hash_from_base58(tx_hash));
  MPC_ASSIGN(y.signer_id, text("signer_id"));
  MPC_ASSIGN(std::string key, text("signer_public_key"));
  MPC_ASSIGN(y.signer_public_key, core::NearPublicKey::parse(key));
  MPC_ASSIGN(y.callback_method, text("callback_method"));
  MPC_ASSIGN(std::string args, text("callback_args"));
  MPC_ASSIGN(y.callback_args, core::base64_decode(args));
  auto height = j.contains("created_height") ? model::json_u64(j["created_height"]) : std::nullopt;
  if (!height) return core::invalid("stored yield: created_height must be an unsigned integer");
  y.created_height = *height;
  return y;
}

std::string hash_to_base58(const core::Hash256& h) { return core::base58_encode(h); }

core::Result<core::Hash256> hash_from_base58(std::string_view text) {
  MPC_ASSIGN(auto bytes, core::base58_decode(text));
  if (bytes.size() != 32) return core::invalid("a hash must be 32 bytes in base58");
  core::Hash256 h{};
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

}  // namespace mpc::sandbox
