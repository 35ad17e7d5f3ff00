#include "node/signing_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/signing_plan.h"

namespace mpc::node {

using Clock = core::Clock;
using threshold::Message;
using threshold::SessionId;

struct SigningService::Tracked {
  PendingSignature request;
  Clock::time_point first_seen;
  Clock::time_point not_before;              // retries and the grace after a respond
  std::set<std::uint64_t> failed;            // participants that failed an attempt
  std::optional<SessionId> session;          // the session this node leads for it, if any
  std::size_t attempts = 0;
  bool logged_cannot_lead = false;
};

struct SigningService::Led {
  std::string request_json;
  std::vector<std::uint64_t> signers;
  std::optional<threshold::Coordinator> frost;           // an Ed25519 session
  std::optional<threshold::EcdsaSignCoordinator> ecdsa;  // a threshold ECDSA session
  Clock::time_point deadline;
  Clock::time_point started;

  std::vector<std::uint64_t> waiting_for() const { return frost ? frost->waiting_for() : ecdsa->waiting_for(); }
};

struct SigningService::Signing {
  std::uint64_t leader = 0;
  std::string request_json;
  threshold::Signer signer;
  Clock::time_point deadline;
};

struct SigningService::Waiting {
  std::uint64_t leader = 0;
  threshold::SignRequest request;
  Clock::time_point deadline;
};

namespace {

std::string short_id(const SessionId& s) { return core::hex_encode(core::ByteView(s.data(), 6)); }

std::string ids_text(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace

std::array<std::uint8_t, 32> ecdsa_sign_entropy(const std::string& request_json) {
  const std::string_view label = "mpc-node ecdsa sign entropy v1";
  core::Bytes input(label.begin(), label.end());
  input.insert(input.end(), request_json.begin(), request_json.end());
  const auto digest = core::sha256(input);
  std::array<std::uint8_t, 32> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

SigningService::SigningService(SigningPorts ports, SigningOptions options, core::Clock& clock, net::MetricsRegistry& metrics,
                               threshold::RandomSource random)
    : ports_(std::move(ports)), options_(options), clock_(clock), metrics_(metrics), random_(std::move(random)) {}

SigningService::~SigningService() = default;

bool SigningService::send(std::uint64_t to, const Message& message) {
  auto bytes = threshold::encode_message(message);
  if (!bytes) {
    spdlog::error("signing: cannot encode a {} message: {}", threshold::message_type_name(threshold::message_type(message)),
                  bytes.error().message);
    return false;
  }
  return ports_.send(to, std::move(*bytes));
}

void SigningService::send_abort(std::uint64_t to, const SessionId& session, const std::string& reason) {
  send(to, threshold::make_abort(session, reason));
}

const PendingSignature* SigningService::pending_for(const threshold::SignRequest& request) const {
  const std::string key = core::to_string(request.request_context);
  auto it = tracked_.find(key);
  if (it == tracked_.end()) return nullptr;
  return &it->second->request;
}

void SigningService::on_chain(const SigningChainView& view) {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  view_ = view;
  std::set<std::string> present;
  for (const auto& p : view.pending) {
    present.insert(p.request_json);
    auto& slot = tracked_[p.request_json];
    if (!slot) {
      slot = std::make_unique<Tracked>();
      slot->request = p;
      slot->first_seen = now;
      slot->not_before = now;
    }
  }
  // Requests no longer pending (answered, timed out, or the network changed):
  // their sessions end.
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (view.running && present.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second->session) end_led(*it->second->session, "the request is no longer pending", {}, now, true);
    it = tracked_.erase(it);
  }
  for (auto it = signing_.begin(); it != signing_.end();) {
    if (!present.contains(it->second->request_json)) {
      it = signing_.erase(it);
    } else {
      ++it;
    }
  }
  // Sessions that waited for this read.
  std::vector<std::pair<std::uint64_t, threshold::SignRequest>> ready;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (tracked_.contains(core::to_string(it->second->request.request_context))) {
      ready.emplace_back(it->second->leader, std::move(it->second->request));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [leader, request] : ready) start_signing(leader, std::move(request), now);
  metrics_.gauge("mpc_sign_requests_pending", "Signature requests pending on the contract, as this node last read it")
      .set(static_cast<double>(tracked_.size()));
  tick_locked(now);
}

void SigningService::tick() {
  std::lock_guard lock(mu_);
  tick_locked(clock_.now());
}

void SigningService::tick_locked(Clock::time_point now) {
  // Sessions past their deadline.
  std::vector<SessionId> expired;
  for (const auto& [id, led] : led_)
    if (now >= led->deadline) expired.push_back(id);
  for (const auto& id : expired) {
    auto waiting = led_.at(id)->waiting_for();
    end_led(id, "no answer within the session timeout from participant(s) " + ids_text(waiting),
            std::set<std::uint64_t>(waiting.begin(), waiting.end()), now, true);
  }
  for (auto it = signing_.begin(); it != signing_.end();) {
    if (now >= it->second->deadline) {
      it = signing_.erase(it);  // the Signer wipes its nonces
    } else {
      ++it;
    }
  }
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (now >= it->second->deadline) {
      send_abort(it->second->leader, it->second->request.session, "the request is not pending on the chain as this node reads it");
      metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused",
                       {{"reason", "request_not_pending"}})
          .inc();
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  // Leading.
  if (!view_.running || !view_.self) return;
  const auto reachable = ports_.reachable();
  for (auto& [key, t] : tracked_) {
    if (t->session || now < t->not_before) continue;
    const bool ecdsa = view_.ecdsa_domains.contains(t->request.domain_id);
    if (!ecdsa && !view_.eddsa_domains.contains(t->request.domain_id)) continue;
    if (led_.size() >= options_.max_led) break;
    LeadInput in;
    in.order = leader_order(view_.participants, core::as_bytes(key));
    in.self = *view_.self;
    in.reachable = reachable;
    // Threshold ECDSA signs with a presignature's whole set (2T - 1).
    in.threshold = ecdsa ? threshold::ecdsa_signer_count(view_.threshold) : view_.threshold;
    in.waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - t->first_seen);
    in.takeover_delay = options_.takeover_delay;
    in.failed = t->failed;
    const auto d = decide_lead(in);
    if (!d.lead) {
      if (!d.wait && !t->logged_cannot_lead) {
        spdlog::warn("signing: cannot lead a request for domain {}: {}", t->request.domain_id, d.reason);
        t->logged_cannot_lead = true;
      }
      continue;
    }
    t->logged_cannot_lead = false;
    if (ecdsa) {
      lead_ecdsa(*t, reachable, now);
    } else {
      lead(*t, d.signers, now);
    }
  }
}

void SigningService::lead(Tracked& t, const std::vector<std::uint64_t>& signers, Clock::time_point now) {
  auto key = ports_.key_package(t.request.domain_id);
  if (!key) {
    spdlog::error("signing: cannot lead a request for domain {}: {}", t.request.domain_id, key.error().message);
    t.not_before = now + options_.respond_grace;
    return;
  }
  threshold::SignRequest request;
  request.session = threshold::new_session_id(random_);
  request.request_context = core::Bytes(t.request.request_json.begin(), t.request.request_json.end());
  request.domain_id = t.request.domain_id;
  request.message = t.request.payload;
  request.tweak = t.request.tweak;
  request.signers = signers;
  auto coordinator = threshold::Coordinator::create(*view_.self, *key, request);
  if (!coordinator) {
    spdlog::error("signing: cannot lead a request for domain {}: {}", t.request.domain_id, coordinator.error().message);
    t.not_before = now + options_.respond_grace;
    return;
  }
  if (auto st = coordinator->start(random_); !st) {
    spdlog::error("signing: cannot start a session: {}", st.error().message);
    t.not_before = now + options_.respond_grace;
    return;
  }
  auto led = std::make_unique<Led>();
  led->frost.emplace(std::move(*coordinator));
  begin_led(t, request, std::move(led), "session", now);
}

void SigningService::begin_led(Tracked& t, const threshold::SignRequest& request, std::unique_ptr<Led> led, std::string_view what,
                               Clock::time_point now) {
  ++t.attempts;
  led->request_json = t.request.request_json;
  led->signers = request.signers;
  led->deadline = now + options_.session_timeout;
  led->started = now;
  const auto session = request.session;
  t.session = session;
  led_.emplace(session, std::move(led));
  metrics_.counter("mpc_sign_sessions_led_total", "Signing sessions this node started as leader").inc();
  spdlog::info("signing: leading {} {} for domain {} with signers {} (attempt {})", what, short_id(session), t.request.domain_id,
               ids_text(request.signers), t.attempts);
  for (auto id : request.signers) {
    if (id == *view_.self) continue;
    if (!send(id, request)) {
      end_led(session, "participant " + std::to_string(id) + " is not reachable", {id}, now, true);
      return;
    }
  }
}

void SigningService::end_led(const SessionId& session, const std::string& why, const std::set<std::uint64_t>& blame,
                             Clock::time_point now, bool tell_signers) {
  auto it = led_.find(session);
  if (it == led_.end()) return;
  auto& led = *it->second;
  if (tell_signers) {
    auto abort = led.frost ? led.frost->abort(why) : threshold::make_abort(session, why);
    for (auto id : led.signers)
      if (view_.self && id != *view_.self) send(id, abort);
  }
  if (auto t = tracked_.find(led.request_json); t != tracked_.end()) {
    t->second->session.reset();
    t->second->failed.insert(blame.begin(), blame.end());
    t->second->not_before = now + options_.retry_delay;
  }
  spdlog::warn("signing: session {} failed: {}", short_id(session), why);
  metrics_.counter("mpc_sign_sessions_failed_total", "Signing sessions this node led that ended without a signature").inc();
  led_.erase(it);
}

std::optional<std::string> SigningService::refuse_request(std::uint64_t from, const threshold::SignRequest& request) const {
  if (!view_.running || !view_.self) return "this node is not a participant of a running network";
  if (std::find(view_.participants.begin(), view_.participants.end(), from) == view_.participants.end())
    return "the leader is not a current participant";
  const auto& s = request.signers;
  if (std::find(s.begin(), s.end(), *view_.self) == s.end()) return "this node is not among the session's signers";
  if (std::find(s.begin(), s.end(), from) == s.end()) return "the leader is not among the session's signers";
  for (auto id : s)
    if (std::find(view_.participants.begin(), view_.participants.end(), id) == view_.participants.end())
      return "signer " + std::to_string(id) + " is not a current participant";
  if (view_.ecdsa_domains.contains(request.domain_id)) {
    const auto n = threshold::ecdsa_signer_count(view_.threshold);
    if (s.size() != n) return "threshold ECDSA signs with exactly 2T - 1 = " + std::to_string(n) + " signers, not " + std::to_string(s.size());
    if (request.message.size() != 32) return "a threshold ECDSA payload is a 32-byte hash";
    return std::nullopt;
  }
  if (s.size() < view_.threshold) return "fewer signers than the threshold";
  if (!view_.eddsa_domains.contains(request.domain_id))
    return "domain " + std::to_string(request.domain_id) + " is neither an Ed25519 (Frost) nor a DamgardEtAl domain";
  return std::nullopt;
}

void SigningService::on_sign_request(std::uint64_t from, threshold::SignRequest request, Clock::time_point now) {
  if (auto why = refuse_request(from, request)) {
    send_abort(from, request.session, *why);
    metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused", {{"reason", "invalid"}}).inc();
    spdlog::warn("signing: refused session {} from participant {}: {}", short_id(request.session), from, *why);
    return;
  }
  if (pending_for(request) == nullptr) {
    // Not seen pending yet: wait for the next chain read (bounded).
    std::size_t from_leader = 0;
    for (const auto& [id, w] : waiting_) from_leader += w->leader == from;
    if (waiting_.size() >= options_.max_waiting || from_leader >= options_.max_sessions_per_peer || waiting_.contains(request.session)) {
      send_abort(from, request.session, "too many sessions for requests this node has not seen on chain");
      metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused", {{"reason", "busy"}}).inc();
      return;
    }
    const auto session = request.session;
    waiting_.emplace(session, std::make_unique<Waiting>(Waiting{from, std::move(request), now + options_.unknown_request_wait}));
    if (ports_.refresh_chain) ports_.refresh_chain();
    return;
  }
  start_signing(from, std::move(request), now);
}

void SigningService::start_signing(std::uint64_t from, threshold::SignRequest request, Clock::time_point now) {
  if (auto why = refuse_request(from, request)) {
    send_abort(from, request.session, *why);
    return;
  }
  const auto* pending = pending_for(request);
  if (pending == nullptr || pending->domain_id != request.domain_id || pending->payload != request.message ||
      pending->tweak != request.tweak) {
    send_abort(from, request.session, "the session's domain, payload or tweak differ from the pending request's");
    metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused", {{"reason", "mismatch"}}).inc();
    spdlog::warn("signing: refused session {} from participant {}: it does not match the pending request", short_id(request.session), from);
    return;
  }
  if (view_.ecdsa_domains.contains(request.domain_id)) {
    sign_ecdsa(from, request, *pending, now);
    return;
  }
  // One session per (leader, request): a newer one replaces the older.
  std::size_t from_leader = 0;
  for (auto it = signing_.begin(); it != signing_.end();) {
    if (it->second->leader == from && it->second->request_json == pending->request_json) {
      it = signing_.erase(it);
      continue;
    }
    from_leader += it->second->leader == from;
    ++it;
  }
  if (signing_.size() >= options_.max_sessions || from_leader >= options_.max_sessions_per_peer || signing_.contains(request.session)) {
    send_abort(from, request.session, "this node runs too many signing sessions");
    metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused", {{"reason", "busy"}}).inc();
    return;
  }
  auto key = ports_.key_package(request.domain_id);
  if (!key) {
    send_abort(from, request.session, "this node holds no usable share of domain " + std::to_string(request.domain_id));
    spdlog::error("signing: cannot sign for domain {}: {}", request.domain_id, key.error().message);
    return;
  }
  const auto session = request.session;
  std::string request_json = pending->request_json;
  auto signer = threshold::Signer::create(*view_.self, from, *key, std::move(request));
  if (!signer) {
    send_abort(from, session, signer.error().message);
    return;
  }
  auto commitment = signer->commit(random_);
  if (!commitment) {
    send_abort(from, session, commitment.error().message);
    return;
  }
  signing_.emplace(session, std::make_unique<Signing>(Signing{from, std::move(request_json), std::move(*signer), now + options_.session_timeout}));
  metrics_.counter("mpc_sign_sessions_joined_total", "Signing sessions of other leaders this node signed in").inc();
  send(from, *commitment);
}

void SigningService::on_message(std::uint64_t from, core::ByteView bytes) {
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  if (threshold::is_ecdsa_message(bytes)) {
    on_ecdsa_share(from, bytes, now);
    return;
  }
  auto message = threshold::decode_message(bytes);
  if (!message) {
    metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "malformed"}}).inc();
    spdlog::warn("signing: malformed message from participant {}: {}", from, message.error().message);
    return;
  }
  const auto& session = threshold::session_of(*message);
  if (auto* request = std::get_if<threshold::SignRequest>(&*message)) {
    on_sign_request(from, std::move(*request), now);
    return;
  }
  if (auto it = led_.find(session); it != led_.end()) {
    auto& led = *it->second;
    if (!led.frost) {
      // A threshold ECDSA session: its signers send SignShare (above) or Abort.
      const auto* abort = std::get_if<threshold::Abort>(&*message);
      if (abort && from != *view_.self && std::find(led.signers.begin(), led.signers.end(), from) != led.signers.end()) {
        end_led(session, "participant " + std::to_string(from) + " aborted: " + abort->reason, {from}, now, true);
      } else {
        metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "invalid"}}).inc();
      }
      return;
    }
    auto step = led.frost->handle(from, *message);
    if (!step) {
      if (led.frost->state() == threshold::CoordinatorState::kFailed) {
        std::set<std::uint64_t> blame;
        if (auto b = led.frost->blamed()) blame.insert(*b);
        else if (std::holds_alternative<threshold::Abort>(*message)) blame.insert(from);
        end_led(session, step.error().message, blame, now, true);
      } else {
        metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "invalid"}}).inc();
        spdlog::warn("signing: session {}: refused a message from participant {}: {}", short_id(session), from, step.error().message);
      }
      return;
    }
    if (step->broadcast) {
      for (auto id : led.signers) {
        if (id == *view_.self) continue;
        if (!send(id, *step->broadcast)) {
          end_led(session, "participant " + std::to_string(id) + " is not reachable", {id}, now, true);
          return;
        }
      }
    }
    if (step->signature) responded(session, core::SignatureResponse{*step->signature}, now);
    return;
  }
  if (auto it = signing_.find(session); it != signing_.end()) {
    auto out = it->second->signer.handle(from, *message);
    if (!out) {
      metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "invalid"}}).inc();
      spdlog::warn("signing: session {}: refused a message from participant {}: {}", short_id(session), from, out.error().message);
      return;
    }
    if (*out) send(from, **out);
    const auto state = it->second->signer.state();
    if (state == threshold::SignerState::kDone) {
      // The leader has what it needs: it responds; do not take the request
      // over while that transaction lands.
      if (auto t = tracked_.find(it->second->request_json); t != tracked_.end())
        t->second->not_before = std::max(t->second->not_before, now + options_.respond_grace);
    }
    if (state == threshold::SignerState::kDone || state == threshold::SignerState::kAborted) signing_.erase(it);
    return;
  }
  if (auto it = waiting_.find(session); it != waiting_.end() && std::holds_alternative<threshold::Abort>(*message) &&
                                         it->second->leader == from) {
    waiting_.erase(it);
    return;
  }
  // A late message of a session that ended: nothing to do.
  metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "unknown_session"}}).inc();
}

