#include "model/types.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/bytes.h"

namespace mpc::model {

using namespace mpc::core;  // the model is written in core's terms

namespace {

// Field access with path-naming errors.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {}
  Status ok() const {
    if (!j_.is_object()) return invalid(path_ + " must be a JSON object");
    return {};
  }
  bool has(const char* name) const { return j_.is_object() && j_.contains(name); }
  std::string at(const char* name) const { return path_.empty() ? std::string(name) : path_ + "." + name; }
  Result<const json*> get(const char* name) const {
    if (!has(name)) return invalid(at(name) + " is missing");
    return &j_[name];
  }
  Result<std::uint64_t> u64(const char* name) const {
    MPC_ASSIGN(const json* v, get(name));
    auto n = json_u64(*v);
    if (!n) return invalid(at(name) + " must be an unsigned integer (u64)" + (v->is_number() ? ", got " + v->dump() : ""));
    return *n;
  }
  Result<std::string> str(const char* name) const {
    MPC_ASSIGN(const json* v, get(name));
    if (!v->is_string()) return invalid(at(name) + " must be a string");
    return v->get<std::string>();
  }
  Result<Ed25519PublicKey> ed25519(const char* name) const {
    MPC_ASSIGN(std::string text, str(name));
    auto k = parse_ed25519_public_key(text);
    if (!k) return invalid(at(name) + ": " + k.error().message);
    return *k;
  }
  json extra(std::initializer_list<const char*> known) const {
    json e = json::object();
    for (const auto& [k, v] : j_.items()) {
      if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) e[k] = v;
    }
    return e;
  }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
};

std::string join(const std::string& path, const std::string& name) { return path.empty() ? name : path + "." + name; }

void merge_extra(json& out, const json& extra) {
  for (const auto& [k, v] : extra.items()) out[k] = v;
}

// The variant name of an externally tagged enum ({"Name": body}).
Result<std::pair<std::string, const json*>> tagged(const json& j, const std::string& path) {
  if (!j.is_object() || j.size() != 1) return invalid(path + " must be an object with exactly one variant");
  return std::pair<std::string, const json*>(j.begin().key(), &j.begin().value());
}

Result<ParticipantInfo> participant_info(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  ParticipantInfo p;
  MPC_ASSIGN(p.url, o.str("url"));
  MPC_ASSIGN(p.tls_public_key, o.ed25519("tls_public_key"));
  return p;
}

Result<Participants> participants(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  Participants p;
  MPC_ASSIGN(p.next_id, o.u64("next_id"));
  MPC_ASSIGN(const json* list, o.get("participants"));
  if (!list->is_array()) return invalid(o.at("participants") + " must be an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string where = o.at("participants") + "[" + std::to_string(i) + "]";
    if (!e.is_array() || e.size() != 3) return invalid(where + " must be [account_id, participant_id, info]");
    if (!e[0].is_string()) return invalid(where + "[0] must be an account id string");
    if (!json_u64(e[1])) return invalid(where + "[1] must be an unsigned participant id");
    ParticipantEntry entry;
    entry.account_id = e[0].get<std::string>();
    entry.id = *json_u64(e[1]);
    MPC_ASSIGN(entry.info, participant_info(e[2], where + "[2]"));
    p.participants.push_back(std::move(entry));
  }
  return p;
}

Result<ThresholdParameters> threshold_parameters(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  ThresholdParameters t;
  MPC_ASSIGN(const json* ps, o.get("participants"));
  MPC_ASSIGN(t.participants, participants(*ps, o.at("participants")));
  MPC_ASSIGN(t.threshold, o.u64("threshold"));
  return t;
}

Result<DomainConfig> domain_config(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  DomainConfig d;
  MPC_ASSIGN(d.id, o.u64("id"));
  MPC_ASSIGN(d.protocol, o.str("protocol"));
  if (o.has("purpose")) {
    MPC_ASSIGN(d.purpose, o.str("purpose"));
  }
  d.extra = o.extra({"id", "protocol", "purpose"});
  return d;
}

Result<DomainRegistry> domain_registry(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  DomainRegistry r;
  MPC_ASSIGN(const json* list, o.get("domains"));
  if (!list->is_array()) return invalid(o.at("domains") + " must be an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    MPC_ASSIGN(auto d, domain_config((*list)[i], o.at("domains") + "[" + std::to_string(i) + "]"));
    r.domains.push_back(std::move(d));
  }
  MPC_ASSIGN(r.next_domain_id, o.u64("next_domain_id"));
  return r;
}

