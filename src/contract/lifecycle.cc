// The protocol lifecycle: init, adding domains (key generation), new
// parameters (resharing), their key events and cancellations.
//
//   NotInitialized --init--> Running
//   Running --vote_add_domains (all)--> Initializing
//       per new domain, a key event (keygen):
//         start_keygen_instance (leader) -> attempt a, expires on height + 1 + key_event_timeout_blocks
//         vote_pk (every participant, same key) -> key recorded; next domain, or Running
//         disagreeing key / vote_abort_key_event_instance / expiry -> no attempt; the leader starts a + 1
//   Initializing --vote_cancel_keygen (threshold)--> Running with the keys generated so far
//   Running --vote_new_parameters (all of the proposal)--> Resharing (ongoing migrations are cancelled)
//       per domain, a key event (reshare), with the new participants:
//         start_reshare_instance (leader) -> attempt a
//         vote_reshared (every new participant) -> the previous key kept; next domain, or Running at epoch + 1
//         vote_abort_key_event_instance / expiry -> no attempt; the leader starts a + 1
//   Resharing --vote_cancel_resharing (old threshold)--> previous Running
//
// The leader of a key event is the participant of its parameters with the
// lowest id; a key event id is (epoch_id, domain_id, attempt_id).
#include <algorithm>
#include <map>

#include "contract/internal/calls.h"
#include "contract/internal/state.h"