void SigningService::responded(const SessionId& session, const core::SignatureResponse& response, Clock::time_point now) {
  auto it = led_.find(session);
  if (it == led_.end()) return;
  auto& led = *it->second;
  auto t = tracked_.find(led.request_json);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - led.started);
  metrics_.counter("mpc_signatures_total", "Signatures this node produced as leader").inc();
  if (t != tracked_.end()) {
    spdlog::info("signing: session {} produced a signature for domain {} in {} ms; responding", short_id(session),
                 t->second->request.domain_id, elapsed.count());
    ports_.respond(t->second->request, response);
    t->second->session.reset();
    t->second->not_before = now + options_.respond_grace;
  }
  led_.erase(it);
}

void SigningService::lead_ecdsa(Tracked& t, const std::set<std::uint64_t>& reachable, Clock::time_point now) {
  const auto domain = t.request.domain_id;
  const auto key = view_.ecdsa_domains.find(domain);
  if (key == view_.ecdsa_domains.end() || t.request.payload.size() != 32) {
    spdlog::error("signing: cannot lead a request for domain {}: not a 32-byte hash of a DamgardEtAl domain", domain);
    t.not_before = now + options_.respond_grace;
    return;
  }
  auto held = ports_.take_own_presignature ? ports_.take_own_presignature(domain, reachable)
                                           : core::Result<std::optional<HeldPresignature>>(std::nullopt);
  if (!held) {
    spdlog::error("signing: cannot take a presignature of domain {}: {}", domain, held.error().message);
    t.not_before = now + options_.respond_grace;
    return;
  }
  if (!*held) {
    // The pool refills in the background: try again shortly.
    if (!t.logged_cannot_lead) spdlog::info("signing: no presignature of domain {} is ready; the request waits", domain);
    t.logged_cannot_lead = true;
    t.not_before = now + options_.retry_delay;
    metrics_.counter("mpc_sign_presignature_waits_total", "Times a threshold ECDSA request waited for a presignature").inc();
    return;
  }
  threshold::SignRequest request;
  request.session = (*held)->id;
  request.request_context = core::Bytes(t.request.request_json.begin(), t.request.request_json.end());
  request.domain_id = domain;
  request.message = t.request.payload;
  request.tweak = t.request.tweak;
  request.signers = (*held)->presignature.participants;
  threshold::EcdsaSignRequest ecdsa;
  ecdsa.session = request.session;
  std::copy(t.request.payload.begin(), t.request.payload.end(), ecdsa.msg_hash.begin());
  ecdsa.tweak = t.request.tweak;
  ecdsa.entropy = ecdsa_sign_entropy(t.request.request_json);
  ecdsa.group_key = key->second;
  ecdsa.coordinator = *view_.self;
  // The presignature is gone from the pool already: whatever happens now, it
  // is never used again.
  auto coordinator = threshold::EcdsaSignCoordinator::create(std::move((*held)->presignature), ecdsa);
  if (!coordinator) {
    spdlog::error("signing: cannot lead a request for domain {}: {}", domain, coordinator.error().message);
    t.not_before = now + options_.retry_delay;
    return;
  }
  auto led = std::make_unique<Led>();
  led->ecdsa.emplace(std::move(*coordinator));
  begin_led(t, request, std::move(led), "threshold ECDSA session", now);
}

