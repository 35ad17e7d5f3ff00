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
    if (!accounts.insert(account).second) return panic("Duplicate account IDs found.");
    if (!ids.insert(id).second) return panic("Duplicate participant IDs found.");
    if (id >= next_id) {
      return panic("Participant ID " + std::to_string(id) + " is not less than next_id " + std::to_string(next_id) + ".");
    }
    MPC_TRY(check_participant_info(e[2], where + "[2]"));
    if (!tls_keys.insert(e[2]["tls_public_key"].get<std::string>()).second) {
      return panic("Two participants share the TLS key " + e[2]["tls_public_key"].get<std::string>() + ".");
    }
  }
  MPC_ASSIGN(std::uint64_t threshold, u64_field(p, "threshold", path));
  // The reference's rules: 2 <= threshold <= n and threshold >= ceil(60% of n).
  const std::uint64_t n = ps["participants"].size();
  if (threshold > n) {
    return panic("Threshold must not exceed number of participants: max " + std::to_string(n) + ", found " +
                 std::to_string(threshold));
  }
  if (threshold < 2) return panic("Threshold does not meet the minimum absolute requirement");
  const std::uint64_t at_least = (3 * n + 4) / 5;
  if (threshold < at_least) {
    return panic("Threshold does not meet the minimum relative requirement: require at least " + std::to_string(at_least) +
                 ", found " + std::to_string(threshold));
  }
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