Result<PublicKeyExtended> public_key_extended(const json& j, const std::string& path) {
  MPC_ASSIGN(auto t, tagged(j, path));
  const auto& [variant, body] = t;
  Obj o(*body, join(path, variant));
  MPC_TRY(o.ok());
  PublicKeyExtended k;
  if (variant == "Secp256k1") {
    k.kind = CurveKind::kSecp256k1;
    MPC_ASSIGN(std::string text, o.str("near_public_key"));
    auto pk = NearPublicKey::parse(text);
    if (!pk || pk->is_ed25519()) return invalid(o.at("near_public_key") + " must be a \"secp256k1:<base58 of 64 bytes>\" key");
    k.near_public_key = *pk;
  } else if (variant == "Ed25519") {
    k.kind = CurveKind::kEd25519;
    MPC_ASSIGN(auto pk, o.ed25519("near_public_key_compressed"));
    k.near_public_key = NearPublicKey{pk};
    MPC_ASSIGN(const json* point, o.get("edwards_point"));
    if (!point->is_array() || point->size() != 32) return invalid(o.at("edwards_point") + " must be an array of 32 bytes");
    for (std::size_t i = 0; i < 32; ++i) {
      const json& b = (*point)[i];
      auto byte = json_u64(b);
      if (!byte || *byte > 255) return invalid(o.at("edwards_point") + " must hold bytes (0..255)");
      k.edwards_point[i] = static_cast<std::uint8_t>(*byte);
    }
  } else if (variant == "Bls12381") {
    k.kind = CurveKind::kBls12381;
    MPC_ASSIGN(k.bls_public_key, o.str("public_key"));
  } else {
    return invalid(path + " has an unknown variant \"" + variant + "\" (expected Secp256k1, Ed25519 or Bls12381)");
  }
  return k;
}

Result<KeyForDomain> key_for_domain(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  KeyForDomain k;
  MPC_ASSIGN(k.domain_id, o.u64("domain_id"));
  MPC_ASSIGN(const json* key, o.get("key"));
  MPC_ASSIGN(k.key, public_key_extended(*key, o.at("key")));
  MPC_ASSIGN(k.attempt, o.u64("attempt"));
  return k;
}