namespace mpc::contract::internal {

namespace {

std::string count_text(std::uint64_t n, std::uint64_t of) { return std::to_string(n) + " of " + std::to_string(of); }

core::Result<model::KeyEventId> key_event_id_arg(const json& args) {
  MPC_ASSIGN(const json* value, arg(args, "key_event_id"));
  return key_event_id_value(*value, "key_event_id");
}

// What the key event methods share before anything else: no deposit, and
// called by the signer itself (the reference's
// assert_caller_is_attested_participant_and_protocol_active).
core::Status key_event_caller(const CallContext& ctx, std::string_view method) {
  MPC_TRY(require_no_deposit(ctx, method));
  return require_direct_call(ctx);
}

// The epoch a resharing from this Running state must use: never one a
// cancelled resharing already used.
std::uint64_t prospective_epoch_id(const Running& running) {
  return running.previously_cancelled_resharing_epoch_id.value_or(running.keyset.epoch_id) + 1;
}

// The reference's rules for a proposal against the current parameters.
core::Status check_incoming_proposal(const model::ThresholdParameters& current, const model::ThresholdParameters& proposal) {
  std::map<std::uint64_t, std::string> old_by_id;
  for (const auto& e : current.participants.participants) old_by_id[e.id] = e.account_id;
  std::uint64_t n_old = 0;
  std::uint64_t min_new = UINT64_MAX;
  std::uint64_t max_new = 0;
  for (const auto& e : proposal.participants.participants) {
    if (const model::ParticipantEntry* old = current.participants.find(e.account_id)) {
      if (old->id != e.id) {
        return panic("Existing participant " + e.account_id + " changed ID from " + std::to_string(old->id) + " to " +
                     std::to_string(e.id) + ".");
      }
      if (old->info != e.info) return panic("Existing participant " + e.account_id + " changed info (url or tls_public_key).");
      ++n_old;
    } else {
      if (auto it = old_by_id.find(e.id); it != old_by_id.end()) {
        return panic("New participant " + e.account_id + " reuses ID " + std::to_string(e.id) +
                     " already assigned to existing participant " + it->second + ".");
      }
      min_new = std::min(min_new, e.id);
      max_new = std::max(max_new, e.id);
    }
  }
  if (n_old < current.threshold) return panic("Set of proposed participants must contain at least `threshold` old participants.");
  const std::uint64_t n_new = proposal.participants.participants.size() - n_old;
  if (n_new > 0) {
    if (n_new - 1 != max_new - min_new || min_new != current.participants.next_id) {
      return panic("New Participant ids need to be unique and contiguous.");
    }
    if (max_new + 1 != proposal.participants.next_id) return panic("New Participant ids need to not skip any unused participant ids.");
  }
  return {};
}

}  // namespace

core::Result<CallOutcome> init(State& s, const CallContext& ctx, const json& args) {
  if (!s.as<NotInitialized>()) return panic("The contract is already initialized.");
  if (!ctx.current_account_id.empty() && ctx.predecessor_account_id != ctx.current_account_id) {
    return panic("Only the contract account may initialize the contract.");
  }
  MPC_TRY(require_no_deposit(ctx, "init"));
  MPC_ASSIGN(const json* value, arg(args, "parameters"));
  MPC_ASSIGN(auto parameters, parameters_value(*value, "parameters"));
  // The reference's optional InitConfig: its fields override the config
  // (the default, or what a genesis set).
  if (args.contains("init_config")) {
    auto config = config_from_json(args["init_config"], s.config, "init_config");
    if (!config) return bad_args(config.error().message);
    s.config = *config;
  }
  s.transition(running_state({}, {}, std::move(parameters)));
  return unit_outcome(0, {"contract initialized"});
}

// ---- adding domains: key generation ----

core::Result<CallOutcome> vote_add_domains(State& s, const CallContext& ctx, const json& args) {
  if (!args.contains("domains") || !args["domains"].is_array()) return bad_args("domains must be an array of DomainConfig");
  const json& list = args["domains"];
  MPC_TRY(require_no_deposit(ctx, "vote_add_domains"));
  Running* running = s.as_mut<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  MPC_TRY(require_participant(s, ctx));
  if (list.empty()) return panic("vote_add_domains must add at least one domain");
  const model::ThresholdParameters& parameters = running->parameters;
  const std::uint64_t n = parameters.participants.participants.size();
  const std::uint64_t first_id = running->domains.next_domain_id;
  std::vector<model::DomainConfig> proposal;
  // Each domain whole before the next: its form, its threshold, its id.
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = "domains[" + std::to_string(i) + "]";
    MPC_ASSIGN(model::DomainConfig d, domain_value(list[i], where));
    if (d.extra.contains("reconstruction_threshold")) {
      auto t = reconstruction_threshold(d);
      if (!t) return bad_args(where + ".reconstruction_threshold must be an unsigned integer");
      if (*t < 2 || *t > n) {
        return panic("Domain " + std::to_string(d.id) + ": reconstruction threshold " + std::to_string(*t) +
                     " must be between 2 and the number of participants (" + std::to_string(n) + ").");
      }
    }
    if (d.id != first_id + i) return panic("Newly proposed domain IDs are not contiguous. Expected id: " + std::to_string(first_id));
    proposal.push_back(std::move(d));
  }
  // Votes are keyed by participant id, replacing the voter's earlier vote;
  // the reference requires every participant to agree.
  auto& votes = running->add_domains_votes.proposal_by_account;
  votes[std::to_string(parameters.participants.find(ctx.signer_account_id)->id)] = proposal;
  std::uint64_t agreeing = 0;
  for (const auto& e : parameters.participants.participants) {
    auto it = votes.find(std::to_string(e.id));
    if (it != votes.end() && it->second == proposal) ++agreeing;
  }
  if (agreeing < n) return unit_outcome(0, {"add-domains vote recorded (" + count_text(agreeing, n) + ")"});

  Initializing init;
  init.domains = running->domains;
  const std::size_t first_new = init.domains.domains.size();
  for (auto& d : proposal) {
    // The reference requires a reconstruction threshold per domain; a
    // proposal without one gets the current threshold.
    if (!d.extra.contains("reconstruction_threshold")) d.extra["reconstruction_threshold"] = parameters.threshold;
    init.domains.domains.push_back(std::move(d));
  }
  init.domains.next_domain_id = first_id + proposal.size();
  init.epoch_id = running->keyset.epoch_id;
  init.generated_keys = running->keyset.domains;
  init.generating_key = KeyEvent::create(init.epoch_id, init.domains.domains[first_new], parameters);
  s.transition(std::move(init));
  return unit_outcome(0, {"adding domains: key generation started"});
}

