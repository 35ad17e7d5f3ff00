#include "node/presign_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/file_util.h"
#include "threshold/ecdsa_messages.h"

namespace mpc::node {

using Clock = core::Clock;
using threshold::SessionId;

struct PresignService::Session {
  std::uint64_t domain_id = 0;
  std::uint64_t owner = 0;
  std::vector<std::uint64_t> participants;
  threshold::PresignSession protocol;
  Clock::time_point started;
  Clock::time_point deadline;
};

// A message of a session this node has not joined yet. PresignShares hold
// secret scalars: wiped when dropped.
struct PresignService::Early {
  SessionId id{};
  std::uint64_t from = 0;
  core::Bytes bytes;
  Clock::time_point deadline;
  ~Early() { core::secure_wipe(bytes.data(), bytes.size()); }
};

namespace {

std::string short_id(const SessionId& s) { return core::hex_encode(core::ByteView(s.data(), 6)); }
std::string pool_id(const SessionId& s) { return core::hex_encode(core::ByteView(s.data(), s.size())); }

std::string ids_text(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

bool contains(const std::vector<std::uint64_t>& ids, std::uint64_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

}  // namespace

PresignService::PresignService(PresignPorts ports, PresignOptions options, std::filesystem::path pool_dir, core::SecretBytes local_key,
                               core::Clock& clock, net::MetricsRegistry& metrics, threshold::RandomSource random, core::Env& env)
    : ports_(std::move(ports)),
      options_(options),
      pool_dir_(std::move(pool_dir)),
      local_key_(std::move(local_key)),
      clock_(clock),
      metrics_(metrics),
      random_(std::move(random)),
      env_(env) {}

PresignService::~PresignService() = default;

PresignatureContext PresignService::context_for(std::uint64_t domain_id) const {
  return PresignatureContext{view_.epoch_id, domain_id, view_.participants, view_.members};
}

core::Result<PresignatureStore*> PresignService::pool(std::uint64_t domain_id) {
  if (auto it = pools_.find(domain_id); it != pools_.end()) return it->second.get();
  MPC_TRY(core::ensure_directory(pool_dir_, 0700, env_));
  MPC_ASSIGN(auto store,
             PresignatureStore::open(pool_dir_ / ("domain-" + std::to_string(domain_id) + ".enc"), local_key_.clone(), env_));
  auto* raw = store.get();
  pools_.emplace(domain_id, std::move(store));
  return raw;
}

std::size_t PresignService::owned_locked(std::uint64_t domain_id) const {
  auto it = pools_.find(domain_id);
  if (it == pools_.end() || !view_.self) return 0;
  std::size_t n = 0;
  for (const auto& info : it->second->list(context_for(domain_id))) n += info.owner == *view_.self;
  return n;
}

void PresignService::on_chain(const PresignChainView& view) {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  const bool key_changed = view.epoch_id != view_.epoch_id || view.participants != view_.participants || view.members != view_.members ||
                           view.threshold != view_.threshold || view.self != view_.self;
  if (key_changed && !sessions_.empty()) {
    // Buffered messages and held requests stay: they expire, or belong to
    // a session of the new view (a node that just saw the network Running).
    spdlog::info("presigning: the epoch or participants changed; {} running session(s) end", sessions_.size());
    sessions_.clear();  // PresignSession wipes its secrets
  }
  view_ = view;
  if (view_.running && view_.self) {
    for (auto domain : view_.ecdsa_domains) {
      auto p = pool(domain);
      if (!p) {
        spdlog::error("presigning: the pool of domain {} cannot be opened: {}", domain, p.error().message);
        continue;
      }
      if (auto st = (*p)->use_context(context_for(domain)); !st)
        spdlog::error("presigning: the pool of domain {} cannot discard old presignatures: {}", domain, st.error().message);
    }
  }
  tick_locked(now);
}

void PresignService::tick() {
  std::lock_guard lock(mu_);
  tick_locked(clock_.now());
}

void PresignService::tick_locked(Clock::time_point now) {
  std::vector<SessionId> expired;
  for (const auto& [id, s] : sessions_)
    if (now >= s->deadline) expired.push_back(id);
  for (const auto& id : expired) {
    auto waiting = sessions_.at(id)->protocol.waiting_for();
    end(id, "no message within the session timeout from participant(s) " + ids_text(waiting), now);
  }
  std::erase_if(early_, [&](const auto& e) { return now >= e->deadline; });
  if (!held_.empty()) retry_held(now);

  if (!view_.running || !view_.self) return;
  const auto n = threshold::ecdsa_signer_count(view_.threshold);
  std::optional<std::set<std::uint64_t>> reachable;
  for (auto domain : view_.ecdsa_domains) {
    if (n < 3 || view_.participants.size() < n) {
      if (unsignable_logged_.insert(domain).second) {
        spdlog::warn("presigning: domain {} cannot be signed: threshold ECDSA needs 2T - 1 = {} participants, the network has {}",
                     domain, n, view_.participants.size());
      }
      continue;
    }
    if (auto it = not_before_.find(domain); it != not_before_.end() && now < it->second) continue;
    std::size_t led = 0;
    for (const auto& [id, s] : sessions_) led += s->domain_id == domain && s->owner == *view_.self;
    std::size_t owned = owned_locked(domain);
    while (led < options_.max_led_per_domain && owned + led < options_.pool_target) {
      if (!reachable) reachable = ports_.reachable();
      if (!lead(domain, *reachable, now)) break;
      ++led;
    }
  }
}

bool PresignService::lead(std::uint64_t domain_id, const std::set<std::uint64_t>& reachable, Clock::time_point now) {
  const std::uint64_t self = *view_.self;
  const auto n = threshold::ecdsa_signer_count(view_.threshold);
  std::vector<std::uint64_t> others;
  for (auto id : view_.participants)
    if (id != self && reachable.contains(id)) others.push_back(id);
  if (others.size() + 1 < n) return false;  // not enough peers reachable: the next tick tries again
  std::vector<std::uint64_t> set{self};
  for (std::size_t i = 0; i + 1 < n; ++i) set.push_back(others[(rotation_ + i) % others.size()]);
  ++rotation_;
  std::sort(set.begin(), set.end());

  auto share = ports_.key_share(domain_id);
  if (!share) {
    spdlog::error("presigning: no usable share of domain {}: {}", domain_id, share.error().message);
    not_before_[domain_id] = now + 10 * options_.retry_delay;
    return false;
  }
  threshold::PresignSetup setup;
  setup.session = threshold::new_session_id(random_);
  setup.self = self;
  setup.participants = set;
  setup.threshold = view_.threshold;
  setup.key_share = std::move(*share);
  const SessionId id = setup.session;
  auto protocol = threshold::PresignSession::create(std::move(setup), random_);
  if (!protocol) {
    spdlog::error("presigning: cannot start a session for domain {}: {}", domain_id, protocol.error().message);
    not_before_[domain_id] = now + 10 * options_.retry_delay;
    return false;
  }
  threshold::PresignRequestMessage request;
  request.session = id;
  request.epoch_id = view_.epoch_id;
  request.domain_id = domain_id;
  request.participants = set;
  auto request_bytes = threshold::encode_ecdsa_message(request);
  if (!request_bytes) {
    spdlog::error("presigning: cannot encode a PresignRequest: {}", request_bytes.error().message);
    return false;
  }
  for (auto to : set) {
    if (to == self) continue;
    if (!ports_.send(to, *request_bytes)) {
      not_before_[domain_id] = now + options_.retry_delay;
      return false;
    }
  }
  auto session = std::make_unique<Session>(Session{domain_id, self, set, std::move(*protocol), now, now + options_.session_timeout});
  auto& s = *session;
  sessions_.emplace(id, std::move(session));
  metrics_.counter("mpc_presign_sessions_led_total", "Presigning sessions this node asked for").inc();
  spdlog::debug("presigning: session {} for domain {} with {}", short_id(id), domain_id, ids_text(set));
  if (!send_all(s, s.protocol.start())) {
    end(id, "a participant of the set is not reachable", now);
    return false;
  }
  if (s.protocol.done()) finish(id, now);
  return true;
}

bool PresignService::send_all(Session& session, std::vector<threshold::Outgoing> out) {
  bool ok = true;
  for (auto& o : out) {
    if (o.to) {
      ok = ports_.send(*o.to, o.payload) && ok;
    } else {
      for (auto to : session.participants)
        if (to != *view_.self) ok = ports_.send(to, o.payload) && ok;
    }
    core::secure_wipe(o.payload.data(), o.payload.size());  // a private PresignShares holds secrets
  }
  return ok;
}

std::optional<PresignService::Refusal> PresignService::refuse_request(std::uint64_t from,
                                                                     const threshold::PresignRequestMessage& r) const {
  auto later = [](std::string why) { return Refusal{std::move(why), true}; };
  auto never = [](std::string why) { return Refusal{std::move(why), false}; };
  if (!view_.running || !view_.self) return later("this node is not a participant of a running network");
  if (r.epoch_id < view_.epoch_id)
    return never("epoch " + std::to_string(r.epoch_id) + " is not the current epoch " + std::to_string(view_.epoch_id));
  if (r.epoch_id > view_.epoch_id)
    return later("epoch " + std::to_string(r.epoch_id) + " is not the current epoch " + std::to_string(view_.epoch_id));
  if (!contains(view_.participants, from)) return never("the asker is not a current participant");
  if (!view_.ecdsa_domains.contains(r.domain_id))
    return never("domain " + std::to_string(r.domain_id) + " is not a DamgardEtAl secp256k1 domain");
  const auto n = threshold::ecdsa_signer_count(view_.threshold);
  if (r.participants.size() != n)
    return never("the set has " + std::to_string(r.participants.size()) + " participants, not 2T - 1 = " + std::to_string(n));
  if (!contains(r.participants, *view_.self)) return never("this node is not in the set");
  if (!contains(r.participants, from)) return never("the asker is not in the set");
  for (auto id : r.participants)
    if (!contains(view_.participants, id)) return never("participant " + std::to_string(id) + " of the set is not a current participant");
  if (sessions_.contains(r.session)) return never("the session exists already");
  std::size_t of_others = 0, of_asker = 0;
  for (const auto& [id, s] : sessions_) {
    if (s->owner == *view_.self) continue;
    ++of_others;
    of_asker += s->owner == from;
  }
  if (of_others >= options_.max_sessions || of_asker >= options_.max_sessions_per_peer) return never("this node runs too many presigning sessions");
  const auto reachable = ports_.reachable();
  for (auto id : r.participants)
    if (id != *view_.self && !reachable.contains(id)) return later("participant " + std::to_string(id) + " of the set is not reachable yet");
  return std::nullopt;
}

void PresignService::retry_held(Clock::time_point now) {
  std::vector<Held> held;
  held.swap(held_);
  for (auto& h : held) {
    auto refusal = refuse_request(h.from, h.request);
    if (!refusal) {
      join(h.from, std::move(h.request), now);
    } else if (refusal->may_pass && now < h.deadline) {
      held_.push_back(std::move(h));
    } else {
      metrics_.counter("mpc_presign_sessions_refused_total", "Presigning sessions of other participants this node refused").inc();
      spdlog::warn("presigning: refused session {} from participant {}: {}", short_id(h.request.session), h.from, refusal->why);
      std::erase_if(early_, [&](const auto& e) { return e->id == h.request.session; });
    }
  }
}

void PresignService::on_request(std::uint64_t from, threshold::PresignRequestMessage request, Clock::time_point now) {
  auto refusal = refuse_request(from, request);
  if (refusal && refusal->may_pass) {
    std::size_t of_asker = 0;
    bool duplicate = false;
    for (const auto& h : held_) {
      of_asker += h.from == from;
      duplicate = duplicate || h.request.session == request.session;
    }
    if (!duplicate && held_.size() < options_.max_held_requests &&
        of_asker < std::max<std::size_t>(1, options_.max_held_requests / 4)) {
      held_.push_back(Held{from, std::move(request), now + options_.session_timeout});
      if (ports_.refresh_chain) ports_.refresh_chain();
      return;
    }
  }
  if (refusal) {
    metrics_.counter("mpc_presign_sessions_refused_total", "Presigning sessions of other participants this node refused").inc();
    spdlog::warn("presigning: refused session {} from participant {}: {}", short_id(request.session), from, refusal->why);
    std::erase_if(early_, [&](const auto& e) { return e->id == request.session; });
    return;
  }
  join(from, std::move(request), now);
}

void PresignService::join(std::uint64_t from, threshold::PresignRequestMessage request, Clock::time_point now) {
  auto share = ports_.key_share(request.domain_id);
  if (!share) {
    spdlog::error("presigning: refused session {} from participant {}: no usable share of domain {}: {}", short_id(request.session), from,
                  request.domain_id, share.error().message);
    return;
  }
  threshold::PresignSetup setup;
  setup.session = request.session;
  setup.self = *view_.self;
  setup.participants = request.participants;
  setup.threshold = view_.threshold;
  setup.key_share = std::move(*share);
  auto protocol = threshold::PresignSession::create(std::move(setup), random_);
  if (!protocol) {
    spdlog::warn("presigning: refused session {} from participant {}: {}", short_id(request.session), from, protocol.error().message);
    return;
  }
  const SessionId id = request.session;
  auto session = std::make_unique<Session>(
      Session{request.domain_id, from, std::move(request.participants), std::move(*protocol), now, now + options_.session_timeout});
  auto& s = *session;
  sessions_.emplace(id, std::move(session));
  metrics_.counter("mpc_presign_sessions_joined_total", "Presigning sessions of other participants this node joined").inc();
  if (!send_all(s, s.protocol.start())) {
    end(id, "a participant of the set is not reachable", now);
    return;
  }
  drain_early(id, now);
}

void PresignService::drain_early(const SessionId& id, Clock::time_point now) {
  std::vector<std::unique_ptr<Early>> mine;
  for (auto it = early_.begin(); it != early_.end();) {
    if ((*it)->id == id) {
      mine.push_back(std::move(*it));
      it = early_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& e : mine) {
    if (!sessions_.contains(id)) return;  // ended meanwhile
    step(id, e->from, e->bytes, now);
  }
}

void PresignService::on_message(std::uint64_t from, core::ByteView bytes) {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  auto refuse = [&](const char* reason, const std::string& why) {
    metrics_.counter("mpc_presign_messages_refused_total", "Presigning messages refused", {{"reason", reason}}).inc();
    spdlog::warn("presigning: refused a message from participant {}: {}", from, why);
  };
  if (bytes.size() >= 2 && bytes[1] == static_cast<std::uint8_t>(threshold::EcdsaMessageType::kPresignRequest)) {
    auto decoded = threshold::decode_ecdsa_message(bytes);
    if (!decoded) return refuse("malformed", decoded.error().message);
    on_request(from, std::get<threshold::PresignRequestMessage>(std::move(*decoded)), now);
    return;
  }
  auto id = threshold::ecdsa_session_of(bytes);
  if (!id || bytes[1] == static_cast<std::uint8_t>(threshold::EcdsaMessageType::kSignShare)) {
    return refuse("malformed", "not a presigning message");
  }
  if (sessions_.contains(*id)) {
    step(*id, from, bytes, now);
    return;
  }
  // Not joined (yet): another member's message overtook the asker's request.
  // (The mesh authenticated the sender as a participant; a node that has not
  // read the network Running yet keeps them too, for a request it holds.)
  if ((view_.running && !contains(view_.participants, from)) || bytes.size() > threshold::kMaxEcdsaMessageSize) {
    metrics_.counter("mpc_presign_messages_refused_total", "Presigning messages refused", {{"reason", "unknown_session"}}).inc();
    return;
  }
  std::size_t from_sender = 0;
  for (const auto& e : early_) from_sender += e->from == from;
  const std::size_t senders = std::max<std::size_t>(4, view_.participants.size());
  const std::size_t per_sender = std::max<std::size_t>(1, options_.max_early_messages / senders);
  if (early_.size() >= options_.max_early_messages || from_sender >= per_sender) {
    metrics_.counter("mpc_presign_messages_refused_total", "Presigning messages refused", {{"reason", "busy"}}).inc();
    return;
  }
  auto e = std::make_unique<Early>();
  e->id = *id;
  e->from = from;
  e->bytes.assign(bytes.begin(), bytes.end());
  e->deadline = now + options_.session_timeout;
  early_.push_back(std::move(e));
}

void PresignService::step(const SessionId& id, std::uint64_t from, core::ByteView bytes, Clock::time_point now) {
  auto& s = *sessions_.at(id);
  auto out = s.protocol.on_message(from, bytes);
  if (!out) {
    metrics_.counter("mpc_presign_messages_refused_total", "Presigning messages refused", {{"reason", "invalid"}}).inc();
    spdlog::warn("presigning: session {}: refused a message from participant {}: {}", short_id(id), from, out.error().message);
    return;
  }
  if (auto failure = s.protocol.failure()) {
    std::string why = *failure;
    if (auto blamed = s.protocol.blamed()) why += " (participant " + std::to_string(*blamed) + ")";
    end(id, why, now);
    return;
  }
  if (!send_all(s, std::move(*out))) {
    end(id, "a participant of the set is not reachable", now);
    return;
  }
  if (s.protocol.done()) finish(id, now);
}

void PresignService::finish(const SessionId& id, Clock::time_point now) {
  auto node = sessions_.extract(id);
  auto& s = *node.mapped();
  auto output = s.protocol.take_output();
  if (!output) return;
  const auto encoded = threshold::encode_presignature(*output);
  auto p = pool(s.domain_id);
  if (!p) {
    spdlog::error("presigning: the pool of domain {} cannot be opened: {}", s.domain_id, p.error().message);
    return;
  }
  const auto context = context_for(s.domain_id);
  // A full share of one owner's presignatures: the oldest goes (unused, so
  // dropping it is safe) to make room for the newest.
  if (s.owner != *view_.self) {
    std::vector<std::string> of_owner;
    for (const auto& info : (*p)->list(context))
      if (info.owner == s.owner) of_owner.push_back(info.id);
    for (std::size_t i = 0; i + options_.max_pool_per_owner <= of_owner.size(); ++i) {
      if (auto dropped = (*p)->take(context, of_owner[i]); !dropped)
        spdlog::error("presigning: cannot drop an old presignature of domain {}: {}", s.domain_id, dropped.error().message);
    }
  }
  if (auto st = (*p)->add(context, PresignatureInfo{pool_id(id), s.owner, s.participants}, encoded); !st) {
    spdlog::error("presigning: cannot store the presignature of session {} (domain {}): {}", short_id(id), s.domain_id, st.error().message);
    return;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.started);
  metrics_.counter("mpc_presignatures_generated_total", "Presignatures this node stored (its own and its part of others')").inc();
  metrics_.gauge("mpc_presignatures_owned", "Presignatures this node owns, not used yet", {{"domain", std::to_string(s.domain_id)}})
      .set(static_cast<double>(owned_locked(s.domain_id)));
  spdlog::debug("presigning: session {} (domain {}, owner {}) stored in {} ms", short_id(id), s.domain_id, s.owner, elapsed.count());
}

void PresignService::end(const SessionId& id, const std::string& why, Clock::time_point now) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  spdlog::warn("presigning: session {} (domain {}, owner {}) failed: {}", short_id(id), it->second->domain_id, it->second->owner, why);
  metrics_.counter("mpc_presign_sessions_failed_total", "Presigning sessions that ended without a presignature").inc();
  if (view_.self && it->second->owner == *view_.self) not_before_[it->second->domain_id] = now + options_.retry_delay;
  sessions_.erase(it);
}

std::optional<Clock::time_point> PresignService::next_wakeup() const {
  std::lock_guard lock(mu_);
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, s] : sessions_) consider(s->deadline);
  for (const auto& e : early_) consider(e->deadline);
  for (const auto& h : held_) consider(h.deadline);
  const auto now = clock_.now();
  for (const auto& [domain, t] : not_before_)
    if (t > now) consider(t);
  return next;
}

core::Result<std::optional<HeldPresignature>> PresignService::take_own(std::uint64_t domain_id, const std::set<std::uint64_t>& reachable) {
  std::lock_guard lock(mu_);
  if (!view_.running || !view_.self || !view_.ecdsa_domains.contains(domain_id)) return std::optional<HeldPresignature>{};
  MPC_ASSIGN(auto* p, pool(domain_id));
  const auto context = context_for(domain_id);
  for (const auto& info : p->list(context)) {
    if (info.owner != *view_.self) continue;
    if (!std::all_of(info.participants.begin(), info.participants.end(),
                     [&](std::uint64_t id) { return id == *view_.self || reachable.contains(id); }))
      continue;
    MPC_ASSIGN(auto taken, p->take(context, info.id));
    if (!taken) continue;
    auto presignature = threshold::decode_presignature(taken->encoded.view());
    auto id = core::hex_decode(info.id);
    if (!presignature || !id || id->size() != 32) {
      spdlog::error("presigning: a stored presignature of domain {} is damaged; it is dropped", domain_id);
      continue;
    }
    HeldPresignature held;
    std::copy(id->begin(), id->end(), held.id.begin());
    held.presignature = std::move(*presignature);
    metrics_.counter("mpc_presignatures_used_total", "Presignatures taken from the pool to sign").inc();
    metrics_.gauge("mpc_presignatures_owned", "Presignatures this node owns, not used yet", {{"domain", std::to_string(domain_id)}})
        .set(static_cast<double>(owned_locked(domain_id)));
    return std::optional<HeldPresignature>(std::move(held));
  }
  return std::optional<HeldPresignature>{};
}

core::Result<threshold::Presignature> PresignService::take_for(std::uint64_t domain_id, const SessionId& id, std::uint64_t owner,
                                                               const std::vector<std::uint64_t>& signers) {
  std::lock_guard lock(mu_);
  if (!view_.running || !view_.self || !view_.ecdsa_domains.contains(domain_id))
    return core::fail(core::ErrorCode::kFailedPrecondition, "domain " + std::to_string(domain_id) + " is not signed with presignatures now");
  MPC_ASSIGN(auto* p, pool(domain_id));
  const auto context = context_for(domain_id);
  const std::string key = pool_id(id);
  auto info = p->find(context, key);
  if (!info) {
    if (p->was_taken(key)) return core::fail(core::ErrorCode::kAlreadyExists, "presignature " + short_id(id) + " was used already");
    return core::fail(core::ErrorCode::kNotFound, "this node holds no presignature " + short_id(id) + " of domain " + std::to_string(domain_id));
  }
  if (info->owner != owner)
    return core::fail(core::ErrorCode::kPermissionDenied, "presignature " + short_id(id) + " belongs to participant " +
                                                              std::to_string(info->owner) + ", not to the leader " + std::to_string(owner));
  if (info->participants != signers)
    return core::fail(core::ErrorCode::kInvalidArgument, "presignature " + short_id(id) + " was made by " + ids_text(info->participants) +
                                                             ", not by the session's signers " + ids_text(signers));
  MPC_ASSIGN(auto taken, p->take(context, key));
  if (!taken) return core::fail(core::ErrorCode::kNotFound, "presignature " + short_id(id) + " is gone");
  auto presignature = threshold::decode_presignature(taken->encoded.view());
  if (!presignature) return core::fail(core::ErrorCode::kInternal, "the stored presignature " + short_id(id) + " is damaged");
  metrics_.counter("mpc_presignatures_used_total", "Presignatures taken from the pool to sign").inc();
  return std::move(*presignature);
}

std::size_t PresignService::available(std::uint64_t domain_id) const {
  std::lock_guard lock(mu_);
  auto it = pools_.find(domain_id);
  return it == pools_.end() ? 0 : it->second->available(context_for(domain_id));
}

std::size_t PresignService::owned(std::uint64_t domain_id) const {
  std::lock_guard lock(mu_);
  return owned_locked(domain_id);
}

std::size_t PresignService::running_sessions() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace mpc::node