Result<std::vector<KeyForDomain>> keys_for_domains(const json& j, const std::string& path) {
  if (!j.is_array()) return invalid(path + " must be an array");
  std::vector<KeyForDomain> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    MPC_ASSIGN(auto k, key_for_domain(j[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(k));
  }
  return out;
}

Result<Keyset> keyset(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  Keyset k;
  MPC_ASSIGN(k.epoch_id, o.u64("epoch_id"));
  MPC_ASSIGN(const json* domains, o.get("domains"));
  MPC_ASSIGN(k.domains, keys_for_domains(*domains, o.at("domains")));
  return k;
}

Result<RunningState> running_state(const json& j, const std::string& path) {
  Obj o(j, path);
  MPC_TRY(o.ok());
  RunningState r;
  MPC_ASSIGN(const json* domains, o.get("domains"));
  MPC_ASSIGN(r.domains, domain_registry(*domains, o.at("domains")));
  MPC_ASSIGN(const json* ks, o.get("keyset"));
  MPC_ASSIGN(r.keyset, keyset(*ks, o.at("keyset")));
  MPC_ASSIGN(const json* params, o.get("parameters"));
  MPC_ASSIGN(r.parameters, threshold_parameters(*params, o.at("parameters")));
  r.parameters_votes = j.value("parameters_votes", json());
  r.add_domains_votes = j.value("add_domains_votes", json());
  r.extra = o.extra({"domains", "keyset", "parameters", "parameters_votes", "add_domains_votes"});
  return r;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::optional<std::uint64_t> json_u64(const json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(j.get<std::int64_t>());
  return std::nullopt;
}

const char* curve_name(CurveKind kind) {
  switch (kind) {
    case CurveKind::kSecp256k1: return "Secp256k1";
    case CurveKind::kEd25519: return "Ed25519";
    case CurveKind::kBls12381: return "Bls12381";
  }
  return "unknown";
}

const ParticipantEntry* Participants::find(std::string_view account_id) const {
  for (const auto& p : participants) {
    if (p.account_id == account_id) return &p;
  }
  return nullptr;
}

const ParticipantEntry* Participants::find_by_tls_key(const Ed25519PublicKey& key) const {
  for (const auto& p : participants) {
    if (p.info.tls_public_key == key) return &p;
  }
  return nullptr;
}

const KeyForDomain* Keyset::find(std::uint64_t domain_id) const {
  for (const auto& d : domains) {
    if (d.domain_id == domain_id) return &d;
  }
  return nullptr;
}

Keyshare Keyshare::clone() const {
  Keyshare k;
  k.key_id = key_id;
  k.kind = kind;
  k.private_share = SecretString(private_share.reveal());
  k.public_key = public_key;
  return k;
}

const char* ProtocolState::name() const {
  switch (state.index()) {
    case 0: return "NotInitialized";
    case 1: return "Initializing";
    case 2: return "Running";
    default: return "Resharing";
  }
}

// ---- parse ----

Result<ParticipantInfo> parse_participant_info(const json& j) { return participant_info(j, "participant_info"); }
Result<Participants> parse_participants(const json& j) { return participants(j, "participants"); }
Result<ThresholdParameters> parse_threshold_parameters(const json& j) { return threshold_parameters(j, "parameters"); }
Result<DomainConfig> parse_domain_config(const json& j) { return domain_config(j, "domain"); }
Result<DomainRegistry> parse_domain_registry(const json& j) { return domain_registry(j, "domains"); }
Result<KeyEventId> parse_key_event_id(const json& j) {
  Obj o(j, "key_event_id");
  MPC_TRY(o.ok());
  KeyEventId id;
  MPC_ASSIGN(id.epoch_id, o.u64("epoch_id"));
  MPC_ASSIGN(id.domain_id, o.u64("domain_id"));
  MPC_ASSIGN(id.attempt_id, o.u64("attempt_id"));
  return id;
}
Result<PublicKeyExtended> parse_public_key_extended(const json& j) { return public_key_extended(j, "key"); }
Result<KeyForDomain> parse_key_for_domain(const json& j) { return key_for_domain(j, "key_for_domain"); }
Result<Keyset> parse_keyset(const json& j) { return keyset(j, "keyset"); }

Result<Keyshare> parse_keyshare(const json& j) {
  Obj o(j, "keyshare");
  MPC_TRY(o.ok());
  Keyshare k;
  MPC_ASSIGN(const json* id, o.get("key_id"));
  Obj io(*id, o.at("key_id"));
  MPC_TRY(io.ok());
  MPC_ASSIGN(k.key_id.epoch_id, io.u64("epoch_id"));
  MPC_ASSIGN(k.key_id.domain_id, io.u64("domain_id"));
  MPC_ASSIGN(k.key_id.attempt_id, io.u64("attempt_id"));
  MPC_ASSIGN(const json* data, o.get("data"));
  MPC_ASSIGN(auto t, tagged(*data, o.at("data")));
  const auto& [variant, body] = t;
  Obj d(*body, o.at("data") + "." + variant);
  MPC_TRY(d.ok());
  const std::size_t share_len = 64;
  std::size_t pk_len = 0;  // 0: any non-empty even length
  if (variant == "Secp256k1") {
    k.kind = CurveKind::kSecp256k1;
    pk_len = 66;
  } else if (variant == "Ed25519") {
    k.kind = CurveKind::kEd25519;
    pk_len = 64;
  } else if (variant == "Bls12381") {
    k.kind = CurveKind::kBls12381;
  } else {
    return invalid(o.at("data") + " has an unknown variant \"" + variant + "\" (expected Secp256k1, Ed25519 or Bls12381)");
  }
  // The share text is never echoed, not even in part.
  MPC_ASSIGN(const json* share, d.get("private_share"));
  if (!share->is_string() || share->get_ref<const std::string&>().size() != share_len ||
      !is_hex(share->get_ref<const std::string&>())) {
    return invalid(d.at("private_share") + " must be " + std::to_string(share_len) + " hex characters");
  }
  k.private_share = SecretString(share->get<std::string>());
  MPC_ASSIGN(k.public_key, d.str("public_key"));
  const bool length_ok = pk_len != 0 ? k.public_key.size() == pk_len : (!k.public_key.empty() && k.public_key.size() % 2 == 0);
  if (!length_ok || !is_hex(k.public_key)) {
    return invalid(d.at("public_key") + " must be " + (pk_len != 0 ? std::to_string(pk_len) : std::string("an even number of")) +
                   " hex characters");
  }
  std::transform(k.public_key.begin(), k.public_key.end(), k.public_key.begin(), ::tolower);
  if (k.kind == CurveKind::kSecp256k1 && !(k.public_key.starts_with("02") || k.public_key.starts_with("03"))) {
    return invalid(d.at("public_key") + " must be a compressed SEC1 point (02… or 03…)");
  }
  return k;
}

Result<std::vector<Keyshare>> parse_keyshares(const json& j) {
  if (!j.is_array()) return invalid("keyshares must be a JSON array");
  std::vector<Keyshare> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto k = parse_keyshare(j[i]);
    if (!k) return invalid("keyshares[" + std::to_string(i) + "]: " + k.error().message);
    out.push_back(std::move(*k));
  }
  return out;
}

Result<BackupServiceInfo> parse_backup_service_info(const json& j) {
  Obj o(j, "backup_service_info");
  MPC_TRY(o.ok());
  MPC_ASSIGN(auto k, o.ed25519("public_key"));
  return BackupServiceInfo{k};
}

Result<DestinationNodeInfo> parse_destination_node_info(const json& j) {
  Obj o(j, "destination_node_info");
  MPC_TRY(o.ok());
  DestinationNodeInfo d;
  MPC_ASSIGN(d.signer_account_pk, o.ed25519("signer_account_pk"));
  MPC_ASSIGN(const json* info, o.get("destination_node_info"));
  MPC_ASSIGN(d.destination_node_info, participant_info(*info, o.at("destination_node_info")));
  return d;
}

Result<MigrationInfo> parse_migration_info(const json& j) {
  if (!j.is_object()) return invalid("migration_info must be an object keyed by account id");
  MigrationInfo out;
  for (const auto& [account, v] : j.items()) {
    const std::string where = "migration_info." + account;
    if (!v.is_array() || v.size() != 2) return invalid(where + " must be [BackupServiceInfo|null, DestinationNodeInfo|null]");
    MigrationEntry e;
    if (!v[0].is_null()) {
      auto b = parse_backup_service_info(v[0]);
      if (!b) return invalid(where + "[0]: " + b.error().message);
      e.backup_service = *b;
    }
    if (!v[1].is_null()) {
      auto d = parse_destination_node_info(v[1]);
      if (!d) return invalid(where + "[1]: " + d.error().message);
      e.migration = *d;
    }
    out.emplace(account, std::move(e));
  }
  return out;
}

Result<ProtocolState> parse_protocol_state(const json& j) {
  if (j == "NotInitialized") return ProtocolState{NotInitializedState{}};
  MPC_ASSIGN(auto t, tagged(j, "state"));
  const auto& [variant, body] = t;
  if (variant == "Running") {
    MPC_ASSIGN(auto r, running_state(*body, "Running"));
    return ProtocolState{std::move(r)};
  }
  if (variant == "Initializing") {
    Obj o(*body, "Initializing");
    MPC_TRY(o.ok());
    InitializingState s;
    MPC_ASSIGN(const json* domains, o.get("domains"));
    MPC_ASSIGN(s.domains, domain_registry(*domains, o.at("domains")));
    MPC_ASSIGN(s.epoch_id, o.u64("epoch_id"));
    MPC_ASSIGN(const json* keys, o.get("generated_keys"));
    MPC_ASSIGN(s.generated_keys, keys_for_domains(*keys, o.at("generated_keys")));
    s.generating_key = body->value("generating_key", json());
    s.cancel_votes = body->value("cancel_votes", json());
    s.extra = o.extra({"domains", "epoch_id", "generated_keys", "generating_key", "cancel_votes"});
    return ProtocolState{std::move(s)};
  }
  if (variant == "Resharing") {
    Obj o(*body, "Resharing");
    MPC_TRY(o.ok());
    ResharingState s;
    MPC_ASSIGN(const json* prev, o.get("previous_running_state"));
    MPC_ASSIGN(s.previous_running_state, running_state(*prev, o.at("previous_running_state")));
    MPC_ASSIGN(const json* keys, o.get("reshared_keys"));
    MPC_ASSIGN(s.reshared_keys, keys_for_domains(*keys, o.at("reshared_keys")));
    s.resharing_key = body->value("resharing_key", json());
    s.cancellation_requests = body->value("cancellation_requests", json());
    s.extra = o.extra({"previous_running_state", "reshared_keys", "resharing_key", "cancellation_requests"});
    return ProtocolState{std::move(s)};
  }
  return invalid("state has an unknown variant \"" + variant + "\" (expected NotInitialized, Initializing, Running, Resharing)");
}

Result<KeyEventView> parse_key_event(const json& j) {
  Obj o(j, "key_event");
  MPC_TRY(o.ok());
  KeyEventView e;
  MPC_ASSIGN(e.epoch_id, o.u64("epoch_id"));
  MPC_ASSIGN(const json* domain, o.get("domain"));
  MPC_ASSIGN(e.domain, domain_config(*domain, o.at("domain")));
  MPC_ASSIGN(const json* parameters, o.get("parameters"));
  MPC_ASSIGN(e.parameters, threshold_parameters(*parameters, o.at("parameters")));
  if (e.parameters.participants.participants.empty()) {
    return invalid(o.at("parameters") + ".participants.participants must not be empty (a key event has a leader)");
  }
  MPC_ASSIGN(e.next_attempt_id, o.u64("next_attempt_id"));
  if (o.has("instance") && !j["instance"].is_null()) {
    Obj i(j["instance"], o.at("instance"));
    MPC_TRY(i.ok());
    KeyEventInstanceView instance;
    MPC_ASSIGN(instance.attempt_id, i.u64("attempt_id"));
    MPC_ASSIGN(instance.started_in, i.u64("started_in"));
    MPC_ASSIGN(instance.expires_on, i.u64("expires_on"));
    MPC_ASSIGN(const json* completed, i.get("completed"));
    if (!completed->is_array()) return invalid(i.at("completed") + " must be an array of participant ids");
    for (std::size_t n = 0; n < completed->size(); ++n) {
      auto id = json_u64((*completed)[n]);
      if (!id) return invalid(i.at("completed") + "[" + std::to_string(n) + "] must be an unsigned participant id");
      instance.completed.push_back(*id);
    }
    if (i.has("public_key") && !j["instance"]["public_key"].is_null()) {
      MPC_ASSIGN(instance.public_key, public_key_extended(j["instance"]["public_key"], i.at("public_key")));
    }
    e.instance = std::move(instance);
  }
  return e;
}

std::optional<KeyEventId> KeyEventView::active_id(std::uint64_t block_height) const {
  if (!instance || block_height >= instance->expires_on) return std::nullopt;
  return KeyEventId{epoch_id, domain.id, instance->attempt_id};
}

KeyEventId KeyEventView::next_id() const { return KeyEventId{epoch_id, domain.id, next_attempt_id}; }

std::uint64_t KeyEventView::leader() const {
  const auto& list = parameters.participants.participants;
  if (list.empty()) return 0;  // never for a parsed event
  return std::min_element(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; })->id;
}