core::Result<CallOutcome> start_keygen_instance(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(model::KeyEventId id, key_event_id_arg(args));
  MPC_TRY(key_event_caller(ctx, "start_keygen_instance"));
  Initializing* init = s.as_mut<Initializing>();
  if (init == nullptr) return panic("Protocol state is not initializing.");
  KeyEvent& event = init->generating_key;
  if (event.parameters.participants.find(ctx.signer_account_id) == nullptr) return not_participant(ctx.signer_account_id);
  MPC_TRY(event.start(id, ctx.signer_account_id, ctx.block_height, s.config.key_event_timeout_blocks));
  return unit_outcome(0, {"key generation attempt " + std::to_string(id.attempt_id) + " for domain " + std::to_string(id.domain_id) +
                          " started, expires on block " + std::to_string(event.instance->expires_on)});
}

core::Result<CallOutcome> vote_pk(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(model::KeyEventId id, key_event_id_arg(args));
  MPC_ASSIGN(const json* value, arg(args, "public_key"));
  MPC_ASSIGN(model::PublicKeyExtended key, group_key_value(*value, "public_key"));
  MPC_TRY(key_event_caller(ctx, "vote_pk"));
  Initializing* init = s.as_mut<Initializing>();
  if (init == nullptr) return panic("Protocol state is not initializing.");
  KeyEvent& event = init->generating_key;
  MPC_ASSIGN(KeyEvent::Vote vote, event.vote_success(id, ctx.signer_account_id, key, ctx.block_height));
  if (vote == KeyEvent::Vote::kDisagreement) {
    return unit_outcome(0, {"Public key disagreement; aborting key event instance."});
  }
  if (vote == KeyEvent::Vote::kRecorded) return unit_outcome(0, {"vote recorded"});

  init->generated_keys.push_back(model::KeyForDomain{id.domain_id, key, id.attempt_id});
  if (const model::DomainConfig* next = next_domain_after(init->domains, id.domain_id)) {
    event = KeyEvent::create(init->epoch_id, *next, event.parameters);
    return unit_outcome(0, {"key generated for domain " + std::to_string(id.domain_id)});
  }
  s.transition(running_state(init->domains, model::Keyset{init->epoch_id, init->generated_keys}, event.parameters));
  return unit_outcome(0, {"all keys generated: Running"});
}

core::Result<CallOutcome> vote_cancel_keygen(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto next_domain_id, u64_arg(args, "next_domain_id"));
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_keygen"));
  Initializing* init = s.as_mut<Initializing>();
  if (init == nullptr) return panic("Protocol state is not initializing.");
  const model::ThresholdParameters& parameters = init->generating_key.parameters;
  const model::ParticipantEntry* voter = parameters.participants.find(ctx.signer_account_id);
  if (voter == nullptr) return not_participant(ctx.signer_account_id);
  if (next_domain_id != init->domains.next_domain_id) return panic("Next domain ID mismatch");
  auto& votes = init->cancel_votes;  // a set: ascending
  if (auto at = std::lower_bound(votes.begin(), votes.end(), voter->id); at == votes.end() || *at != voter->id) {
    votes.insert(at, voter->id);
  }
  if (votes.size() < parameters.threshold) return unit_outcome(0, {"cancel vote recorded"});
  // Keep only the domains that have keys; their ids stay consumed.
  model::DomainRegistry domains = init->domains;
  std::erase_if(domains.domains, [&](const model::DomainConfig& d) {
    return std::none_of(init->generated_keys.begin(), init->generated_keys.end(),
                        [&](const model::KeyForDomain& k) { return k.domain_id == d.id; });
  });
  s.transition(running_state(std::move(domains), model::Keyset{init->epoch_id, init->generated_keys}, parameters));
  return unit_outcome(0, {"key generation cancelled: Running"});
}

