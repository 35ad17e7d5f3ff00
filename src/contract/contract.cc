#include "contract/contract.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "core/types.h"
#include "core/u128.h"

namespace mpc::contract {

namespace {

using json = nlohmann::json;
using core::ErrorCode;

// A contract panic: the whole call reverts with this message.
std::unexpected<core::Error> panic(std::string message) { return core::fail(ErrorCode::kFailedPrecondition, std::move(message)); }
std::unexpected<core::Error> bad_args(const std::string& what) {
  return core::fail(ErrorCode::kInvalidArgument, "Failed to deserialize input from JSON: " + what);
}

// ---- argument and state validation ----

core::Result<std::uint64_t> u64_field(const json& obj, const char* name, const std::string& path) {
  auto n = obj.is_object() && obj.contains(name) ? core::json_u64(obj[name]) : std::nullopt;
  if (!n) return bad_args(path + "." + name + " must be an unsigned integer");
  return *n;
}

core::Result<std::string> string_field(const json& obj, const char* name, const std::string& path) {
  if (!obj.is_object() || !obj.contains(name) || !obj[name].is_string()) {
    return bad_args(path + "." + name + " must be a string");
  }
  return obj[name].get<std::string>();
}

core::Status check_ed25519_key(const json& obj, const char* name, const std::string& path) {
  MPC_ASSIGN(std::string text, string_field(obj, name, path));
  if (!core::parse_ed25519_public_key(text)) return bad_args(path + "." + name + " must be an \"ed25519:<base58>\" public key");
  return {};
}

core::Status check_participant_info(const json& info, const std::string& path) {
  MPC_ASSIGN(std::string url, string_field(info, "url", path));
  if (url.empty()) return bad_args(path + ".url must not be empty");
  return check_ed25519_key(info, "tls_public_key", path);
}

core::Status check_threshold_parameters(const json& p, const std::string& path) {
  if (!p.is_object() || !p.contains("participants") || !p["participants"].is_object()) {
    return bad_args(path + ".participants must be an object");
  }
  const json& ps = p["participants"];
  MPC_ASSIGN(std::uint64_t next_id, u64_field(ps, "next_id", path + ".participants"));
  if (!ps.contains("participants") || !ps["participants"].is_array()) {
    return bad_args(path + ".participants.participants must be an array");
  }
  std::set<std::string> accounts;
  std::set<std::uint64_t> ids;
  std::set<std::string> tls_keys;
  for (std::size_t i = 0; i < ps["participants"].size(); ++i) {
    const json& e = ps["participants"][i];
    const std::string where = path + ".participants.participants[" + std::to_string(i) + "]";
    if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !core::json_u64(e[1]) || !e[2].is_object()) {
      return bad_args(where + " must be [account_id, participant_id, {url, tls_public_key}]");
    }
    const std::string account = e[0].get<std::string>();
    const std::uint64_t id = *core::json_u64(e[1]);
    if (!core::is_valid_account_id(account)) return bad_args(where + " has an invalid account id");
    if (!accounts.insert(account).second) return panic("Participant " + account + " is listed twice.");
    if (!ids.insert(id).second) return panic("Participant id " + std::to_string(id) + " is used twice.");
    if (id >= next_id) return panic("Participant id " + std::to_string(id) + " is not below next_id " + std::to_string(next_id) + ".");
    MPC_TRY(check_participant_info(e[2], where + "[2]"));
    if (!tls_keys.insert(e[2]["tls_public_key"].get<std::string>()).second) {
      return panic("Two participants share the TLS key " + e[2]["tls_public_key"].get<std::string>() + ".");
    }
  }
  MPC_ASSIGN(std::uint64_t threshold, u64_field(p, "threshold", path));
  const std::uint64_t n = ps["participants"].size();
  if (n < 2) return panic("There must be at least 2 participants.");
  if (threshold < 2 || threshold > n) return panic("Threshold must be between 2 and the number of participants.");
  if (5 * threshold < 3 * n) return panic("Threshold must be at least 60% of the number of participants.");
  return {};
}

core::Status check_public_key_extended(const json& k, const std::string& path) {
  if (!k.is_object() || k.size() != 1) return bad_args(path + " must have exactly one of Secp256k1, Ed25519, Bls12381");
  const std::string variant = k.begin().key();
  const json& body = k.begin().value();
  if (variant == "Secp256k1") {
    MPC_ASSIGN(std::string text, string_field(body, "near_public_key", path + ".Secp256k1"));
    auto pk = core::NearPublicKey::parse(text);
    if (!pk || pk->is_ed25519()) return bad_args(path + ".Secp256k1.near_public_key must be a secp256k1 key");
    return {};
  }
  if (variant == "Ed25519") {
    MPC_TRY(check_ed25519_key(body, "near_public_key_compressed", path + ".Ed25519"));
    if (!body.contains("edwards_point") || !body["edwards_point"].is_array() || body["edwards_point"].size() != 32) {
      return bad_args(path + ".Ed25519.edwards_point must be 32 bytes");
    }
    for (const auto& b : body["edwards_point"]) {
      auto byte = core::json_u64(b);
      if (!byte || *byte > 255) return bad_args(path + ".Ed25519.edwards_point must hold bytes");
    }
    return {};
  }
  if (variant == "Bls12381") {
    MPC_ASSIGN(std::string text, string_field(body, "public_key", path + ".Bls12381"));
    if (!text.starts_with("bls12381g2:")) return bad_args(path + ".Bls12381.public_key must start with bls12381g2:");
    return {};
  }
  return bad_args(path + " has unknown variant " + variant);
}

core::Status check_keyset(const json& ks, const std::string& path) {
  MPC_TRY(u64_field(ks, "epoch_id", path));
  if (!ks.contains("domains") || !ks["domains"].is_array()) return bad_args(path + ".domains must be an array");
  for (std::size_t i = 0; i < ks["domains"].size(); ++i) {
    const json& d = ks["domains"][i];
    const std::string where = path + ".domains[" + std::to_string(i) + "]";
    MPC_TRY(u64_field(d, "domain_id", where));
    MPC_TRY(u64_field(d, "attempt", where));
    if (!d.contains("key")) return bad_args(where + ".key is missing");
    MPC_TRY(check_public_key_extended(d["key"], where + ".key"));
  }
  return {};
}

core::Status check_domain_config(const json& d, const std::string& path) {
  MPC_TRY(u64_field(d, "id", path));
  MPC_TRY(string_field(d, "protocol", path));
  return {};
}

core::Status check_running_body(const json& r, const std::string& path) {
  if (!r.is_object()) return bad_args(path + " must be an object");
  if (!r.contains("domains") || !r["domains"].is_object() || !r["domains"].contains("domains") ||
      !r["domains"]["domains"].is_array()) {
    return bad_args(path + ".domains.domains must be an array");
  }
  MPC_TRY(u64_field(r["domains"], "next_domain_id", path + ".domains"));
  for (std::size_t i = 0; i < r["domains"]["domains"].size(); ++i) {
    MPC_TRY(check_domain_config(r["domains"]["domains"][i], path + ".domains.domains[" + std::to_string(i) + "]"));
  }
  if (!r.contains("keyset")) return bad_args(path + ".keyset is missing");
  MPC_TRY(check_keyset(r["keyset"], path + ".keyset"));
  if (!r.contains("parameters")) return bad_args(path + ".parameters is missing");
  return check_threshold_parameters(r["parameters"], path + ".parameters");
}

// An empty vote map, as the reference contract shows it.
json empty_votes() { return json{{"proposal_by_account", json::object()}}; }

json running_body(json domains, json keyset, json parameters) {
  return json{{"domains", std::move(domains)},
              {"keyset", std::move(keyset)},
              {"parameters", std::move(parameters)},
              {"parameters_votes", empty_votes()},
              {"add_domains_votes", empty_votes()}};
}

json key_event(std::uint64_t epoch_id, const json& domain, const json& parameters, std::uint64_t attempt_id) {
  return json{{"epoch_id", epoch_id},
              {"domain", domain},
              {"parameters", parameters},
              {"instance", {{"attempt_id", attempt_id}, {"completed", json::array()}, {"public_key", nullptr}}},
              {"next_attempt_id", attempt_id + 1}};
}

const json* find_participant(const json& parameters, const std::string& account) {
  for (const auto& e : parameters["participants"]["participants"]) {
    if (e[0] == account) return &e;
  }
  return nullptr;
}

std::size_t participant_count(const json& parameters) { return parameters["participants"]["participants"].size(); }

std::uint64_t threshold_of(const json& parameters) { return parameters["threshold"].get<std::uint64_t>(); }

std::string state_name(const json& protocol) {
  if (protocol.is_string()) return protocol.get<std::string>();
  return protocol.begin().key();
}

}  // namespace