// ---- to_json ----

json to_json(const ParticipantInfo& v) {
  return json{{"url", v.url}, {"tls_public_key", ed25519_public_key_to_string(v.tls_public_key)}};
}

json to_json(const Participants& v) {
  json list = json::array();
  for (const auto& p : v.participants) list.push_back(json::array({p.account_id, p.id, to_json(p.info)}));
  return json{{"next_id", v.next_id}, {"participants", list}};
}

json to_json(const ThresholdParameters& v) { return json{{"participants", to_json(v.participants)}, {"threshold", v.threshold}}; }

json to_json(const DomainConfig& v) {
  json out = {{"id", v.id}, {"protocol", v.protocol}};
  if (!v.purpose.empty()) out["purpose"] = v.purpose;
  merge_extra(out, v.extra);
  return out;
}

json to_json(const DomainRegistry& v) {
  json list = json::array();
  for (const auto& d : v.domains) list.push_back(to_json(d));
  return json{{"domains", list}, {"next_domain_id", v.next_domain_id}};
}

json to_json(const PublicKeyExtended& v) {
  switch (v.kind) {
    case CurveKind::kSecp256k1:
      return json{{"Secp256k1", {{"near_public_key", v.near_public_key ? v.near_public_key->to_string() : ""}}}};
    case CurveKind::kEd25519: {
      json point = json::array();
      for (auto b : v.edwards_point) point.push_back(b);
      return json{{"Ed25519",
                   {{"near_public_key_compressed", v.near_public_key ? v.near_public_key->to_string() : ""},
                    {"edwards_point", point}}}};
    }
    case CurveKind::kBls12381:
      return json{{"Bls12381", {{"public_key", v.bls_public_key}}}};
  }
  return json();
}