// ---- new parameters: resharing ----

core::Result<CallOutcome> vote_new_parameters(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto epoch, u64_arg(args, "prospective_epoch_id"));
  if (!args.contains("proposal") || !args["proposal"].is_object()) return bad_args("proposal must be a ThresholdParameters object");
  MPC_TRY(require_no_deposit(ctx, "vote_new_parameters"));
  Running* running = s.as_mut<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  const std::uint64_t expected_epoch = prospective_epoch_id(*running);
  if (epoch != expected_epoch) {
    return panic("Provided Epoch Id, " + std::to_string(epoch) + ", does not match expected, " + std::to_string(expected_epoch) + ".");
  }
  MPC_ASSIGN(model::ThresholdParameters proposal, parameters_value(args["proposal"], "proposal"));
  const model::ThresholdParameters& current = running->parameters;
  MPC_TRY(check_incoming_proposal(current, proposal));
  // Only members of the proposal vote; a newcomer only after `threshold`
  // current participants have voted for the same proposal.
  if (proposal.participants.find(ctx.signer_account_id) == nullptr) return not_participant(ctx.signer_account_id);
  auto& votes = running->parameters_votes.proposal_by_account;
  if (current.participants.find(ctx.signer_account_id) == nullptr) {
    std::uint64_t admitted_by = 0;
    for (const auto& [account, p] : votes) {
      if (p == proposal && current.participants.find(account) != nullptr) ++admitted_by;
    }
    if (admitted_by < current.threshold) {
      return panic("Candidates can only cast a vote after `threshold` participants casted one to admit them");
    }
  }
  votes[ctx.signer_account_id] = proposal;
  std::uint64_t n_votes = 0;
  for (const auto& [account, p] : votes) {
    if (p == proposal && proposal.participants.find(account) != nullptr) ++n_votes;
  }
  const std::uint64_t n = proposal.participants.participants.size();
  if (n_votes < n) return unit_outcome(0, {"parameters vote recorded (" + count_text(n_votes, n) + ")"});

  MPC_ASSIGN(std::string log, begin_resharing(s, std::move(proposal)));
  return unit_outcome(0, {std::move(log)});
}

core::Result<std::string> begin_resharing(State& s, model::ThresholdParameters proposal) {
  Running* running = s.as_mut<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  const std::uint64_t epoch = prospective_epoch_id(*running);
  // What a cancelled resharing returns to: this state without its votes.
  Running previous = running_state(running->domains, running->keyset, running->parameters);
  if (previous.domains.domains.empty()) {
    // Nothing to reshare: the new parameters take effect at once.
    s.transition(running_state(previous.domains, model::Keyset{epoch, {}}, std::move(proposal)));
    return "new parameters: Running at epoch " + std::to_string(epoch) + " (no keys to reshare)";
  }
  Resharing resharing;
  resharing.resharing_key = KeyEvent::create(epoch, previous.domains.domains[0], std::move(proposal));
  resharing.previous_running_state = std::move(previous);
  s.transition(std::move(resharing));
  return "resharing started for epoch " + std::to_string(epoch);
}

core::Result<CallOutcome> start_reshare_instance(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(model::KeyEventId id, key_event_id_arg(args));
  MPC_TRY(key_event_caller(ctx, "start_reshare_instance"));
  Resharing* r = s.as_mut<Resharing>();
  if (r == nullptr) return panic("Protocol state is not resharing.");
  KeyEvent& event = r->resharing_key;
  if (event.parameters.participants.find(ctx.signer_account_id) == nullptr) return not_participant(ctx.signer_account_id);
  MPC_TRY(event.start(id, ctx.signer_account_id, ctx.block_height, s.config.key_event_timeout_blocks));
  return unit_outcome(0, {"resharing attempt " + std::to_string(id.attempt_id) + " for domain " + std::to_string(id.domain_id) +
                          " started, expires on block " + std::to_string(event.instance->expires_on)});
}