// ------------------------------------------------------------------ state

struct MpcContract::State {
  json protocol = "NotInitialized";            // exactly the `state` view
  std::map<std::string, json> backup_services;  // account -> BackupServiceInfo
  std::map<std::string, json> migrations;       // account -> DestinationNodeInfo

  bool is(const char* name) const { return state_name(protocol) == name; }

  // Participants who may act now (the current parameters).
  const json* current_parameters() const {
    if (is("Running")) return &protocol["Running"]["parameters"];
    if (is("Initializing")) return &protocol["Initializing"]["generating_key"]["parameters"];
    if (is("Resharing")) return &protocol["Resharing"]["previous_running_state"]["parameters"];
    return nullptr;
  }
  const json* prospective_parameters() const {
    if (is("Resharing")) return &protocol["Resharing"]["resharing_key"]["parameters"];
    return nullptr;
  }
  bool is_participant(const std::string& account) const {
    const json* p = current_parameters();
    return p != nullptr && find_participant(*p, account) != nullptr;
  }
  bool is_prospective(const std::string& account) const {
    const json* p = prospective_parameters();
    return p != nullptr && find_participant(*p, account) != nullptr;
  }

  // Moves to a new protocol state; leaving Running for Initializing or
  // Resharing cancels every ongoing migration (protocol changes win).
  void transition(json next) {
    const bool was_running = is("Running");
    protocol = std::move(next);
    if (was_running && (is("Initializing") || is("Resharing"))) migrations.clear();
    remove_orphans();
  }