json to_json(const KeyForDomain& v) { return json{{"domain_id", v.domain_id}, {"key", to_json(v.key)}, {"attempt", v.attempt}}; }

json to_json(const Keyset& v) {
  json list = json::array();
  for (const auto& d : v.domains) list.push_back(to_json(d));
  return json{{"epoch_id", v.epoch_id}, {"domains", list}};
}

json to_json(const KeyshareKeyId& v) {
  return json{{"epoch_id", v.epoch_id}, {"domain_id", v.domain_id}, {"attempt_id", v.attempt_id}};
}

json to_json(const Keyshare& v) {
  json data = json{{curve_name(v.kind), {{"private_share", v.private_share.reveal()}, {"public_key", v.public_key}}}};
  return json{{"key_id", to_json(v.key_id)}, {"data", data}};
}

json to_json(const BackupServiceInfo& v) { return json{{"public_key", ed25519_public_key_to_string(v.public_key)}}; }

json to_json(const DestinationNodeInfo& v) {
  return json{{"signer_account_pk", ed25519_public_key_to_string(v.signer_account_pk)},
              {"destination_node_info", to_json(v.destination_node_info)}};
}

json to_json(const MigrationInfo& v) {
  json out = json::object();
  for (const auto& [account, e] : v) {
    out[account] = json::array({e.backup_service ? to_json(*e.backup_service) : json(nullptr),
                                e.migration ? to_json(*e.migration) : json(nullptr)});
  }
  return out;
}