core::Result<CallOutcome> vote_reshared(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(model::KeyEventId id, key_event_id_arg(args));
  MPC_TRY(key_event_caller(ctx, "vote_reshared"));
  Resharing* r = s.as_mut<Resharing>();
  if (r == nullptr) return panic("Protocol state is not resharing.");
  KeyEvent& event = r->resharing_key;
  const Running& previous = r->previous_running_state;
  // The reference votes the key being reshared (the previous keyset's) as
  // the attempt's public key.
  const model::KeyForDomain* old_key = previous.keyset.find(event.domain.id);
  if (old_key == nullptr) {
    // Only a genesis state can list a domain without a key.
    return panic("Domain " + std::to_string(event.domain.id) + " has no key in the previous keyset to reshare.");
  }
  MPC_ASSIGN(KeyEvent::Vote vote, event.vote_success(id, ctx.signer_account_id, old_key->key, ctx.block_height));
  if (vote == KeyEvent::Vote::kDisagreement) {
    return unit_outcome(0, {"Public key disagreement; aborting key event instance."});
  }
  if (vote == KeyEvent::Vote::kRecorded) return unit_outcome(0, {"vote recorded"});

  r->reshared_keys.push_back(model::KeyForDomain{id.domain_id, old_key->key, id.attempt_id});
  if (const model::DomainConfig* next = next_domain_after(previous.domains, id.domain_id)) {
    event = KeyEvent::create(event.epoch_id, *next, event.parameters);
    return unit_outcome(0, {"domain " + std::to_string(id.domain_id) + " reshared"});
  }
  const std::string done = "resharing complete: Running at epoch " + std::to_string(event.epoch_id);
  s.transition(running_state(previous.domains, model::Keyset{event.epoch_id, r->reshared_keys}, event.parameters));
  return unit_outcome(0, {done});
}

core::Result<CallOutcome> vote_abort_key_event_instance(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(model::KeyEventId id, key_event_id_arg(args));
  MPC_TRY(key_event_caller(ctx, "vote_abort_key_event_instance"));
  KeyEvent* event = nullptr;
  if (Initializing* init = s.as_mut<Initializing>()) event = &init->generating_key;
  if (Resharing* r = s.as_mut<Resharing>()) event = &r->resharing_key;
  // The reference's text for this case, though Running is refused too.
  if (event == nullptr) return panic("Protocol state is not running, nor resharing.");
  MPC_TRY(event->vote_abort(id, ctx.signer_account_id, ctx.block_height));
  return unit_outcome(0, {"key event attempt " + std::to_string(id.attempt_id) + " for domain " + std::to_string(id.domain_id) +
                          " aborted"});
}

core::Result<CallOutcome> vote_cancel_resharing(State& s, const CallContext& ctx, const json&) {
  MPC_TRY(require_no_deposit(ctx, "vote_cancel_resharing"));
  Resharing* r = s.as_mut<Resharing>();
  if (r == nullptr) return panic("Protocol state is not resharing.");
  const model::ThresholdParameters& parameters = r->previous_running_state.parameters;
  if (parameters.participants.find(ctx.signer_account_id) == nullptr) return not_participant(ctx.signer_account_id);
  auto& votes = r->cancellation_requests;
  if (std::find(votes.begin(), votes.end(), ctx.signer_account_id) == votes.end()) votes.push_back(ctx.signer_account_id);
  if (votes.size() < parameters.threshold) return unit_outcome(0, {"cancel vote recorded"});
  // Back to the previous Running state; the cancelled epoch is never reused.
  Running previous = r->previous_running_state;
  previous.previously_cancelled_resharing_epoch_id = r->resharing_key.epoch_id;
  previous.extra.erase("previously_cancelled_resharing_epoch_id");
  s.transition(std::move(previous));
  return unit_outcome(0, {"resharing cancelled: Running"});
}

}  // namespace mpc::contract::internal
