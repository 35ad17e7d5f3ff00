// The contract's typed state: queries, transitions and its JSON form
// (internal/state.h).
#include <algorithm>

#include "contract/internal/calls.h"
#include "contract/internal/state.h"

namespace mpc::contract {

using internal::Initializing;
using internal::NotInitialized;
using internal::Resharing;
using internal::Running;

// ------------------------------------------------------------------ queries

const model::ThresholdParameters* MpcContract::State::current_parameters() const {
  if (const auto* r = as<Running>()) return &r->parameters;
  if (const auto* i = as<Initializing>()) return &i->generating_key.parameters;
  if (const auto* r = as<Resharing>()) return &r->previous_running_state.parameters;
  return nullptr;
}

const model::ThresholdParameters* MpcContract::State::prospective_parameters() const {
  if (const auto* r = as<Resharing>()) return &r->resharing_key.parameters;
  return nullptr;
}

bool MpcContract::State::is_participant(std::string_view account) const {
  const auto* p = current_parameters();
  return p != nullptr && p->participants.find(account) != nullptr;
}

bool MpcContract::State::is_prospective(std::string_view account) const {
  const auto* p = prospective_parameters();
  return p != nullptr && p->participants.find(account) != nullptr;
}

void MpcContract::State::transition(internal::ProtocolState next) {
  const bool was_running = as<Running>() != nullptr;
  protocol_ptr = std::make_shared<const internal::ProtocolState>(std::move(next));
  if (was_running && (as<Initializing>() != nullptr || as<Resharing>() != nullptr)) migrations.clear();
  auto orphan = [&](const std::string& a) { return !is_participant(a) && !is_prospective(a); };
  std::erase_if(backup_services, [&](const auto& kv) { return orphan(kv.first); });
  std::erase_if(migrations, [&](const auto& kv) { return orphan(kv.first); });
  std::erase_if(tee.backup_attestations, [&](const auto& kv) { return orphan(kv.first); });
  for (auto* votes : {&tee.node.image_votes, &tee.node.launcher_votes, &tee.backup.image_votes, &tee.backup.launcher_votes}) {
    std::erase_if(votes->proposal_by_account, [&](const auto& kv) { return !is_participant(kv.first); });
  }
  std::erase_if(tee.measurement_votes.proposal_by_account, [&](const auto& kv) { return !is_participant(kv.first); });
}

namespace internal {

// ------------------------------------------------------------------ values

KeyEvent KeyEvent::create(std::uint64_t epoch_id, model::DomainConfig domain, model::ThresholdParameters parameters) {
  KeyEvent e;
  e.epoch_id = epoch_id;
  e.domain = std::move(domain);
  e.parameters = std::move(parameters);
  return e;
}

const model::ParticipantEntry& KeyEvent::leader() const {
  const auto& list = parameters.participants.participants;
  return *std::min_element(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
}

std::optional<model::KeyEventId> KeyEvent::active_id(std::uint64_t block_height) const {
  if (!instance || !instance->active(block_height)) return std::nullopt;
  return model::KeyEventId{epoch_id, domain.id, instance->attempt_id};
}

void KeyEvent::drop_if_expired(std::uint64_t block_height) {
  if (instance && !instance->active(block_height)) instance.reset();
}

core::Status KeyEvent::start(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height,
                             std::uint64_t timeout_blocks) {
  drop_if_expired(block_height);
  if (instance) return panic("Can not start a new reshare or keygen instance while the current instance is still active.");
  if (id != next_id()) return panic("Key event Id mismatch");
  if (leader().account_id != signer) return panic("Voting account is not the leader of the current reshare or keygen instance.");
  if (timeout_blocks > UINT64_MAX - 1 - block_height) {
    return panic("key_event_timeout_blocks " + std::to_string(timeout_blocks) + " puts the attempt's expiry past the largest block height");
  }
  KeyEventInstance started;
  started.attempt_id = next_attempt_id;
  started.started_in = block_height;
  started.expires_on = block_height + 1 + timeout_blocks;
  instance = std::move(started);
  next_attempt_id += 1;
  return {};
}

core::Result<std::uint64_t> KeyEvent::check_vote(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height) {
  const model::ParticipantEntry* voter = parameters.participants.find(signer);
  if (voter == nullptr) return not_participant(std::string(signer));
  drop_if_expired(block_height);
  if (!instance) return panic("Expected ongoing reshare");
  if (id.epoch_id != epoch_id || id.domain_id != domain.id || id.attempt_id != instance->attempt_id) {
    return panic("Key event Id mismatch");
  }
  return voter->id;
}

core::Result<KeyEvent::Vote> KeyEvent::vote_success(const model::KeyEventId& id, std::string_view signer,
                                                    const model::PublicKeyExtended& key, std::uint64_t block_height) {
  MPC_ASSIGN(std::uint64_t voter, check_vote(id, signer, block_height));
  if (instance->public_key && *instance->public_key != key) {
    instance.reset();  // the participants disagree: this attempt failed
    return Vote::kDisagreement;
  }
  instance->public_key = key;
  auto& done = instance->completed;
  auto at = std::lower_bound(done.begin(), done.end(), voter);
  if (at != done.end() && *at == voter) return panic("Vote already casted.");
  done.insert(at, voter);
  return done.size() == parameters.participants.participants.size() ? Vote::kComplete : Vote::kRecorded;
}

core::Status KeyEvent::vote_abort(const model::KeyEventId& id, std::string_view signer, std::uint64_t block_height) {
  MPC_ASSIGN(std::uint64_t voter, check_vote(id, signer, block_height));
  if (std::binary_search(instance->completed.begin(), instance->completed.end(), voter)) return panic("Vote already casted.");
  instance.reset();
  return {};
}

json to_json(const Config& config) {
  json out{{"key_event_timeout_blocks", config.key_event_timeout_blocks}};
  // Only when not the default: a development state keeps its earlier form.
  if (config.attestation_mode != AttestationMode::kDevelopment) out["attestation_mode"] = attestation_mode_name(config.attestation_mode);
  return out;
}

core::Result<Config> config_from_json(const json& j, const Config& base, const std::string& path) {
  Config out = base;
  if (j.is_null()) return out;
  if (!j.is_object()) return core::invalid(path + " must be an object");
  for (const auto& [name, value] : j.items()) {
    if (name != "key_event_timeout_blocks" && name != "attestation_mode") {
      return core::invalid(path + "." + name +
                           " is not a setting of this contract (it has key_event_timeout_blocks and attestation_mode only)");
    }
    if (value.is_null()) continue;
    if (name == "attestation_mode") {
      auto mode = value.is_string() ? parse_attestation_mode(value.get<std::string>()) : std::nullopt;
      if (!mode) return core::invalid(path + ".attestation_mode must be \"development\" or \"production\"");
      out.attestation_mode = *mode;
      continue;
    }
    auto blocks = model::json_u64(value);
    if (!blocks) return core::invalid(path + ".key_event_timeout_blocks must be an unsigned integer (blocks)");
    out.key_event_timeout_blocks = *blocks;
  }
  return out;
}

Running running_state(model::DomainRegistry domains, model::Keyset keyset, model::ThresholdParameters parameters) {
  Running r;
  r.domains = std::move(domains);
  r.keyset = std::move(keyset);
  r.parameters = std::move(parameters);
  return r;
}

const model::DomainConfig* next_domain_after(const model::DomainRegistry& domains, std::uint64_t domain_id) {
  bool seen = false;
  for (const auto& d : domains.domains) {
    if (seen) return &d;
    if (d.id == domain_id) seen = true;
  }
  return nullptr;
}

std::optional<std::uint64_t> reconstruction_threshold(const model::DomainConfig& domain) {
  auto it = domain.extra.find("reconstruction_threshold");
  if (it == domain.extra.end()) return std::nullopt;
  return model::json_u64(*it);
}

// ------------------------------------------------------------------ to JSON

namespace {

// Unknown fields are written back as given, never over a known one.
void add_extra(json& out, const json& extra) {
  for (const auto& [k, v] : extra.items()) {
    if (!out.contains(k)) out[k] = v;
  }
}

template <typename Proposal, typename ToJson>
json votes_json(const Votes<Proposal>& votes, ToJson proposal_json) {
  json by_account = json::object();
  for (const auto& [voter, proposal] : votes.proposal_by_account) by_account[voter] = proposal_json(proposal);
  json out = {{"proposal_by_account", std::move(by_account)}};
  add_extra(out, votes.extra);
  return out;
}

json domains_json(const std::vector<model::DomainConfig>& domains) {
  json out = json::array();
  for (const auto& d : domains) out.push_back(to_json(d));
  return out;
}

json keys_json(const std::vector<model::KeyForDomain>& keys) {
  json out = json::array();
  for (const auto& k : keys) out.push_back(to_json(k));
  return out;
}

json running_json(const Running& r) {
  json out = {{"domains", to_json(r.domains)},
              {"keyset", to_json(r.keyset)},
              {"parameters", to_json(r.parameters)},
              {"parameters_votes", votes_json(r.parameters_votes, [](const auto& p) { return to_json(p); })},
              {"add_domains_votes", votes_json(r.add_domains_votes, domains_json)}};
  if (r.previously_cancelled_resharing_epoch_id) {
    out["previously_cancelled_resharing_epoch_id"] = *r.previously_cancelled_resharing_epoch_id;
  }
  add_extra(out, r.extra);
  return out;
}

json key_event_json(const KeyEvent& e) {
  json instance = nullptr;
  if (const auto& i = e.instance) {
    instance = {{"attempt_id", i->attempt_id},
                {"started_in", i->started_in},
                {"expires_on", i->expires_on},
                {"completed", i->completed},
                {"public_key", i->public_key ? to_json(*i->public_key) : json(nullptr)}};
    add_extra(instance, i->extra);
  }
  json out = {{"epoch_id", e.epoch_id},
              {"domain", to_json(e.domain)},
              {"parameters", to_json(e.parameters)},
              {"instance", std::move(instance)},
              {"next_attempt_id", e.next_attempt_id}};
  add_extra(out, e.extra);
  return out;
}

}  // namespace

json to_json(const ProtocolState& state) {
  if (const auto* r = std::get_if<Running>(&state)) return json{{"Running", running_json(*r)}};
  if (const auto* i = std::get_if<Initializing>(&state)) {
    json body = {{"domains", to_json(i->domains)},
                 {"epoch_id", i->epoch_id},
                 {"generated_keys", keys_json(i->generated_keys)},
                 {"generating_key", key_event_json(i->generating_key)},
                 {"cancel_votes", i->cancel_votes}};
    add_extra(body, i->extra);
    return json{{"Initializing", std::move(body)}};
  }
  if (const auto* r = std::get_if<Resharing>(&state)) {
    json body = {{"previous_running_state", running_json(r->previous_running_state)},
                 {"reshared_keys", keys_json(r->reshared_keys)},
                 {"resharing_key", key_event_json(r->resharing_key)},
                 {"cancellation_requests", r->cancellation_requests}};
    add_extra(body, r->extra);
    return json{{"Resharing", std::move(body)}};
  }
  return "NotInitialized";
}

// ------------------------------------------------------------------ from JSON
//
// The reference's state types are parsed by core (model::parse_protocol_state);
// what core keeps as opaque JSON (votes, key events) is parsed here.

namespace {

// A field of a JSON object this contract's own types define.
class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {}
  core::Status object() const {
    if (!j_.is_object()) return core::invalid(path_ + " must be an object");
    return {};
  }
  bool has(const char* name) const { return j_.contains(name); }
  const json& at(const char* name) const { return j_[name]; }
  std::string path(const char* name) const { return path_ + "." + name; }
  core::Result<std::uint64_t> u64(const char* name) const {
    auto n = has(name) ? model::json_u64(j_[name]) : std::nullopt;
    if (!n) return core::invalid(path(name) + " must be an unsigned integer");
    return *n;
  }
  template <typename T, typename Parse>
  core::Result<std::vector<T>> array(const char* name, Parse parse) const {
    if (!has(name) || !j_[name].is_array()) return core::invalid(path(name) + " must be an array");
    std::vector<T> out;
    for (const auto& item : j_[name]) {
      auto v = parse(item);
      if (!v) return core::invalid(path(name) + " must hold " + v.error().message);
      out.push_back(std::move(*v));
    }
    return out;
  }
  json extra(std::initializer_list<const char*> known) const {
    json e = json::object();
    for (const auto& [k, v] : j_.items()) {
      if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) e[k] = v;
    }
    return e;
  }

 private:
  const json& j_;
  std::string path_;
};

core::Result<std::uint64_t> participant_id(const json& j) {
  auto n = model::json_u64(j);
  if (!n) return core::invalid("participant ids");
  return *n;
}

core::Result<std::string> account_id(const json& j) {
  if (!j.is_string()) return core::invalid("account ids");
  return j.get<std::string>();
}

// A rule broken by a stored state: an invalid state, named by its path.
core::Status at_load(core::Status st, const std::string& path) {
  if (st) return {};
  if (st.error().code == core::ErrorCode::kInvalidArgument) return core::invalid(st.error().message);
  return core::invalid(path + ": " + st.error().message);
}

void fill_reconstruction_thresholds(std::vector<model::DomainConfig>& domains, std::uint64_t threshold) {
  for (auto& d : domains) {
    if (!d.extra.contains("reconstruction_threshold")) d.extra["reconstruction_threshold"] = threshold;
  }
}

template <typename Proposal, typename Parse>
core::Result<Votes<Proposal>> votes_from_json(const json& j, const std::string& path, Parse parse) {
  Votes<Proposal> votes;
  if (j.is_null()) return votes;  // an older genesis without votes: none yet
  Fields f(j, path);
  MPC_TRY(f.object());
  if (!f.has("proposal_by_account") || !f.at("proposal_by_account").is_object()) {
    return core::invalid(f.path("proposal_by_account") + " must be an object keyed by voter");
  }
  for (const auto& [voter, proposal] : f.at("proposal_by_account").items()) {
    auto p = parse(proposal);
    if (!p) return core::invalid(f.path("proposal_by_account") + "." + voter + ": " + p.error().message);
    votes.proposal_by_account.emplace(voter, std::move(*p));
  }
  votes.extra = f.extra({"proposal_by_account"});
  return votes;
}

core::Result<std::vector<model::DomainConfig>> domains_from_json(const json& j) {
  if (!j.is_array()) return core::invalid("a proposal must be an array of DomainConfig");
  std::vector<model::DomainConfig> out;
  for (const auto& d : j) {
    MPC_ASSIGN(auto config, model::parse_domain_config(d));
    out.push_back(std::move(config));
  }
  return out;
}

core::Result<Running> running_from(model::RunningState r, const std::string& path) {
  Running out;
  out.domains = std::move(r.domains);
  out.keyset = std::move(r.keyset);
  out.parameters = std::move(r.parameters);
  MPC_TRY(at_load(check_threshold_rules(out.parameters, path + ".parameters"), path + ".parameters"));
  MPC_TRY(at_load(check_keyset_rules(out.keyset, path + ".keyset"), path + ".keyset"));
  fill_reconstruction_thresholds(out.domains.domains, out.parameters.threshold);
  MPC_ASSIGN(out.parameters_votes, votes_from_json<model::ThresholdParameters>(r.parameters_votes, path + ".parameters_votes",
                                                                              model::parse_threshold_parameters));
  MPC_ASSIGN(out.add_domains_votes,
             votes_from_json<std::vector<model::DomainConfig>>(r.add_domains_votes, path + ".add_domains_votes", domains_from_json));
  out.extra = std::move(r.extra);
  // None is shown as absent, or as null by a reference state; a null stays
  // as it was given.
  if (auto it = out.extra.find("previously_cancelled_resharing_epoch_id"); it != out.extra.end() && !it->is_null()) {
    auto epoch = model::json_u64(*it);
    if (!epoch) return core::invalid(path + ".previously_cancelled_resharing_epoch_id must be an unsigned integer or null");
    out.previously_cancelled_resharing_epoch_id = *epoch;
    out.extra.erase(it);
  }
  return out;
}

// A set of participant ids as the reference keeps one (BTreeSet): ascending,
// without repeats.
void as_set(std::vector<std::uint64_t>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

core::Result<KeyEvent> key_event_from(const json& j, const std::string& path, const Config& config) {
  Fields f(j, path);
  MPC_TRY(f.object());
  KeyEvent e;
  MPC_ASSIGN(e.epoch_id, f.u64("epoch_id"));
  MPC_ASSIGN(e.next_attempt_id, f.u64("next_attempt_id"));
  if (!f.has("domain")) return core::invalid(f.path("domain") + " is missing");
  auto domain = model::parse_domain_config(f.at("domain"));
  if (!domain) return core::invalid(path + "." + domain.error().message);
  e.domain = std::move(*domain);
  if (!f.has("parameters")) return core::invalid(f.path("parameters") + " is missing");
  auto parameters = model::parse_threshold_parameters(f.at("parameters"));
  if (!parameters) return core::invalid(path + "." + parameters.error().message);
  e.parameters = std::move(*parameters);
  MPC_TRY(at_load(check_threshold_rules(e.parameters, f.path("parameters")), f.path("parameters")));
  if (!reconstruction_threshold(e.domain)) e.domain.extra["reconstruction_threshold"] = e.parameters.threshold;

  // Absent (an older genesis) or null: no attempt.
  if (f.has("instance") && !f.at("instance").is_null()) {
    Fields i(f.at("instance"), f.path("instance"));
    MPC_TRY(i.object());
    KeyEventInstance instance;
    MPC_ASSIGN(instance.attempt_id, i.u64("attempt_id"));
    // Older states lack the block heights: the attempt counts from block 0.
    if (i.has("started_in")) {
      MPC_ASSIGN(instance.started_in, i.u64("started_in"));
    }
    if (i.has("expires_on")) {
      MPC_ASSIGN(instance.expires_on, i.u64("expires_on"));
    } else if (config.key_event_timeout_blocks > UINT64_MAX - 1 - instance.started_in) {
      return core::invalid(i.path("expires_on") + " is missing and started_in + 1 + key_event_timeout_blocks overflows");
    } else {
      instance.expires_on = instance.started_in + 1 + config.key_event_timeout_blocks;
    }
    MPC_ASSIGN(instance.completed, i.array<std::uint64_t>("completed", participant_id));
    as_set(instance.completed);
    if (!i.has("public_key")) return core::invalid(i.path("public_key") + " is missing");
    if (!i.at("public_key").is_null()) {
      auto key = model::parse_public_key_extended(i.at("public_key"));
      if (!key) return core::invalid(i.path("public_key") + ": " + key.error().message);
      MPC_TRY(at_load(check_group_key_rules(*key, i.path("public_key")), i.path("public_key")));
      instance.public_key = std::move(*key);
    }
    instance.extra = i.extra({"attempt_id", "started_in", "expires_on", "completed", "public_key"});
    e.instance = std::move(instance);
  }
  e.extra = f.extra({"epoch_id", "domain", "parameters", "instance", "next_attempt_id"});
  return e;
}

core::Status check_keys(const std::vector<model::KeyForDomain>& keys, const std::string& path) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string where = path + "[" + std::to_string(i) + "].key";
    MPC_TRY(at_load(check_group_key_rules(keys[i].key, where), where));
  }
  return {};
}

}  // namespace