void SigningService::sign_ecdsa(std::uint64_t from, const threshold::SignRequest& request, const PendingSignature& pending,
                                Clock::time_point now) {
  const auto key = view_.ecdsa_domains.find(request.domain_id);
  if (key == view_.ecdsa_domains.end() || !ports_.take_presignature) {
    send_abort(from, request.session, "this node does not sign domain " + std::to_string(request.domain_id));
    return;
  }
  // Taken (gone from the durable pool) before anything is computed from it.
  auto presignature = ports_.take_presignature(request.domain_id, request.session, from, request.signers);
  if (!presignature) {
    send_abort(from, request.session, presignature.error().message);
    metrics_.counter("mpc_sign_sessions_refused_total", "Signing sessions of other leaders this node refused", {{"reason", "presignature"}})
        .inc();
    spdlog::warn("signing: refused threshold ECDSA session {} from participant {}: {}", short_id(request.session), from,
                 presignature.error().message);
    return;
  }
  threshold::EcdsaSignRequest ecdsa;
  ecdsa.session = request.session;
  std::copy(pending.payload.begin(), pending.payload.end(), ecdsa.msg_hash.begin());
  ecdsa.tweak = pending.tweak;
  ecdsa.entropy = ecdsa_sign_entropy(pending.request_json);
  ecdsa.group_key = key->second;
  ecdsa.coordinator = from;
  auto share = threshold::ecdsa_sign_share(std::move(*presignature), ecdsa);
  if (!share) {
    send_abort(from, request.session, share.error().message);
    return;
  }
  metrics_.counter("mpc_sign_sessions_joined_total", "Signing sessions of other leaders this node signed in").inc();
  ports_.send(from, std::move(*share));
  // The leader has what it needs from this node: do not take the request
  // over while its respond lands.
  if (auto t = tracked_.find(pending.request_json); t != tracked_.end())
    t->second->not_before = std::max(t->second->not_before, now + options_.respond_grace);
}