  // Drops backup services and migrations of accounts that are neither
  // current nor prospective participants.
  void remove_orphans() {
    auto orphan = [&](const std::string& a) { return !is_participant(a) && !is_prospective(a); };
    std::erase_if(backup_services, [&](const auto& kv) { return orphan(kv.first); });
    std::erase_if(migrations, [&](const auto& kv) { return orphan(kv.first); });
  }
};

MpcContract::MpcContract() : state_(std::make_unique<State>()) {}
MpcContract::MpcContract(std::unique_ptr<State> s) : state_(std::move(s)) {}
MpcContract::~MpcContract() = default;
MpcContract::MpcContract(MpcContract&&) noexcept = default;
MpcContract& MpcContract::operator=(MpcContract&&) noexcept = default;

MpcContract MpcContract::clone() const { return MpcContract(std::make_unique<State>(*state_)); }

// ------------------------------------------------------------------ methods

namespace {

using Handler = core::Result<CallOutcome> (*)(MpcContract::State&, const CallContext&, const json&);

core::Status require_no_deposit(const CallContext& ctx, std::string_view method) {
  if (ctx.attached_deposit != 0) return panic("Method " + std::string(method) + " doesn't accept deposit");
  return {};
}

core::Result<core::u128> require_deposit(const CallContext& ctx) {
  if (ctx.attached_deposit < 1) {
    return panic("Attached deposit is lower than required. Attached: " + core::u128_to_string(ctx.attached_deposit) +
                 ", required: 1.");
  }
  return ctx.attached_deposit - 1;  // refund everything above 1 yoctoNEAR
}

core::Status require_direct_call(const CallContext& ctx) {
  if (ctx.signer_account_id != ctx.predecessor_account_id) {
    return panic("This method must be called directly by the signer, not through another contract.");
  }
  return {};
}

core::Status require_participant(const MpcContract::State& s, const CallContext& ctx) {
  if (!s.is_participant(ctx.signer_account_id)) {
    return panic("Caller " + ctx.signer_account_id + " is not a participant.");
  }
  return {};
}

CallOutcome unit_outcome(core::u128 refund = 0, std::vector<std::string> logs = {}) {
  return CallOutcome{{}, std::move(logs), refund};
}

core::Result<CallOutcome> m_init(MpcContract::State& s, const CallContext& ctx, const json& args) {
  if (!s.is("NotInitialized")) return panic("The contract is already initialized.");
  if (!ctx.current_account_id.empty() && ctx.predecessor_account_id != ctx.current_account_id) {
    return panic("Only the contract account may initialize the contract.");
  }
  MPC_TRY(require_no_deposit(ctx, "init"));
  if (!args.contains("parameters")) return bad_args("parameters is missing");
  MPC_TRY(check_threshold_parameters(args["parameters"], "parameters"));
  s.transition(json{{"Running", running_body(json{{"domains", json::array()}, {"next_domain_id", 0}},
                                             json{{"epoch_id", 0}, {"domains", json::array()}}, args["parameters"])}});
  return unit_outcome(0, {"contract initialized"});
}

core::Result<CallOutcome> m_register_backup_service(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  if (s.is("NotInitialized")) return panic("The contract is not initialized.");
  if (!s.is_participant(ctx.signer_account_id) && !s.is_prospective(ctx.signer_account_id)) {
    return panic("Caller " + ctx.signer_account_id + " is neither a participant nor a prospective participant.");
  }
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (!args.contains("backup_service_info")) return bad_args("backup_service_info is missing");
  const json& info = args["backup_service_info"];
  MPC_TRY(check_ed25519_key(info, "public_key", "backup_service_info"));
  s.backup_services[ctx.signer_account_id] = json{{"public_key", info["public_key"]}};
  return unit_outcome(refund, {"registered backup service " + info["public_key"].get<std::string>() + " for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_start_node_migration(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (!args.contains("destination_node_info")) return bad_args("destination_node_info is missing");
  const json& d = args["destination_node_info"];
  MPC_TRY(check_ed25519_key(d, "signer_account_pk", "destination_node_info"));
  if (!d.contains("destination_node_info")) return bad_args("destination_node_info.destination_node_info is missing");
  MPC_TRY(check_participant_info(d["destination_node_info"], "destination_node_info.destination_node_info"));
  s.migrations[ctx.signer_account_id] =
      json{{"signer_account_pk", d["signer_account_pk"]},
           {"destination_node_info",
            {{"url", d["destination_node_info"]["url"]}, {"tls_public_key", d["destination_node_info"]["tls_public_key"]}}}};
  return unit_outcome(refund, {"started node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_conclude_node_migration(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, "conclude_node_migration"));
  if (!args.contains("keyset")) return bad_args("keyset is missing");
  MPC_TRY(check_keyset(args["keyset"], "keyset"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  if (args["keyset"] != s.protocol["Running"]["keyset"]) {
    return panic("The provided keyset does not match the current keyset.");
  }
  auto it = s.migrations.find(ctx.signer_account_id);
  if (it == s.migrations.end()) return panic("Node does not have an ongoing recovery");
  if (ctx.signer_public_key.to_string() != it->second["signer_account_pk"].get<std::string>()) {
    return panic("The transaction's signer key " + ctx.signer_public_key.to_string() +
                 " is not the destination node's access key " + it->second["signer_account_pk"].get<std::string>() + ".");
  }
  for (auto& e : s.protocol["Running"]["parameters"]["participants"]["participants"]) {
    if (e[0] == ctx.signer_account_id) e[2] = it->second["destination_node_info"];
  }
  s.migrations.erase(it);
  return unit_outcome(0, {"concluded node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_cancel_node_migration(MpcContract::State& s, const CallContext& ctx, const json&) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, "cancel_node_migration"));
  MPC_TRY(require_participant(s, ctx));
  if (s.migrations.erase(ctx.signer_account_id) == 0) return panic("Node does not have an ongoing recovery");
  return unit_outcome(0, {"cancelled node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_update_participant_url(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, "update_participant_url"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(std::string url, string_field(args, "url", "args"));
  if (url.empty()) return bad_args("url must not be empty");
  for (auto& e : s.protocol["Running"]["parameters"]["participants"]["participants"]) {
    if (e[0] == ctx.signer_account_id) e[2]["url"] = url;
  }
  return unit_outcome();
}

// ---- protocol lifecycle ----

core::Result<CallOutcome> m_vote_add_domains(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "vote_add_domains"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  if (!args.contains("domains") || !args["domains"].is_array() || args["domains"].empty()) {
    return bad_args("domains must be a non-empty array of DomainConfig");
  }
  json& running = s.protocol["Running"];
  std::uint64_t expected = running["domains"]["next_domain_id"].get<std::uint64_t>();
  for (std::size_t i = 0; i < args["domains"].size(); ++i) {
    MPC_TRY(check_domain_config(args["domains"][i], "domains[" + std::to_string(i) + "]"));
    if (args["domains"][i]["id"].get<std::uint64_t>() != expected++) {
      return panic("New domain ids must be consecutive, starting at next_domain_id " +
                   running["domains"]["next_domain_id"].dump() + ".");
    }
  }
  running["add_domains_votes"]["proposal_by_account"][ctx.signer_account_id] = args["domains"];
  std::uint64_t agreeing = 0;
  for (const auto& [account, proposal] : running["add_domains_votes"]["proposal_by_account"].items()) {
    if (proposal == args["domains"] && find_participant(running["parameters"], account)) ++agreeing;
  }
  if (agreeing < threshold_of(running["parameters"])) return unit_outcome(0, {"vote recorded"});
  json domains = running["domains"];
  for (const auto& d : args["domains"]) domains["domains"].push_back(d);
  domains["next_domain_id"] = expected;
  const std::uint64_t epoch = running["keyset"]["epoch_id"].get<std::uint64_t>();
  s.transition(json{{"Initializing",
                     {{"domains", domains},
                      {"epoch_id", epoch},
                      {"generated_keys", running["keyset"]["domains"]},
                      {"generating_key", key_event(epoch, args["domains"][0], running["parameters"], 0)},
                      {"cancel_votes", json::array()}}}});
  return unit_outcome(0, {"adding domains: key generation started"});
}

// The domain after `domain_id` in the registry that has no key yet, if any.
const json* next_domain_after(const json& domains, const json& have_keys, std::uint64_t domain_id) {
  for (const auto& d : domains["domains"]) {
    const std::uint64_t id = d["id"].get<std::uint64_t>();
    if (id <= domain_id) continue;
    bool has = std::any_of(have_keys.begin(), have_keys.end(), [&](const json& k) { return k["domain_id"] == id; });
    if (!has) return &d;
  }
  return nullptr;
}

core::Status check_key_event_id(const json& args, const json& event) {
  if (!args.contains("key_event_id")) return bad_args("key_event_id is missing");
  const json& id = args["key_event_id"];
  MPC_ASSIGN(auto epoch, u64_field(id, "epoch_id", "key_event_id"));
  MPC_ASSIGN(auto domain, u64_field(id, "domain_id", "key_event_id"));
  MPC_ASSIGN(auto attempt, u64_field(id, "attempt_id", "key_event_id"));
  if (epoch != event["epoch_id"] || domain != event["domain"]["id"] || attempt != event["instance"]["attempt_id"]) {
    return panic("The key event id does not match the current key event (epoch " + event["epoch_id"].dump() +
                 ", domain " + event["domain"]["id"].dump() + ", attempt " + event["instance"]["attempt_id"].dump() + ").");
  }
  return {};
}

// Records `account`'s completion vote; returns true once every participant of
// the event has voted.
bool record_completion(json& event, const std::string& account) {
  const json* p = find_participant(event["parameters"], account);
  json& completed = event["instance"]["completed"];
  const json id = (*p)[1];
  if (std::find(completed.begin(), completed.end(), id) == completed.end()) completed.push_back(id);
  return completed.size() == participant_count(event["parameters"]);
}

void restart_attempt(json& event) {
  const std::uint64_t next = event["next_attempt_id"].get<std::uint64_t>();
  event["instance"] = {{"attempt_id", next}, {"completed", json::array()}, {"public_key", nullptr}};
  event["next_attempt_id"] = next + 1;
}

core::Result<CallOutcome> m_vote_pk(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "vote_pk"));
  if (!s.is("Initializing")) return panic("The protocol is not Initializing.");
  json& init = s.protocol["Initializing"];
  json& event = init["generating_key"];
  if (!find_participant(event["parameters"], ctx.signer_account_id)) {
    return panic("Caller " + ctx.signer_account_id + " is not a participant.");
  }
  MPC_TRY(check_key_event_id(args, event));
  if (!args.contains("public_key")) return bad_args("public_key is missing");
  MPC_TRY(check_public_key_extended(args["public_key"], "public_key"));
  json& instance = event["instance"];
  if (!instance["public_key"].is_null() && instance["public_key"] != args["public_key"]) {
    restart_attempt(event);  // participants disagree: this attempt failed
    return unit_outcome(0, {"conflicting public key votes: key generation restarts with a new attempt"});
  }
  instance["public_key"] = args["public_key"];
  if (!record_completion(event, ctx.signer_account_id)) return unit_outcome(0, {"vote recorded"});

  const std::uint64_t domain_id = event["domain"]["id"].get<std::uint64_t>();
  init["generated_keys"].push_back(
      json{{"domain_id", domain_id}, {"key", instance["public_key"]}, {"attempt", instance["attempt_id"]}});
  if (const json* next = next_domain_after(init["domains"], init["generated_keys"], domain_id)) {
    event = key_event(init["epoch_id"].get<std::uint64_t>(), *next, event["parameters"], 0);
    return unit_outcome(0, {"key generated for domain " + std::to_string(domain_id)});
  }
  json parameters = event["parameters"];
  s.transition(json{{"Running", running_body(init["domains"], json{{"epoch_id", init["epoch_id"]}, {"domains", init["generated_keys"]}},
                                             parameters)}});
  return unit_outcome(0, {"all keys generated: Running"});
}

core::Result<CallOutcome> m_vote_cancel_keygen(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_keygen"));
  if (!s.is("Initializing")) return panic("The protocol is not Initializing.");
  json& init = s.protocol["Initializing"];
  const json& parameters = init["generating_key"]["parameters"];
  const json* p = find_participant(parameters, ctx.signer_account_id);
  if (!p) return panic("Caller " + ctx.signer_account_id + " is not a participant.");
  if (args.contains("next_domain_id") && args["next_domain_id"] != init["domains"]["next_domain_id"]) {
    return panic("next_domain_id does not match the domains being added.");
  }
  json& votes = init["cancel_votes"];
  if (std::find(votes.begin(), votes.end(), (*p)[1]) == votes.end()) votes.push_back((*p)[1]);
  if (votes.size() < threshold_of(parameters)) return unit_outcome(0, {"vote recorded"});
  // Keep only domains that have keys; ids stay consumed.
  json domains = init["domains"];
  json kept = json::array();
  for (const auto& d : domains["domains"]) {
    const json& gk = init["generated_keys"];
    if (std::any_of(gk.begin(), gk.end(), [&](const json& k) { return k["domain_id"] == d["id"]; })) kept.push_back(d);
  }
  domains["domains"] = kept;
  json parameters_copy = parameters;
  s.transition(json{{"Running", running_body(domains, json{{"epoch_id", init["epoch_id"]}, {"domains", init["generated_keys"]}},
                                             parameters_copy)}});
  return unit_outcome(0, {"key generation cancelled: Running"});
}

core::Result<CallOutcome> m_vote_new_parameters(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "vote_new_parameters"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  json& running = s.protocol["Running"];
  MPC_ASSIGN(auto epoch, u64_field(args, "prospective_epoch_id", "args"));
  if (!args.contains("proposal")) return bad_args("proposal is missing");
  const json& proposal = args["proposal"];
  MPC_TRY(check_threshold_parameters(proposal, "proposal"));
  const std::uint64_t current_epoch = running["keyset"]["epoch_id"].get<std::uint64_t>();
  if (epoch != current_epoch + 1) {
    return panic("prospective_epoch_id must be the current epoch + 1 (" + std::to_string(current_epoch + 1) + ").");
  }
  const bool is_old = find_participant(running["parameters"], ctx.signer_account_id) != nullptr;
  const bool is_new = find_participant(proposal, ctx.signer_account_id) != nullptr;
  if (!is_old && !is_new) return panic("Caller " + ctx.signer_account_id + " is neither a participant nor in the proposal.");
  // Participants that stay keep their ids; new ones get fresh ids.
  const json& old = running["parameters"]["participants"];
  if (proposal["participants"]["next_id"].get<std::uint64_t>() < old["next_id"].get<std::uint64_t>()) {
    return panic("proposal.participants.next_id must not decrease.");
  }
  for (const auto& e : proposal["participants"]["participants"]) {
    const json* prev = find_participant(running["parameters"], e[0].get<std::string>());
    if (prev ? (*prev)[1] != e[1] : e[1].get<std::uint64_t>() < old["next_id"].get<std::uint64_t>()) {
      return panic("Participant " + e[0].get<std::string>() + " must keep its id, and new participants need new ids.");
    }
  }
  std::uint64_t old_in_proposal = 0;
  for (const auto& e : proposal["participants"]["participants"]) {
    if (find_participant(running["parameters"], e[0].get<std::string>())) ++old_in_proposal;
  }
  if (old_in_proposal < threshold_of(running["parameters"])) {
    return panic("The proposal must keep at least threshold current participants, or the keys cannot be reshared.");
  }
  running["parameters_votes"]["proposal_by_account"][ctx.signer_account_id] = proposal;
  std::uint64_t old_votes = 0;
  std::uint64_t new_votes = 0;
  for (const auto& [account, p] : running["parameters_votes"]["proposal_by_account"].items()) {
    if (p != proposal) continue;
    if (find_participant(running["parameters"], account)) ++old_votes;
    if (find_participant(proposal, account)) ++new_votes;
  }
  if (old_votes < threshold_of(running["parameters"]) || new_votes < participant_count(proposal)) {
    return unit_outcome(0, {"vote recorded"});
  }
  json previous = running;
  previous["parameters_votes"] = empty_votes();
  previous["add_domains_votes"] = empty_votes();
  if (previous["keyset"]["domains"].empty()) {
    // Nothing to reshare: the new parameters take effect at once.
    s.transition(json{{"Running", running_body(previous["domains"], json{{"epoch_id", epoch}, {"domains", json::array()}}, proposal)}});
    return unit_outcome(0, {"new parameters: Running (no keys to reshare)"});
  }
  const std::uint64_t first_domain = previous["keyset"]["domains"][0]["domain_id"].get<std::uint64_t>();
  json first_config;
  for (const auto& d : previous["domains"]["domains"]) {
    if (d["id"] == first_domain) first_config = d;
  }
  s.transition(json{{"Resharing",
                     {{"previous_running_state", previous},
                      {"reshared_keys", json::array()},
                      {"resharing_key", key_event(epoch, first_config, proposal, 0)},
                      {"cancellation_requests", json::array()}}}});
  return unit_outcome(0, {"resharing started for epoch " + std::to_string(epoch)});
}

core::Result<CallOutcome> m_vote_reshared(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "vote_reshared"));
  if (!s.is("Resharing")) return panic("The protocol is not Resharing.");
  json& r = s.protocol["Resharing"];
  json& event = r["resharing_key"];
  if (!find_participant(event["parameters"], ctx.signer_account_id)) {
    return panic("Caller " + ctx.signer_account_id + " is not a participant of the new parameters.");
  }
  MPC_TRY(check_key_event_id(args, event));
  if (!record_completion(event, ctx.signer_account_id)) return unit_outcome(0, {"vote recorded"});
  const std::uint64_t domain_id = event["domain"]["id"].get<std::uint64_t>();
  const json& previous = r["previous_running_state"];
  json key;
  const json* next_config = nullptr;
  bool seen = false;
  for (const auto& k : previous["keyset"]["domains"]) {
    if (seen && next_config == nullptr) {
      for (const auto& d : previous["domains"]["domains"]) {
        if (d["id"] == k["domain_id"]) next_config = &d;
      }
    }
    if (k["domain_id"] == domain_id) {
      key = k["key"];
      seen = true;
    }
  }
  r["reshared_keys"].push_back(json{{"domain_id", domain_id}, {"key", key}, {"attempt", event["instance"]["attempt_id"]}});
  if (next_config != nullptr) {
    event = key_event(event["epoch_id"].get<std::uint64_t>(), *next_config, event["parameters"], 0);
    return unit_outcome(0, {"domain " + std::to_string(domain_id) + " reshared"});
  }
  json parameters = event["parameters"];
  json keyset = {{"epoch_id", event["epoch_id"]}, {"domains", r["reshared_keys"]}};
  json domains = previous["domains"];
  s.transition(json{{"Running", running_body(domains, keyset, parameters)}});
  return unit_outcome(0, {"resharing complete: Running at epoch " + keyset["epoch_id"].dump()});
}

core::Result<CallOutcome> m_vote_cancel_resharing(MpcContract::State& s, const CallContext& ctx, const json&) {
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_resharing"));
  if (!s.is("Resharing")) return panic("The protocol is not Resharing.");
  json& r = s.protocol["Resharing"];
  const json& parameters = r["previous_running_state"]["parameters"];
  const json* p = find_participant(parameters, ctx.signer_account_id);
  if (!p) return panic("Caller " + ctx.signer_account_id + " is not a participant.");
  json& votes = r["cancellation_requests"];
  if (std::find(votes.begin(), votes.end(), (*p)[0]) == votes.end()) votes.push_back((*p)[0]);
  if (votes.size() < threshold_of(parameters)) return unit_outcome(0, {"vote recorded"});
  json previous = r["previous_running_state"];
  s.transition(json{{"Running", previous}});
  return unit_outcome(0, {"resharing cancelled: Running"});
}

const std::map<std::string, Handler, std::less<>>& handlers() {
  static const std::map<std::string, Handler, std::less<>> h = {
      {"init", m_init},
      {"register_backup_service", m_register_backup_service},
      {"start_node_migration", m_start_node_migration},
      {"conclude_node_migration", m_conclude_node_migration},
      {"cancel_node_migration", m_cancel_node_migration},
      {"update_participant_url", m_update_participant_url},
      {"vote_add_domains", m_vote_add_domains},
      {"vote_pk", m_vote_pk},
      {"vote_cancel_keygen", m_vote_cancel_keygen},
      {"vote_new_parameters", m_vote_new_parameters},
      {"vote_reshared", m_vote_reshared},
      {"vote_cancel_resharing", m_vote_cancel_resharing},
  };
  return h;
}

core::Result<json> parse_args(core::ByteView args) {
  if (args.empty()) return json::object();
  json j = json::parse(args.begin(), args.end(), nullptr, false);
  if (j.is_discarded()) return bad_args("the arguments are not valid JSON");
  if (!j.is_object()) return bad_args("the arguments must be a JSON object");
  return j;
}

}  // namespace

core::Result<CallOutcome> MpcContract::call(const CallContext& ctx, std::string_view method, core::ByteView args_json) {
  auto it = handlers().find(method);
  if (it == handlers().end()) return core::fail(ErrorCode::kNotFound, "Method " + std::string(method) + " not found");
  MPC_ASSIGN(json args, parse_args(args_json));
  // Execute on a copy: any error leaves the contract exactly as it was.
  State scratch = *state_;
  MPC_ASSIGN(CallOutcome out, it->second(scratch, ctx, args));
  *state_ = std::move(scratch);
  return out;
}

core::Result<core::Bytes> MpcContract::view(std::string_view method, core::ByteView args_json) const {
  MPC_ASSIGN(json args, parse_args(args_json));
  json out;
  if (method == "state") {
    out = state_->protocol;
  } else if (method == "migration_info") {
    out = json::object();
    std::set<std::string> accounts;
    for (const auto& [a, _] : state_->backup_services) accounts.insert(a);
    for (const auto& [a, _] : state_->migrations) accounts.insert(a);
    for (const auto& a : accounts) {
      auto b = state_->backup_services.find(a);
      auto m = state_->migrations.find(a);
      out[a] = json::array({b == state_->backup_services.end() ? json(nullptr) : b->second,
                            m == state_->migrations.end() ? json(nullptr) : m->second});
    }
  } else if (method == "version") {
    out = "mpc-sandbox-contract 0.1.0";
  } else {
    return core::fail(ErrorCode::kNotFound, "Method " + std::string(method) + " not found");
  }
  std::string text = out.dump();
  return core::Bytes(text.begin(), text.end());
}

std::string MpcContract::serialize() const {
  json backups = json::object();
  for (const auto& [a, b] : state_->backup_services) backups[a] = b;
  json migrations = json::object();
  for (const auto& [a, m] : state_->migrations) migrations[a] = m;
  return json{{"version", 1}, {"protocol_state", state_->protocol}, {"backup_services", backups}, {"migrations", migrations}}.dump();
}

core::Result<MpcContract> MpcContract::deserialize(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return core::invalid("contract state is not a JSON object");
  if (!j.contains("protocol_state")) return core::invalid("contract state has no protocol_state");
  auto s = std::make_unique<State>();
  s->protocol = j["protocol_state"];
  const json& p = s->protocol;
  if (p.is_string()) {
    if (p != "NotInitialized") return core::invalid("protocol_state must be \"NotInitialized\" or an object");
  } else if (!p.is_object() || p.size() != 1) {
    return core::invalid("protocol_state must have exactly one of Initializing, Running, Resharing");
  } else if (s->is("Running")) {
    auto st = check_running_body(p["Running"], "protocol_state.Running");
    if (!st) return core::invalid(st.error().message);
    if (!p["Running"].contains("parameters_votes")) s->protocol["Running"]["parameters_votes"] = empty_votes();
    if (!p["Running"].contains("add_domains_votes")) s->protocol["Running"]["add_domains_votes"] = empty_votes();
  } else if (s->is("Resharing")) {
    auto st = check_running_body(p["Resharing"].value("previous_running_state", json()), "protocol_state.Resharing.previous_running_state");
    if (!st) return core::invalid(st.error().message);
    if (!p["Resharing"].contains("resharing_key")) return core::invalid("protocol_state.Resharing.resharing_key is missing");
  } else if (s->is("Initializing")) {
    if (!p["Initializing"].contains("generating_key") || !p["Initializing"].contains("domains")) {
      return core::invalid("protocol_state.Initializing needs domains and generating_key");
    }
  } else {
    return core::invalid("protocol_state has unknown state " + state_name(p));
  }
  for (const char* map : {"backup_services", "migrations"}) {
    if (!j.contains(map)) continue;
    if (!j[map].is_object()) return core::invalid(std::string(map) + " must be an object keyed by account id");
    for (const auto& [account, value] : j[map].items()) {
      if (std::string(map) == "backup_services") {
        auto st = check_ed25519_key(value, "public_key", std::string(map) + "." + account);
        if (!st) return core::invalid(st.error().message);
        s->backup_services[account] = value;
      } else {
        auto st = check_ed25519_key(value, "signer_account_pk", std::string(map) + "." + account);
        if (!st) return core::invalid(st.error().message);
        s->migrations[account] = value;
      }
    }
  }
  return MpcContract(std::move(s));
}

}  // namespace mpc::contract