core::Result<ProtocolState> protocol_state_from_json(const json& j, const Config& config) {
  auto typed = model::parse_protocol_state(j);
  if (!typed) return core::invalid("protocol_state: " + typed.error().message);
  const std::string path = std::string("protocol_state.") + typed->name();
  if (auto* r = std::get_if<model::RunningState>(&typed->state)) {
    MPC_ASSIGN(auto running, running_from(std::move(*r), path));
    return running;
  }
  if (auto* s = std::get_if<model::InitializingState>(&typed->state)) {
    Initializing out;
    out.domains = std::move(s->domains);
    out.epoch_id = s->epoch_id;
    out.generated_keys = std::move(s->generated_keys);
    MPC_TRY(check_keys(out.generated_keys, path + ".generated_keys"));
    MPC_ASSIGN(out.generating_key, key_event_from(s->generating_key, path + ".generating_key", config));
    fill_reconstruction_thresholds(out.domains.domains, out.generating_key.parameters.threshold);
    Fields f(j["Initializing"], path);
    MPC_ASSIGN(out.cancel_votes, f.array<std::uint64_t>("cancel_votes", participant_id));
    as_set(out.cancel_votes);
    out.extra = std::move(s->extra);
    return out;
  }
  if (auto* s = std::get_if<model::ResharingState>(&typed->state)) {
    Resharing out;
    MPC_ASSIGN(out.previous_running_state, running_from(std::move(s->previous_running_state), path + ".previous_running_state"));
    out.reshared_keys = std::move(s->reshared_keys);
    MPC_TRY(check_keys(out.reshared_keys, path + ".reshared_keys"));
    MPC_ASSIGN(out.resharing_key, key_event_from(s->resharing_key, path + ".resharing_key", config));
    Fields f(j["Resharing"], path);
    MPC_ASSIGN(out.cancellation_requests, f.array<std::string>("cancellation_requests", account_id));
    out.extra = std::move(s->extra);
    return out;
  }
  return NotInitialized{};
}

}  // namespace internal
}  // namespace mpc::contract