// A key event as this contract keeps it (the generating or resharing key).
core::Status check_key_event(const json& e, const std::string& path) {
  if (!e.is_object()) return bad_args(path + " must be an object");
  MPC_TRY(u64_field(e, "epoch_id", path));
  MPC_TRY(u64_field(e, "next_attempt_id", path));
  if (!e.contains("domain")) return bad_args(path + ".domain is missing");
  MPC_TRY(check_domain_config(e["domain"], path + ".domain"));
  if (!e.contains("parameters")) return bad_args(path + ".parameters is missing");
  MPC_TRY(check_threshold_parameters(e["parameters"], path + ".parameters"));
  const json& instance = e.value("instance", json());
  MPC_TRY(u64_field(instance, "attempt_id", path + ".instance"));
  if (!instance.value("completed", json()).is_array()) return bad_args(path + ".instance.completed must be an array");
  if (!instance.contains("public_key")) return bad_args(path + ".instance.public_key is missing");
  return {};
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

// How long an attempt of a key event lasts, in blocks (the reference's
// default). Shown in the state view as the instance's `expires_on`; the
// attempt is not timed out by this contract yet (key events are voted by
// operators here), so it is informational.
constexpr std::uint64_t kKeyEventTimeoutBlocks = 30;

json key_event_instance(std::uint64_t attempt_id, std::uint64_t started_in) {
  return json{{"attempt_id", attempt_id},
              {"started_in", started_in},
              {"expires_on", started_in + kKeyEventTimeoutBlocks},
              {"completed", json::array()},
              {"public_key", nullptr}};
}

json key_event(std::uint64_t epoch_id, const json& domain, const json& parameters, std::uint64_t attempt_id,
               std::uint64_t started_in) {
  return json{{"epoch_id", epoch_id},
              {"domain", domain},
              {"parameters", parameters},
              {"instance", key_event_instance(attempt_id, started_in)},
              {"next_attempt_id", attempt_id + 1}};
}

// Fields the reference's state types require that an older state (a genesis
// taken from another contract version) may lack: a domain's
// `reconstruction_threshold` (that of the parameters it was generated
// under), a key event instance's `started_in` / `expires_on`.
void fill_reference_fields(json& domains, const json& parameters) {
  if (!domains.is_object() || !domains.contains("domains") || !domains["domains"].is_array()) return;
  for (auto& d : domains["domains"]) {
    if (d.is_object() && !d.contains("reconstruction_threshold") && parameters.is_object() && parameters.contains("threshold"))
      d["reconstruction_threshold"] = parameters["threshold"];
  }
}
void fill_reference_fields_of_event(json& event) {
  if (!event.is_object()) return;
  if (event.contains("domain") && event["domain"].is_object() && !event["domain"].contains("reconstruction_threshold") &&
      event.contains("parameters") && event["parameters"].is_object() && event["parameters"].contains("threshold"))
    event["domain"]["reconstruction_threshold"] = event["parameters"]["threshold"];
  if (event.contains("instance") && event["instance"].is_object()) {
    json& instance = event["instance"];
    if (!instance.contains("started_in")) instance["started_in"] = 0;
    if (!instance.contains("expires_on")) instance["expires_on"] = core::json_u64(instance["started_in"]).value_or(0) + kKeyEventTimeoutBlocks;
  }
}

const json* find_participant(const json& parameters, const std::string& account) {
  for (const auto& e : parameters["participants"]["participants"]) {
    if (e[0] == account) return &e;
  }
  return nullptr;
}

std::size_t participant_count(const json& parameters) { return parameters["participants"]["participants"].size(); }

std::uint64_t threshold_of(const json& parameters) { return core::json_u64(parameters["threshold"]).value_or(0); }

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

std::unexpected<core::Error> not_participant(const std::string& account) { return panic("Not a participant: " + account); }

core::Status require_no_deposit(const CallContext& ctx, std::string_view method) {
  if (ctx.attached_deposit != 0) return panic("Method " + std::string(method) + " doesn't accept deposit");
  return {};
}

core::Result<core::u128> require_deposit(const CallContext& ctx) {
  if (ctx.attached_deposit < 1) {
    return panic("Attached deposit is lower than required. Attached: " + core::u128_to_string(ctx.attached_deposit) +
                 ", required: 1");
  }
  return ctx.attached_deposit - 1;  // refund everything above 1 yoctoNEAR
}

core::Status require_direct_call(const CallContext& ctx) {
  if (ctx.signer_account_id != ctx.predecessor_account_id) {
    return panic("Caller is not the signer account.");
  }
  return {};
}

core::Status require_participant(const MpcContract::State& s, const CallContext& ctx) {
  if (!s.is_participant(ctx.signer_account_id)) return not_participant(ctx.signer_account_id);
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
  if (s.is("NotInitialized")) return panic("Unexpected protocol state: NotInitialized");
  if (!s.is_participant(ctx.signer_account_id) && !s.is_prospective(ctx.signer_account_id)) {
    return not_participant(ctx.signer_account_id);
  }
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (!args.contains("backup_service_info")) return bad_args("backup_service_info is missing");
  const json& info = args["backup_service_info"];
  MPC_TRY(check_ed25519_key(info, "public_key", "backup_service_info"));
  s.backup_services[ctx.signer_account_id] = json{{"public_key", info["public_key"]}};
  return unit_outcome(refund, {"registered backup service " + info["public_key"].get<std::string>() + " for " + ctx.signer_account_id});
}

// A migration may not take an identity that is already someone's: the
// destination TLS key must be no current participant's key (the caller's
// own included: that node is the one being replaced) and not the destination
// of another account's ongoing migration (near/mpc #4252). Checked when the
// migration starts and again when it concludes, since the state may change
// in between.
core::Status require_tls_key_unclaimed(const MpcContract::State& s, const std::string& account, const json& tls_key) {
  if (const json* params = s.current_parameters()) {
    for (const auto& e : (*params)["participants"]["participants"]) {
      if (e[2]["tls_public_key"] == tls_key) {
        return panic("The destination TLS key " + tls_key.get<std::string>() + " is already the TLS key of participant " +
                     e[0].get<std::string>() + "; a migration needs a new node key.");
      }
    }
  }
  for (const auto& [other, m] : s.migrations) {
    if (other != account && m["destination_node_info"]["tls_public_key"] == tls_key) {
      return panic("The destination TLS key " + tls_key.get<std::string>() + " is already claimed by the ongoing migration of " +
                   other + ".");
    }
  }
  return {};
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
  MPC_TRY(require_tls_key_unclaimed(s, ctx.signer_account_id, d["destination_node_info"]["tls_public_key"]));
  s.migrations[ctx.signer_account_id] =
      json{{"signer_account_pk", d["signer_account_pk"]},
           {"destination_node_info",
            {{"url", d["destination_node_info"]["url"]}, {"tls_public_key", d["destination_node_info"]["tls_public_key"]}}}};
  return unit_outcome(refund, {"started node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_conclude_node_migration(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, "conclude_node_migration"));
  if (!args.contains("keyset") || !args["keyset"].is_object()) return bad_args("keyset must be a Keyset object");
  // Order as in the reference: state, participant, keyset (converted only
  // now, so the first two errors take precedence), migration, signer key.
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  MPC_TRY(check_keyset(args["keyset"], "keyset"));
  const json& expected = s.protocol["Running"]["keyset"];
  if (args["keyset"] != expected) {
    return panic("The submitted keyset differs from the expected keyset. Found: " + args["keyset"].dump() +
                 ", expected: " + expected.dump());
  }
  auto it = s.migrations.find(ctx.signer_account_id);
  if (it == s.migrations.end()) return panic("Node does not have an ongoing recovery");
  if (ctx.signer_public_key.to_string() != it->second["signer_account_pk"].get<std::string>()) {
    return panic("The transaction was submitted by a different public key than expected. Found: " +
                 ctx.signer_public_key.to_string() + ", expected: " + it->second["signer_account_pk"].get<std::string>());
  }
  MPC_TRY(require_tls_key_unclaimed(s, ctx.signer_account_id, it->second["destination_node_info"]["tls_public_key"]));
  for (auto& e : s.protocol["Running"]["parameters"]["participants"]["participants"]) {
    if (e[0] == ctx.signer_account_id) e[2] = it->second["destination_node_info"];
  }
  s.migrations.erase(it);
  return unit_outcome(0, {"concluded node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_cancel_node_migration(MpcContract::State& s, const CallContext& ctx, const json&) {
  // Payable like the reference's: only the operator's full-access key can
  // cancel, never the node's function-call key.
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (s.migrations.erase(ctx.signer_account_id) == 0) return panic("Node does not have an ongoing recovery");
  return unit_outcome(refund, {"cancelled node migration for " + ctx.signer_account_id});
}

core::Result<CallOutcome> m_update_participant_url(MpcContract::State& s, const CallContext& ctx, const json& args) {
  // Reference order: state, participant, deposit. The TLS key and id stay.
  MPC_TRY(require_direct_call(ctx));
  MPC_ASSIGN(std::string url, string_field(args, "url", "args"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  MPC_ASSIGN(auto refund, require_deposit(ctx));
  if (url.empty()) return panic("The participant url must not be empty.");
  for (auto& e : s.protocol["Running"]["parameters"]["participants"]["participants"]) {
    if (e[0] == ctx.signer_account_id) e[2]["url"] = url;
  }
  return unit_outcome(refund, {"updated the url of " + ctx.signer_account_id});
}

// ---- protocol lifecycle ----
//
// A simplification of the reference's key events: there is no leader and no
// explicit "start instance" call; the current attempt of a key event is open
// from the moment the event exists. Every participant of the event must vote
// for an attempt to succeed; a conflicting public key fails the attempt and
// opens the next one (attempts are counted in `next_attempt_id`).

std::uint64_t u64_of(const json& j) { return core::json_u64(j).value_or(0); }

std::unexpected<core::Error> key_event_id_mismatch() { return panic("Key event Id mismatch"); }

// The registry's domain after `domain_id` (registry order), if any.
const json* next_domain_after(const json& domains, std::uint64_t domain_id) {
  bool seen = false;
  for (const auto& d : domains["domains"]) {
    if (seen) return &d;
    if (u64_of(d["id"]) == domain_id) seen = true;
  }
  return nullptr;
}

core::Status check_key_event_id(const json& args, const json& event) {
  if (!args.contains("key_event_id")) return bad_args("key_event_id is missing");
  const json& id = args["key_event_id"];
  MPC_ASSIGN(auto epoch, u64_field(id, "epoch_id", "key_event_id"));
  MPC_ASSIGN(auto domain, u64_field(id, "domain_id", "key_event_id"));
  MPC_ASSIGN(auto attempt, u64_field(id, "attempt_id", "key_event_id"));
  if (epoch != u64_of(event["epoch_id"]) || domain != u64_of(event["domain"]["id"]) ||
      attempt != u64_of(event["instance"]["attempt_id"])) {
    return key_event_id_mismatch();
  }
  return {};
}

// Records `account`'s completion vote (by participant id); true once every
// participant of the event has voted.
bool record_completion(json& event, const std::string& account) {
  const json* p = find_participant(event["parameters"], account);
  json& completed = event["instance"]["completed"];
  const json id = (*p)[1];
  if (std::find(completed.begin(), completed.end(), id) == completed.end()) completed.push_back(id);
  return completed.size() == participant_count(event["parameters"]);
}

void restart_attempt(json& event, std::uint64_t block_height) {
  const std::uint64_t next = u64_of(event["next_attempt_id"]);
  event["instance"] = key_event_instance(next, block_height);
  event["next_attempt_id"] = next + 1;
}

core::Result<CallOutcome> m_vote_add_domains(MpcContract::State& s, const CallContext& ctx, const json& args) {
  if (!args.contains("domains") || !args["domains"].is_array()) return bad_args("domains must be an array of DomainConfig");
  MPC_TRY(require_no_deposit(ctx, "vote_add_domains"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  const json& proposal = args["domains"];
  if (proposal.empty()) return panic("vote_add_domains must add at least one domain");
  json& running = s.protocol["Running"];
  const std::uint64_t first_id = u64_of(running["domains"]["next_domain_id"]);
  std::uint64_t expected = first_id;
  for (std::size_t i = 0; i < proposal.size(); ++i) {
    MPC_TRY(check_domain_config(proposal[i], "domains[" + std::to_string(i) + "]"));
    if (proposal[i].contains("reconstruction_threshold")) {
      auto t = core::json_u64(proposal[i]["reconstruction_threshold"]);
      const std::uint64_t n = participant_count(running["parameters"]);
      if (!t) return bad_args("domains[" + std::to_string(i) + "].reconstruction_threshold must be an unsigned integer");
      if (*t < 2 || *t > n)
        return panic("Domain " + proposal[i]["id"].dump() + ": reconstruction threshold " + std::to_string(*t) +
                     " must be between 2 and the number of participants (" + std::to_string(n) + ").");
    }
    if (u64_of(proposal[i]["id"]) != expected++) {
      return panic("Newly proposed domain IDs are not contiguous. Expected id: " + std::to_string(first_id));
    }
  }
  // Votes are keyed by participant id, replacing the voter's earlier vote.
  const json& parameters = running["parameters"];
  const json voter_id = (*find_participant(parameters, ctx.signer_account_id))[1];
  json& votes = running["add_domains_votes"]["proposal_by_account"];
  votes[voter_id.dump()] = proposal;
  std::uint64_t agreeing = 0;
  for (const auto& e : parameters["participants"]["participants"]) {
    auto it = votes.find(e[1].dump());
    if (it != votes.end() && *it == proposal) ++agreeing;
  }
  // The reference requires every participant to agree.
  if (agreeing < participant_count(parameters)) {
    return unit_outcome(0, {"add-domains vote recorded (" + std::to_string(agreeing) + " of " +
                            std::to_string(participant_count(parameters)) + ")"});
  }
  json domains = running["domains"];
  const std::size_t proposal_start = domains["domains"].size();
  for (json d : proposal) {
    // The reference requires a reconstruction threshold per domain; a
    // proposal without one gets the current threshold.
    if (!d.contains("reconstruction_threshold")) d["reconstruction_threshold"] = parameters["threshold"];
    domains["domains"].push_back(std::move(d));
  }
  domains["next_domain_id"] = expected;
  const std::uint64_t epoch = u64_of(running["keyset"]["epoch_id"]);
  json init = {{"domains", domains},
               {"epoch_id", epoch},
               {"generated_keys", running["keyset"]["domains"]},
               {"generating_key", key_event(epoch, domains["domains"][proposal_start], parameters, 0, ctx.block_height)},
               {"cancel_votes", json::array()}};
  s.transition(json{{"Initializing", std::move(init)}});
  return unit_outcome(0, {"adding domains: key generation started"});
}

core::Result<CallOutcome> m_vote_pk(MpcContract::State& s, const CallContext& ctx, const json& args) {
  if (!args.contains("key_event_id")) return bad_args("key_event_id is missing");
  if (!args.contains("public_key")) return bad_args("public_key is missing");
  MPC_TRY(check_public_key_extended(args["public_key"], "public_key"));
  MPC_TRY(require_no_deposit(ctx, "vote_pk"));
  if (!s.is("Initializing")) return panic("Protocol state is not initializing.");
  json& init = s.protocol["Initializing"];
  json& event = init["generating_key"];
  if (!find_participant(event["parameters"], ctx.signer_account_id)) return not_participant(ctx.signer_account_id);
  MPC_TRY(check_key_event_id(args, event));
  json& instance = event["instance"];
  if (!instance["public_key"].is_null() && instance["public_key"] != args["public_key"]) {
    restart_attempt(event, ctx.block_height);  // participants disagree: this attempt failed
    return unit_outcome(0, {"conflicting public key votes: key generation restarts with a new attempt"});
  }
  instance["public_key"] = args["public_key"];
  if (!record_completion(event, ctx.signer_account_id)) return unit_outcome(0, {"vote recorded"});

  const std::uint64_t domain_id = u64_of(event["domain"]["id"]);
  init["generated_keys"].push_back(
      json{{"domain_id", domain_id}, {"key", instance["public_key"]}, {"attempt", instance["attempt_id"]}});
  if (const json* next = next_domain_after(init["domains"], domain_id)) {
    event = key_event(u64_of(init["epoch_id"]), *next, event["parameters"], 0, ctx.block_height);
    return unit_outcome(0, {"key generated for domain " + std::to_string(domain_id)});
  }
  json parameters = event["parameters"];
  json keyset = {{"epoch_id", init["epoch_id"]}, {"domains", init["generated_keys"]}};
  json domains = init["domains"];
  s.transition(json{{"Running", running_body(std::move(domains), std::move(keyset), std::move(parameters))}});
  return unit_outcome(0, {"all keys generated: Running"});
}

core::Result<CallOutcome> m_vote_cancel_keygen(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto next_domain_id, u64_field(args, "next_domain_id", "args"));
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_keygen"));
  if (!s.is("Initializing")) return panic("Protocol state is not initializing.");
  json& init = s.protocol["Initializing"];
  const json parameters = init["generating_key"]["parameters"];
  const json* p = find_participant(parameters, ctx.signer_account_id);
  if (!p) return not_participant(ctx.signer_account_id);
  if (next_domain_id != u64_of(init["domains"]["next_domain_id"])) return panic("Next domain ID mismatch");
  json& votes = init["cancel_votes"];
  if (std::find(votes.begin(), votes.end(), (*p)[1]) == votes.end()) votes.push_back((*p)[1]);
  if (votes.size() < threshold_of(parameters)) return unit_outcome(0, {"cancel vote recorded"});
  // Keep only the domains that have keys; their ids stay consumed.
  json domains = init["domains"];
  json kept = json::array();
  const json& generated = init["generated_keys"];
  for (const auto& d : domains["domains"]) {
    if (std::any_of(generated.begin(), generated.end(), [&](const json& k) { return k["domain_id"] == d["id"]; })) {
      kept.push_back(d);
    }
  }
  domains["domains"] = std::move(kept);
  json keyset = {{"epoch_id", init["epoch_id"]}, {"domains", generated}};
  s.transition(json{{"Running", running_body(std::move(domains), std::move(keyset), parameters)}});
  return unit_outcome(0, {"key generation cancelled: Running"});
}

// The epoch a resharing from this Running state must use: never one a
// cancelled resharing already used.
std::uint64_t prospective_epoch_id(const json& running) {
  const json& cancelled = running.contains("previously_cancelled_resharing_epoch_id")
                              ? running["previously_cancelled_resharing_epoch_id"]
                              : json();
  return (cancelled.is_null() ? u64_of(running["keyset"]["epoch_id"]) : u64_of(cancelled)) + 1;
}

// The reference's rules for a proposal against the current parameters.
core::Status check_incoming_proposal(const json& current, const json& proposal) {
  std::map<std::uint64_t, std::string> old_by_id;
  for (const auto& e : current["participants"]["participants"]) old_by_id[u64_of(e[1])] = e[0].get<std::string>();
  std::uint64_t n_old = 0;
  std::uint64_t min_new = UINT64_MAX;
  std::uint64_t max_new = 0;
  for (const auto& e : proposal["participants"]["participants"]) {
    const std::string account = e[0].get<std::string>();
    const std::uint64_t id = u64_of(e[1]);
    if (const json* old = find_participant(current, account)) {
      if (u64_of((*old)[1]) != id) {
        return panic("Existing participant " + account + " changed ID from " + (*old)[1].dump() + " to " +
                     std::to_string(id) + ".");
      }
      if ((*old)[2] != e[2]) return panic("Existing participant " + account + " changed info (url or tls_public_key).");
      ++n_old;
    } else {
      if (auto it = old_by_id.find(id); it != old_by_id.end()) {
        return panic("New participant " + account + " reuses ID " + std::to_string(id) +
                     " already assigned to existing participant " + it->second + ".");
      }
      min_new = std::min(min_new, id);
      max_new = std::max(max_new, id);
    }
  }
  if (n_old < threshold_of(current)) {
    return panic("Set of proposed participants must contain at least `threshold` old participants.");
  }
  const std::uint64_t n_new = participant_count(proposal) - n_old;
  if (n_new > 0) {
    if (n_new - 1 != max_new - min_new || min_new != u64_of(current["participants"]["next_id"])) {
      return panic("New Participant ids need to be unique and contiguous.");
    }
    if (max_new + 1 != u64_of(proposal["participants"]["next_id"])) {
      return panic("New Participant ids need to not skip any unused participant ids.");
    }
  }
  return {};
}

core::Result<CallOutcome> m_vote_new_parameters(MpcContract::State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto epoch, u64_field(args, "prospective_epoch_id", "args"));
  if (!args.contains("proposal") || !args["proposal"].is_object()) return bad_args("proposal must be a ThresholdParameters object");
  MPC_TRY(require_no_deposit(ctx, "vote_new_parameters"));
  if (!s.is("Running")) return panic("The protocol is not Running.");
  json& running = s.protocol["Running"];
  const json& proposal = args["proposal"];
  const std::uint64_t expected_epoch = prospective_epoch_id(running);
  if (epoch != expected_epoch) {
    return panic("Provided Epoch Id, " + std::to_string(epoch) + ", does not match expected, " +
                 std::to_string(expected_epoch) + ".");
  }
  MPC_TRY(check_threshold_parameters(proposal, "proposal"));
  const json& current = running["parameters"];
  MPC_TRY(check_incoming_proposal(current, proposal));
  // Only members of the proposal vote; a newcomer only after `threshold`
  // current participants have voted for the same proposal.
  if (!find_participant(proposal, ctx.signer_account_id)) return not_participant(ctx.signer_account_id);
  json& votes = running["parameters_votes"]["proposal_by_account"];
  if (!find_participant(current, ctx.signer_account_id)) {
    std::uint64_t admitted_by = 0;
    for (const auto& [account, p] : votes.items()) {
      if (p == proposal && find_participant(current, account)) ++admitted_by;
    }
    if (admitted_by < threshold_of(current)) {
      return panic("Candidates can only cast a vote after `threshold` participants casted one to admit them");
    }
  }
  votes[ctx.signer_account_id] = proposal;
  std::uint64_t n_votes = 0;
  for (const auto& [account, p] : votes.items()) {
    if (p == proposal && find_participant(proposal, account)) ++n_votes;
  }
  if (n_votes < participant_count(proposal)) {
    return unit_outcome(0, {"parameters vote recorded (" + std::to_string(n_votes) + " of " +
                            std::to_string(participant_count(proposal)) + ")"});
  }
  json previous = running_body(running["domains"], running["keyset"], running["parameters"]);
  if (previous["domains"]["domains"].empty()) {
    // Nothing to reshare: the new parameters take effect at once.
    s.transition(json{{"Running", running_body(previous["domains"], json{{"epoch_id", epoch}, {"domains", json::array()}},
                                               proposal)}});
    return unit_outcome(0, {"new parameters: Running at epoch " + std::to_string(epoch) + " (no keys to reshare)"});
  }
  json first_domain = previous["domains"]["domains"][0];
  json resharing = {{"previous_running_state", previous},
                    {"reshared_keys", json::array()},
                    {"resharing_key", key_event(epoch, first_domain, proposal, 0, ctx.block_height)},
                    {"cancellation_requests", json::array()}};
  s.transition(json{{"Resharing", std::move(resharing)}});
  return unit_outcome(0, {"resharing started for epoch " + std::to_string(epoch)});
}

core::Result<CallOutcome> m_vote_reshared(MpcContract::State& s, const CallContext& ctx, const json& args) {
  if (!args.contains("key_event_id")) return bad_args("key_event_id is missing");
  MPC_TRY(require_no_deposit(ctx, "vote_reshared"));
  if (!s.is("Resharing")) return panic("Protocol state is not resharing.");
  json& r = s.protocol["Resharing"];
  json& event = r["resharing_key"];
  if (!find_participant(event["parameters"], ctx.signer_account_id)) return not_participant(ctx.signer_account_id);
  MPC_TRY(check_key_event_id(args, event));
  if (!record_completion(event, ctx.signer_account_id)) return unit_outcome(0, {"vote recorded"});
  const std::uint64_t domain_id = u64_of(event["domain"]["id"]);
  const json& previous = r["previous_running_state"];
  json key;
  for (const auto& k : previous["keyset"]["domains"]) {
    if (u64_of(k["domain_id"]) == domain_id) key = k["key"];
  }
  r["reshared_keys"].push_back(json{{"domain_id", domain_id}, {"key", key}, {"attempt", event["instance"]["attempt_id"]}});
  if (const json* next = next_domain_after(previous["domains"], domain_id)) {
    event = key_event(u64_of(event["epoch_id"]), *next, event["parameters"], 0, ctx.block_height);
    return unit_outcome(0, {"domain " + std::to_string(domain_id) + " reshared"});
  }
  json parameters = event["parameters"];
  json keyset = {{"epoch_id", event["epoch_id"]}, {"domains", r["reshared_keys"]}};
  json domains = previous["domains"];
  const std::string done = "resharing complete: Running at epoch " + keyset["epoch_id"].dump();
  s.transition(json{{"Running", running_body(std::move(domains), std::move(keyset), std::move(parameters))}});
  return unit_outcome(0, {done});
}

core::Result<CallOutcome> m_vote_cancel_resharing(MpcContract::State& s, const CallContext& ctx, const json&) {
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_resharing"));
  if (!s.is("Resharing")) return panic("Protocol state is not resharing.");
  json& r = s.protocol["Resharing"];
  const json& parameters = r["previous_running_state"]["parameters"];
  const json* p = find_participant(parameters, ctx.signer_account_id);
  if (!p) return not_participant(ctx.signer_account_id);
  json& votes = r["cancellation_requests"];
  if (std::find(votes.begin(), votes.end(), (*p)[0]) == votes.end()) votes.push_back((*p)[0]);
  if (votes.size() < threshold_of(parameters)) return unit_outcome(0, {"cancel vote recorded"});
  // Back to the previous Running state; the cancelled epoch is never reused.
  json previous = r["previous_running_state"];
  previous["previously_cancelled_resharing_epoch_id"] = r["resharing_key"]["epoch_id"];
  s.transition(json{{"Running", std::move(previous)}});
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
  if (s->protocol.is_object() && s->protocol.size() == 1) {
    json& body = s->protocol.begin().value();
    if (s->is("Running") && body.is_object()) fill_reference_fields(body["domains"], body.value("parameters", json()));
    if (s->is("Resharing") && body.is_object()) {
      json& prev = body["previous_running_state"];
      if (prev.is_object()) fill_reference_fields(prev["domains"], prev.value("parameters", json()));
      fill_reference_fields_of_event(body["resharing_key"]);
    }
    if (s->is("Initializing") && body.is_object()) {
      const json params = body.contains("generating_key") && body["generating_key"].is_object()
                              ? body["generating_key"].value("parameters", json())
                              : json();
      fill_reference_fields(body["domains"], params);
      fill_reference_fields_of_event(body["generating_key"]);
    }
  }
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
    const json& r = p["Resharing"];
    auto st = check_running_body(r.value("previous_running_state", json()), "protocol_state.Resharing.previous_running_state");
    if (st) st = check_key_event(r.value("resharing_key", json()), "protocol_state.Resharing.resharing_key");
    if (st && !r.value("cancellation_requests", json()).is_array()) {
      st = bad_args("protocol_state.Resharing.cancellation_requests must be an array");
    }
    if (!st) return core::invalid(st.error().message);
  } else if (s->is("Initializing")) {
    const json& i = p["Initializing"];
    auto st = check_key_event(i.value("generating_key", json()), "protocol_state.Initializing.generating_key");
    if (st && !i.value("cancel_votes", json()).is_array()) st = bad_args("protocol_state.Initializing.cancel_votes must be an array");
    if (!st) return core::invalid(st.error().message);
  } else {
    return core::invalid("protocol_state has unknown state " + state_name(p));
  }
  // Whatever the shape checks above let through must also parse as the
  // typed protocol state that clients read.
  if (auto typed = core::parse_protocol_state(s->protocol); !typed) {
    return core::invalid("protocol_state: " + typed.error().message);
  }
  for (const char* map : {"backup_services", "migrations"}) {
    if (!j.contains(map)) continue;
    if (!j[map].is_object()) return core::invalid(std::string(map) + " must be an object keyed by account id");
    for (const auto& [account, value] : j[map].items()) {
      const std::string where = std::string(map) + "." + account;
      if (std::string(map) == "backup_services") {
        auto b = core::parse_backup_service_info(value);
        if (!b) return core::invalid(where + ": " + b.error().message);
        s->backup_services[account] = core::to_json(*b);
      } else {
        auto d = core::parse_destination_node_info(value);
        if (!d) return core::invalid(where + ": " + d.error().message);
        s->migrations[account] = core::to_json(*d);
      }
    }
  }
  return MpcContract(std::move(s));
}

}  // namespace mpc::contract