json to_json(const RunningState& v) {
  json out = {{"domains", to_json(v.domains)}, {"keyset", to_json(v.keyset)}, {"parameters", to_json(v.parameters)}};
  if (!v.parameters_votes.is_null()) out["parameters_votes"] = v.parameters_votes;
  if (!v.add_domains_votes.is_null()) out["add_domains_votes"] = v.add_domains_votes;
  merge_extra(out, v.extra);
  return out;
}

json to_json(const ProtocolState& v) {
  return std::visit(
      [](const auto& s) -> json {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, NotInitializedState>) {
          return "NotInitialized";
        } else if constexpr (std::is_same_v<T, RunningState>) {
          return json{{"Running", to_json(s)}};
        } else if constexpr (std::is_same_v<T, InitializingState>) {
          json keys = json::array();
          for (const auto& k : s.generated_keys) keys.push_back(to_json(k));
          json body = {{"domains", to_json(s.domains)}, {"epoch_id", s.epoch_id}, {"generated_keys", keys},
                       {"generating_key", s.generating_key}, {"cancel_votes", s.cancel_votes}};
          merge_extra(body, s.extra);
          return json{{"Initializing", body}};
        } else {
          json keys = json::array();
          for (const auto& k : s.reshared_keys) keys.push_back(to_json(k));
          json body = {{"previous_running_state", to_json(s.previous_running_state)}, {"reshared_keys", keys},
                       {"resharing_key", s.resharing_key}, {"cancellation_requests", s.cancellation_requests}};
          merge_extra(body, s.extra);
          return json{{"Resharing", body}};
        }
      },
      v.state);
}

// ---- rules ----

std::optional<Keyset> keyset_to_back_up(const ProtocolState& state) {
  const Keyset* k = nullptr;
  if (const auto* r = std::get_if<RunningState>(&state.state)) k = &r->keyset;
  if (const auto* r = std::get_if<ResharingState>(&state.state)) k = &r->previous_running_state.keyset;
  if (k == nullptr || k->domains.empty()) return std::nullopt;
  return *k;
}