void SigningService::on_ecdsa_share(std::uint64_t from, core::ByteView bytes, Clock::time_point now) {
  auto session = threshold::ecdsa_session_of(bytes);
  auto it = session ? led_.find(*session) : led_.end();
  if (it == led_.end() || !it->second->ecdsa) {
    metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "unknown_session"}}).inc();
    return;
  }
  auto& led = *it->second;
  auto out = led.ecdsa->on_message(from, bytes);
  if (!out) {
    if (led.ecdsa->failure()) {
      // No redundancy locates a bad share: nobody is blamed; the retry
      // uses another presignature.
      end_led(*session, out.error().message, {}, now, true);
    } else {
      metrics_.counter("mpc_sign_messages_refused_total", "Signing messages refused", {{"reason", "invalid"}}).inc();
      spdlog::warn("signing: session {}: refused a message from participant {}: {}", short_id(*session), from, out.error().message);
    }
    return;
  }
  if (*out) {
    core::Secp256k1SignatureResponse response;
    response.big_r = (*out)->big_r;
    response.s = (*out)->s;
    response.recovery_id = (*out)->recovery_id;
    responded(*session, core::SignatureResponse{response}, now);
  }
}

std::optional<Clock::time_point> SigningService::next_wakeup() const {
  std::lock_guard lock(mu_);
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, led] : led_) consider(led->deadline);
  for (const auto& [id, s] : signing_) consider(s->deadline);
  for (const auto& [id, w] : waiting_) consider(w->deadline);
  const auto now = clock_.now();
  for (const auto& [key, t] : tracked_) {
    if (t->session) continue;
    if (t->not_before > now) {
      consider(t->not_before);
      continue;
    }
    // A takeover falls due at a multiple of the delay after first sight.
    const auto steps = (now - t->first_seen) / options_.takeover_delay + 1;
    consider(t->first_seen + steps * options_.takeover_delay);
  }
  return next;
}

std::size_t SigningService::led_sessions() const {
  std::lock_guard lock(mu_);
  return led_.size();
}

std::size_t SigningService::signer_sessions() const {
  std::lock_guard lock(mu_);
  return signing_.size();
}

}  // namespace mpc::node
