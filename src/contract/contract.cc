// MpcContract: dispatch of change methods (each atomic), views, and the
// durable form. The methods live in lifecycle.cc and migrations.cc, the
// typed state in state.cc.
#include "contract/contract.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "contract/internal/calls.h"
#include "contract/internal/state.h"

namespace mpc::contract {

namespace {

using json = nlohmann::json;
using core::ErrorCode;

const std::map<std::string, internal::Method, std::less<>>& methods() {
  static const std::map<std::string, internal::Method, std::less<>> m = {
      {"init", internal::init},
      {"vote_add_domains", internal::vote_add_domains},
      {"start_keygen_instance", internal::start_keygen_instance},
      {"vote_pk", internal::vote_pk},
      {"vote_cancel_keygen", internal::vote_cancel_keygen},
      {"vote_new_parameters", internal::vote_new_parameters},
      {"start_reshare_instance", internal::start_reshare_instance},
      {"vote_reshared", internal::vote_reshared},
      {"vote_abort_key_event_instance", internal::vote_abort_key_event_instance},
      {"vote_cancel_resharing", internal::vote_cancel_resharing},
      {"register_backup_service", internal::register_backup_service},
      {"start_node_migration", internal::start_node_migration},
      {"conclude_node_migration", internal::conclude_node_migration},
      {"cancel_node_migration", internal::cancel_node_migration},
      {"update_participant_url", internal::update_participant_url},
      {"submit_participant_info", internal::submit_participant_info},
      {"vote_code_hash", internal::vote_code_hash},
      {"vote_add_launcher_compose_hash", internal::vote_add_launcher_compose_hash},
      {"vote_add_os_measurement", internal::vote_add_os_measurement},
      {"vote_backup_service_code_hash", internal::vote_backup_service_code_hash},
      {"vote_backup_service_launcher_compose_hash", internal::vote_backup_service_launcher_compose_hash},
      {"verify_tee", internal::verify_tee},
      {"sign", internal::sign},
      {"respond", internal::respond},
      {"return_signature_and_clean_state_on_success", internal::return_signature_and_clean_state_on_success},
      {"fail_on_timeout", internal::fail_on_timeout},
  };
  return m;
}

core::Result<json> parse_args(core::ByteView args) {
  if (args.empty()) return json::object();
  // nlohmann stops reading at a NUL byte and ignores the rest ("{}\0junk"
  // parses as {}); NEAR's contracts (serde_json) refuse such arguments, and
  // no JSON text holds a NUL.
  if (std::find(args.begin(), args.end(), 0) != args.end()) return internal::bad_args("the arguments are not valid JSON");
  json j = json::parse(args.begin(), args.end(), nullptr, false);
  if (j.is_discarded()) return internal::bad_args("the arguments are not valid JSON");
  if (!j.is_object()) return internal::bad_args("the arguments must be a JSON object");
  return j;
}

json migration_info(const MpcContract::State& s) {
  json out = json::object();
  std::set<std::string> accounts;
  for (const auto& [a, _] : s.backup_services) accounts.insert(a);
  for (const auto& [a, _] : s.migrations) accounts.insert(a);
  for (const auto& a : accounts) {
    auto b = s.backup_services.find(a);
    auto m = s.migrations.find(a);
    out[a] = json::array({b == s.backup_services.end() ? json(nullptr) : to_json(b->second),
                          m == s.migrations.end() ? json(nullptr) : to_json(m->second)});
  }
  return out;
}

}  // namespace

MpcContract::MpcContract() : state_(std::make_unique<State>()) {}
MpcContract::MpcContract(std::unique_ptr<State> s) : state_(std::move(s)) {}
MpcContract::~MpcContract() = default;
MpcContract::MpcContract(MpcContract&&) noexcept = default;
MpcContract& MpcContract::operator=(MpcContract&&) noexcept = default;

MpcContract MpcContract::clone() const { return MpcContract(std::make_unique<State>(*state_)); }

core::Result<CallOutcome> MpcContract::call(const CallContext& ctx, std::string_view method, core::ByteView args_json) {
  auto it = methods().find(method);
  if (it == methods().end()) return core::fail(ErrorCode::kNotFound, "Method " + std::string(method) + " not found");
  MPC_ASSIGN(json args, parse_args(args_json));
  // Execute on a copy: any error leaves the contract exactly as it was.
  // The copy shares the protocol state until the call changes it.
  State scratch = *state_;
  MPC_ASSIGN(CallOutcome out, it->second(scratch, ctx, args));
  if (scratch.protocol_ptr != state_->protocol_ptr) scratch.state_view.reset();
  *state_ = std::move(scratch);
  return out;
}

core::Result<core::Bytes> MpcContract::view(std::string_view method, core::ByteView args_json) const {
  MPC_ASSIGN(auto text, view_text(method, args_json));
  return core::Bytes(text->begin(), text->end());
}

core::Result<std::shared_ptr<const std::string>> MpcContract::view_text(std::string_view method, core::ByteView args_json) const {
  MPC_ASSIGN(json args, parse_args(args_json));
  if (method == "state") {
    state_view_text();
    return state_->state_view;
  }
  json out;
  if (method == "migration_info") {
    out = migration_info(*state_);
  } else if (method == "config") {
    // The reference's Config view: its one setting this contract has (the
    // attestation mode is the `attestation_mode` view).
    out = json{{"key_event_timeout_blocks", state_->config.key_event_timeout_blocks}};
  } else if (method == "version") {
    out = "mpc-sandbox-contract 0.1.0";
  } else if (method == "get_pending_request") {
    MPC_ASSIGN(out, internal::get_pending_request(*state_, args));
  } else if (method == "pending_signature_requests") {
    MPC_ASSIGN(out, internal::pending_signature_requests(*state_, args));
  } else if (method == "public_key") {
    MPC_ASSIGN(out, internal::public_key_view(*state_, args));
  } else if (method == "derived_public_key") {
    MPC_ASSIGN(out, internal::derived_public_key_view(*state_, args));
  } else {
    MPC_ASSIGN(out, internal::tee_view(*state_, method, args));
  }
  return std::make_shared<const std::string>(out.dump());
}

std::string MpcContract::serialize() const {
  json backups = json::object();
  for (const auto& [a, b] : state_->backup_services) backups[a] = to_json(b);
  json migrations = json::object();
  for (const auto& [a, m] : state_->migrations) migrations[a] = to_json(m);
  // The object's keys are written sorted; "protocol_state" (the `state`
  // view's text, made once per protocol state: the host stores the state
  // every block) goes between the keys before it and those after it, so the
  // text is what dumping the whole object would write.
  json before{{"config", internal::to_json(state_->config)},
              {"backup_services", std::move(backups)},
              {"migrations", std::move(migrations)}};
  // Only when there are any: a state without them keeps its earlier form.
  if (!state_->pending_signatures->empty()) before["pending_signature_requests"] = internal::pending_signatures_to_json(*state_);
  json after{{"version", 1}};
  if (state_->tee != internal::TeeState{}) after["tee"] = internal::to_json(state_->tee);
  const std::string head = before.dump();
  const std::string tail = after.dump();
  const std::string& protocol = state_view_text();
  std::string out;
  out.reserve(head.size() + protocol.size() + tail.size() + 20);
  out.append(head, 0, head.size() - 1);  // without its '}'
  out += R"(,"protocol_state":)";
  out += protocol;
  out += ',';
  out.append(tail, 1);  // without its '{'
  return out;
}

const std::string& MpcContract::state_view_text() const {
  if (!state_->state_view) state_->state_view = std::make_shared<const std::string>(internal::to_json(state_->protocol()).dump());
  return *state_->state_view;
}

core::Result<MpcContract> MpcContract::deserialize(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return core::invalid("contract state is not a JSON object");
  if (!j.contains("protocol_state")) return core::invalid("contract state has no protocol_state");
  auto s = std::make_unique<State>();
  // The config first: an older key event instance's expiry depends on it.
  if (j.contains("config")) {
    MPC_ASSIGN(s->config, internal::config_from_json(j["config"], s->config, "config"));
  }
  MPC_ASSIGN(auto protocol, internal::protocol_state_from_json(j["protocol_state"], s->config));
  s->protocol_ptr = std::make_shared<const internal::ProtocolState>(std::move(protocol));
  for (const char* map : {"backup_services", "migrations"}) {
    if (!j.contains(map)) continue;
    if (!j[map].is_object()) return core::invalid(std::string(map) + " must be an object keyed by account id");
    for (const auto& [account, value] : j[map].items()) {
      const std::string where = std::string(map) + "." + account;
      if (std::string_view(map) == "backup_services") {
        auto b = model::parse_backup_service_info(value);
        if (!b) return core::invalid(where + ": " + b.error().message);
        s->backup_services[account] = *b;
      } else {
        auto d = model::parse_destination_node_info(value);
        if (!d) return core::invalid(where + ": " + d.error().message);
        s->migrations[account] = *d;
      }
    }
  }
  if (j.contains("pending_signature_requests")) MPC_TRY(internal::pending_signatures_from_json(*s, j["pending_signature_requests"]));
  if (j.contains("tee")) {
    MPC_ASSIGN(s->tee, internal::tee_state_from_json(j["tee"]));
    for (const auto& [account, a] : s->tee.backup_attestations) {
      if (!s->backup_services.contains(account)) return core::invalid("tee.backup_attestations." + account + " has no backup service");
    }
  }
  return MpcContract(std::move(s));
}

}  // namespace mpc::contract