Status check_keyshare_consistent(const Keyshare& share, std::uint64_t epoch_id, const KeyForDomain& entry) {
  const std::string which = "keyshare for domain " + std::to_string(share.key_id.domain_id);
  if (share.key_id.epoch_id != epoch_id) {
    return invalid(which + " is for epoch " + std::to_string(share.key_id.epoch_id) + ", the keyset is at epoch " +
                   std::to_string(epoch_id));
  }
  if (share.key_id.domain_id != entry.domain_id) return invalid(which + " does not belong to domain " + std::to_string(entry.domain_id));
  if (share.key_id.attempt_id != entry.attempt) {
    return invalid(which + " is from attempt " + std::to_string(share.key_id.attempt_id) + ", the keyset has attempt " +
                   std::to_string(entry.attempt));
  }
  if (share.kind != entry.key.kind) {
    return invalid(which + " is a " + curve_name(share.kind) + " share, the keyset has a " + curve_name(entry.key.kind) + " key");
  }
  auto mismatch = [&] { return invalid(which + ": its group public key differs from the keyset's"); };
  auto pk = hex_decode(share.public_key);
  auto expected = keyshare_group_key(entry.key);
  if (!pk || !expected || !constant_time_equal(*pk, *expected)) return mismatch();
  return {};
}

Result<core::Bytes> keyshare_group_key(const PublicKeyExtended& key) {
  switch (key.kind) {
    case CurveKind::kEd25519:
      if (!key.near_public_key || !key.near_public_key->is_ed25519()) break;
      return core::Bytes(key.near_public_key->ed25519().bytes.begin(), key.near_public_key->ed25519().bytes.end());
    case CurveKind::kSecp256k1: {
      if (!key.near_public_key || key.near_public_key->is_ed25519()) break;
      // Compressed SEC1: the prefix names Y's parity (02 even, 03 odd), then X.
      const auto& xy = std::get<Secp256k1PublicKey>(key.near_public_key->key).bytes;
      core::Bytes out;
      out.push_back((xy[63] & 1) ? 0x03 : 0x02);
      out.insert(out.end(), xy.begin(), xy.begin() + 32);
      return out;
    }
    case CurveKind::kBls12381: {
      constexpr std::string_view kBlsPrefix = "bls12381g2:";
      if (!key.bls_public_key.starts_with(kBlsPrefix)) break;
      auto bytes = base58_decode(std::string_view(key.bls_public_key).substr(kBlsPrefix.size()));
      if (!bytes) break;
      return std::move(*bytes);
    }
  }
  return invalid(std::string("a ") + curve_name(key.kind) + " group key without its key bytes");
}

PublicKeyExtended public_key_extended_of(const NearPublicKey& key) {
  PublicKeyExtended out;
  if (key.is_ed25519()) {
    out.kind = CurveKind::kEd25519;
    out.edwards_point = key.ed25519().bytes;
  } else {
    out.kind = CurveKind::kSecp256k1;
  }
  out.near_public_key = key;
  return out;
}

Status check_keyshares_cover_keyset(const std::vector<Keyshare>& shares, const Keyset& keyset) {
  std::set<std::uint64_t> seen;
  for (const auto& s : shares) {
    if (!seen.insert(s.key_id.domain_id).second) {
      return invalid("two keyshares for domain " + std::to_string(s.key_id.domain_id));
    }
    const KeyForDomain* entry = keyset.find(s.key_id.domain_id);
    if (entry == nullptr) {
      return invalid("keyshare for domain " + std::to_string(s.key_id.domain_id) + " is not in the keyset (extra domain)");
    }
    MPC_TRY(check_keyshare_consistent(s, keyset.epoch_id, *entry));
  }
  for (const auto& d : keyset.domains) {
    if (!seen.contains(d.domain_id)) return invalid("no keyshare for domain " + std::to_string(d.domain_id) + " (missing domain)");
  }
  return {};
}

void wipe_private_shares(json& j) {
  if (j.is_array()) {
    for (auto& item : j) wipe_private_shares(item);
  } else if (j.is_object()) {
    for (auto& [name, value] : j.items()) {
      if (name == "private_share" && value.is_string()) {
        auto& s = value.get_ref<std::string&>();
        secure_wipe(s.data(), s.size());
      } else if (value.is_structured()) {
        wipe_private_shares(value);
      }
    }
  }
}

}  // namespace mpc::model
