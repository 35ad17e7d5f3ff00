#include "node/key_event_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "core/crypto.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "core/key_derivation.h"
#include "core/secret.h"

namespace mpc::node {

using json = nlohmann::json;

namespace {

json id_json(const model::KeyEventId& id) {
  return json{{"epoch_id", id.epoch_id}, {"domain_id", id.domain_id}, {"attempt_id", id.attempt_id}};
}

const char* kind_name(KeyEventChainView::Kind kind) {
  switch (kind) {
    case KeyEventChainView::Kind::kKeygen: return "keygen";
    case KeyEventChainView::Kind::kReshare: return "reshare";
    case KeyEventChainView::Kind::kNone: break;
  }
  return "none";
}

void put_u64(core::Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Every node derives the same session id from what the contract shows; it
// binds the kind, curve, attempt and the set of parties.
threshold::SessionId session_id_for(KeyEventChainView::Kind kind, model::CurveKind curve, const model::KeyEventId& id,
                                    const model::ThresholdParameters& parameters) {
  const auto tag = core::as_bytes("mpc/key-event/v1");
  core::Bytes in(tag.begin(), tag.end());
  in.push_back(kind == KeyEventChainView::Kind::kKeygen ? 1 : 2);
  in.push_back(static_cast<std::uint8_t>(curve));
  put_u64(in, id.epoch_id);
  put_u64(in, id.domain_id);
  put_u64(in, id.attempt_id);
  put_u64(in, parameters.threshold);
  put_u64(in, parameters.participants.participants.size());
  std::vector<std::uint64_t> ids;
  for (const auto& p : parameters.participants.participants) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  for (auto v : ids) put_u64(in, v);
  const auto digest = core::sha256(in);
  threshold::SessionId out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

std::vector<std::uint64_t> participant_ids(const model::ThresholdParameters& parameters) {
  std::vector<std::uint64_t> ids;
  for (const auto& p : parameters.participants.participants) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

core::Result<threshold::KeyCurve> threshold_curve(model::CurveKind kind) {
  if (kind == model::CurveKind::kEd25519) return threshold::KeyCurve::kEd25519;
  if (kind == model::CurveKind::kSecp256k1) return threshold::KeyCurve::kSecp256k1;
  return core::invalid(std::string("this node runs no key event for ") + model::curve_name(kind) + " domains");
}

std::optional<model::KeyEventId> read_journal(const std::filesystem::path& path, core::Env& env) {
  auto text = core::read_file(path, 4096, env);
  if (!text) return std::nullopt;
  auto j = core::parse_json(*text, core::JsonLimits{4096, 4});
  if (!j) return std::nullopt;
  auto id = model::parse_key_event_id(*j);
  if (!id) return std::nullopt;
  return *id;
}

}  // namespace

core::Result<model::PublicKeyExtended> group_key_extended(model::CurveKind kind, core::ByteView compressed) {
  if (kind == model::CurveKind::kEd25519) {
    if (compressed.size() != 32) return core::invalid("an Ed25519 group key is 32 bytes");
    core::Ed25519PublicKey pk;
    std::copy(compressed.begin(), compressed.end(), pk.bytes.begin());
    return model::public_key_extended_of(core::NearPublicKey{pk});
  }
  if (kind == model::CurveKind::kSecp256k1) {
    MPC_ASSIGN(auto xy, core::secp256k1_decompress(compressed));
    return model::public_key_extended_of(core::NearPublicKey{xy});
  }
  return core::invalid(std::string("no key event for ") + model::curve_name(kind) + " keys");
}

core::Result<model::CurveKind> domain_curve(const model::DomainConfig& domain) {
  if (domain.extra.contains("curve") && domain.extra["curve"].is_string()) {
    const auto& c = domain.extra["curve"].get_ref<const std::string&>();
    if (c == "Secp256k1") return model::CurveKind::kSecp256k1;
    if (c == "Edwards25519" || c == "Ed25519") return model::CurveKind::kEd25519;
    if (c == "Bls12381") return model::CurveKind::kBls12381;
  }
  if (domain.protocol == "CaitSith" || domain.protocol == "DamgardEtAl") return model::CurveKind::kSecp256k1;
  if (domain.protocol == "Frost") return model::CurveKind::kEd25519;
  if (domain.protocol == "ConfidentialKeyDerivation") return model::CurveKind::kBls12381;
  return core::invalid("domain " + std::to_string(domain.id) + " has an unknown protocol \"" + domain.protocol + "\"");
}

core::Result<KeyEventChainView> key_event_view_of(const model::ProtocolState& state, std::uint64_t block_height,
                                                  const std::string& account_id, const core::Ed25519PublicKey& tls_public_key) {
  KeyEventChainView v;
  v.block_height = block_height;
  v.account_id = account_id;
  v.tls_public_key = tls_public_key;
  if (const auto* running = std::get_if<model::RunningState>(&state.state)) {
    v.running_keyset = running->keyset;
    v.running_participant = running->parameters.participants.find(account_id) != nullptr;
  } else if (const auto* init = std::get_if<model::InitializingState>(&state.state)) {
    auto event = model::parse_key_event(init->generating_key);
    if (!event) return std::unexpected(event.error().context("Initializing.generating_key"));
    v.kind = KeyEventChainView::Kind::kKeygen;
    v.event = std::move(*event);
  } else if (const auto* resharing = std::get_if<model::ResharingState>(&state.state)) {
    auto event = model::parse_key_event(resharing->resharing_key);
    if (!event) return std::unexpected(event.error().context("Resharing.resharing_key"));
    v.kind = KeyEventChainView::Kind::kReshare;
    v.event = std::move(*event);
    v.previous_parameters = resharing->previous_running_state.parameters;
    v.previous_keyset = resharing->previous_running_state.keyset;
  }
  return v;
}

// ---- the service ----

struct KeyEventService::Session {
  model::KeyEventId id;
  KeyEventChainView::Kind kind = KeyEventChainView::Kind::kNone;
  model::CurveKind curve = model::CurveKind::kEd25519;
  threshold::SessionId sid{};
  std::set<std::uint64_t> parties;
  threshold::KeyEventSession protocol;
  core::Clock::time_point started;
  std::deque<std::pair<std::uint64_t, core::Bytes>> unsent;  // the mesh had no channel to the peer yet
  bool complaint_timeout_called = false;
  bool finished = false;  // output stored or failure handled
  // A private Share message holds a secret scalar.
  ~Session() {
    for (auto& [to, payload] : unsent) core::secure_wipe(payload.data(), payload.size());
  }
};

KeyEventService::KeyEventService(KeyEventPorts ports, KeyEventOptions options, KeyshareStore& store,
                                 std::filesystem::path journal, core::Clock& clock, net::MetricsRegistry& metrics,
                                 threshold::RandomSource random, core::Env& env)
    : ports_(std::move(ports)),
      options_(options),
      store_(store),
      journal_(std::move(journal)),
      clock_(clock),
      metrics_(metrics),
      random_(std::move(random)),
      env_(env) {
  journal_id_ = read_journal(journal_, env_);
}

KeyEventService::~KeyEventService() {
  for (auto& [sid, list] : buffer_)
    for (auto& b : list) core::secure_wipe(b.bytes.data(), b.bytes.size());
}

std::optional<std::uint64_t> KeyEventService::self_locked() const {
  const auto* entry = view_.event.parameters.participants.find(view_.account_id);
  if (entry == nullptr || entry->info.tls_public_key != view_.tls_public_key) return std::nullopt;
  return entry->id;
}

void KeyEventService::on_chain(const KeyEventChainView& view) {
  std::lock_guard lock(mu_);
  view_ = view;
  if (view_.running_keyset && !view_.running_participant) {
    // Not (or no longer) a participant: shares of an older epoch are void.
    auto dropped = store_.drop_older_than(view_.running_keyset->epoch_id);
    if (!dropped) {
      spdlog::error("key events: cannot delete the shares of epochs before {}: {}", view_.running_keyset->epoch_id, dropped.error().message);
    } else if (*dropped > 0) {
      spdlog::info("key events: this account is no longer a participant at epoch {}; deleted {} share(s) of older epochs",
                   view_.running_keyset->epoch_id, *dropped);
    }
  } else if (view_.running_keyset) {
    auto promoted = store_.promote(*view_.running_keyset);
    if (!promoted) {
      spdlog::error("key events: cannot hold the keyset of epoch {}: {}", view_.running_keyset->epoch_id, promoted.error().message);
    } else if (*promoted) {
      metrics_.gauge("mpc_key_event_held_epoch", "the epoch of the keyset this node holds").set(static_cast<double>(view_.running_keyset->epoch_id));
    }
  }
  // Buffered messages are kept only for the active attempt or the next one.
  if (view_.kind == KeyEventChainView::Kind::kNone) {
    for (auto& [sid, list] : buffer_)
      for (auto& b : list) core::secure_wipe(b.bytes.data(), b.bytes.size());
    buffer_.clear();
    buffered_count_ = buffered_bytes_ = 0;
  } else if (auto curve = domain_curve(view_.event.domain)) {
    std::set<threshold::SessionId> keep = {session_id_for(view_.kind, *curve, view_.event.next_id(), view_.event.parameters)};
    if (auto active = view_.event.active_id(view_.block_height)) keep.insert(session_id_for(view_.kind, *curve, *active, view_.event.parameters));
    for (auto it = buffer_.begin(); it != buffer_.end();) {
      if (keep.contains(it->first)) {
        ++it;
        continue;
      }
      for (auto& b : it->second) {
        buffered_bytes_ -= b.bytes.size();
        core::secure_wipe(b.bytes.data(), b.bytes.size());
      }
      buffered_count_ -= it->second.size();
      it = buffer_.erase(it);
    }
  }
  step_locked();
}

bool KeyEventService::submit_locked(const std::string& method, json args) {
  std::string key = method + args.dump();
  const auto now = clock_.now();
  if (auto it = submitted_.find(key); it != submitted_.end() && now - it->second < options_.resubmit_interval) return false;
  submitted_[key] = now;
  // Forget what is long past (bounded).
  if (submitted_.size() > 256) {
    for (auto it = submitted_.begin(); it != submitted_.end();) {
      it = (now - it->second > 10 * options_.resubmit_interval) ? submitted_.erase(it) : std::next(it);
    }
  }
  metrics_.counter("mpc_key_event_transactions_total", "key event transactions submitted", {{"method", method}}).inc();
  ports_.submit(KeyEventTx{method, std::move(args), std::move(key)});
  return true;
}

void KeyEventService::step_locked() {
  if (view_.kind == KeyEventChainView::Kind::kNone) {
    session_.reset();
    return;
  }
  const auto self = self_locked();
  const auto active = view_.event.active_id(view_.block_height);
  const bool keygen = view_.kind == KeyEventChainView::Kind::kKeygen;
  if (self && *self == view_.event.leader() && !active) {
    const auto next = view_.event.next_id();
    const auto now = clock_.now();
    if (!start_wanted_ || start_wanted_->first != next) start_wanted_ = {next, now};
    std::vector<std::uint64_t> missing;
    const auto reachable = ports_.reachable ? ports_.reachable() : std::set<std::uint64_t>{};
    for (const auto& p : view_.event.parameters.participants.participants) {
      if (p.id != *self && !reachable.contains(p.id)) missing.push_back(p.id);
    }
    if (missing.empty() || now - start_wanted_->second >= options_.start_grace) {
      if (submit_locked(keygen ? "start_keygen_instance" : "start_reshare_instance", json{{"key_event_id", id_json(next)}})) {
        spdlog::info("key events: leading {} attempt {}{}", kind_name(view_.kind), key_id_text(next),
                     missing.empty() ? "" : " although " + std::to_string(missing.size()) + " participant(s) are not reachable");
      }
    }
  }
  if (session_ && (!active || session_->id != *active)) session_.reset();
  if (!active || !self) return;
  const auto& completed = view_.event.instance->completed;
  if (std::find(completed.begin(), completed.end(), *self) != completed.end()) return;  // voted already
  if (auto pending = store_.pending(*active)) {
    if (keygen) {
      auto raw = core::hex_decode(pending->public_key);
      auto key = raw ? group_key_extended(pending->kind, *raw) : core::Result<model::PublicKeyExtended>(core::invalid("bad hex"));
      if (!key) {
        spdlog::error("key events: the stored share of {} has an unusable group key: {}", key_id_text(*active), key.error().message);
        return;
      }
      // The reference's argument form: the key text with its curve prefix.
      submit_locked("vote_pk", json{{"key_event_id", id_json(*active)}, {"public_key", key->near_public_key->to_string()}});
    } else {
      submit_locked("vote_reshared", json{{"key_event_id", id_json(*active)}});
    }
    return;
  }
  const std::string attempt_key = id_json(*active).dump();
  if (failed_attempts_.contains(attempt_key)) {
    submit_locked("vote_abort_key_event_instance", json{{"key_event_id", id_json(*active)}});
    return;
  }
  if (session_) return;
  if (journal_id_ && *journal_id_ == *active) {
    // We had started this attempt before a restart: our polynomial is gone,
    // so the others wait for messages we cannot send. Abort it.
    spdlog::warn("key events: attempt {} was started before this node restarted; voting to abort it", key_id_text(*active));
    failed_attempts_.insert(attempt_key);
    submit_locked("vote_abort_key_event_instance", json{{"key_event_id", id_json(*active)}});
    return;
  }
  start_session_locked(*active);
}

void KeyEventService::start_session_locked(const model::KeyEventId& id) {
  const std::string attempt_key = id_json(id).dump();
  auto fail = [&](const std::string& why) {
    spdlog::error("key events: cannot take part in {} attempt {}: {}", kind_name(view_.kind), key_id_text(id), why);
    failed_attempts_.insert(attempt_key);
    metrics_.counter("mpc_key_event_sessions_total", "key event attempts this node ran, by outcome",
                     {{"kind", kind_name(view_.kind)}, {"outcome", "failed"}}).inc();
    submit_locked("vote_abort_key_event_instance", json{{"key_event_id", id_json(id)}});
  };
  auto curve = domain_curve(view_.event.domain);
  if (!curve) return fail(curve.error().message);
  auto tcurve = threshold_curve(*curve);
  if (!tcurve) return fail(tcurve.error().message);
  threshold::KeyEventSetup setup;
  setup.curve = *tcurve;
  setup.kind = view_.kind == KeyEventChainView::Kind::kKeygen ? threshold::KeyEventKind::kKeygen : threshold::KeyEventKind::kReshare;
  setup.session = session_id_for(view_.kind, *curve, id, view_.event.parameters);
  setup.self = *self_locked();
  setup.participants = participant_ids(view_.event.parameters);
  setup.threshold = view_.event.parameters.threshold;
  if (setup.kind == threshold::KeyEventKind::kReshare) {
    const auto old_ids = participant_ids(view_.previous_parameters);
    for (auto p : setup.participants)
      if (std::binary_search(old_ids.begin(), old_ids.end(), p)) setup.dealers.push_back(p);
    setup.old_threshold = view_.previous_parameters.threshold;
    const auto* old_key = view_.previous_keyset.find(id.domain_id);
    if (old_key == nullptr) return fail("the previous keyset has no key for domain " + std::to_string(id.domain_id));
    auto encoded = model::keyshare_group_key(old_key->key);
    if (!encoded) return fail(encoded.error().message);
    setup.old_group_key = std::move(*encoded);
    if (std::binary_search(setup.dealers.begin(), setup.dealers.end(), setup.self)) {
      auto held = store_.shares_for(view_.previous_keyset);
      if (!held) return fail("this node must deal its share of epoch " + std::to_string(view_.previous_keyset.epoch_id) + " but " + held.error().message);
      const model::Keyshare* mine = nullptr;
      for (const auto& s : *held)
        if (s.key_id.domain_id == id.domain_id) mine = &s;
      if (mine == nullptr) return fail("no held share of domain " + std::to_string(id.domain_id));
      auto bytes = core::hex_decode(mine->private_share.reveal());
      if (!bytes || bytes->size() != 32) return fail("the held share of domain " + std::to_string(id.domain_id) + " is malformed");
      setup.old_share = core::SecretBytes::take(*bytes);
    }
  }
  // The journal first: after a restart this node knows it had started this
  // attempt (and lost its polynomial with the process).
  if (auto st = core::write_file_atomic(journal_, core::as_bytes(id_json(id).dump() + "\n"), 0600, env_); !st) {
    return fail("cannot write the key event journal: " + st.error().message);
  }
  journal_id_ = id;
  std::set<std::uint64_t> parties(setup.participants.begin(), setup.participants.end());
  const auto sid = setup.session;
  auto protocol = threshold::KeyEventSession::create(std::move(setup), random_);
  if (!protocol) return fail(protocol.error().message);
  session_.reset(new Session{id, view_.kind, *curve, sid, std::move(parties), std::move(*protocol), clock_.now()});
  spdlog::info("key events: running {} attempt {} with {} participants", kind_name(view_.kind), key_id_text(id), session_->parties.size());
  deliver_locked(session_->protocol.start());
  if (auto it = buffer_.find(sid); it != buffer_.end()) {
    auto buffered = std::move(it->second);
    buffer_.erase(it);
    for (auto& b : buffered) {
      buffered_count_ -= 1;
      buffered_bytes_ -= b.bytes.size();
      auto out = (!session_ || session_->finished) ? core::Result<std::vector<threshold::Outgoing>>(std::vector<threshold::Outgoing>{})
                                                          : session_->protocol.on_message(b.from, b.bytes);
      core::secure_wipe(b.bytes.data(), b.bytes.size());
      if (!out) {
        spdlog::warn("key events: message from participant {} refused: {}", b.from, out.error().message);
        continue;
      }
      deliver_locked(std::move(*out));
    }
  }
  finish_locked();
}

void KeyEventService::send_locked(std::uint64_t to, core::Bytes payload) {
  if (!session_) return;
  const auto size = payload.size();
  if (!ports_.send(to, payload)) {
    // Kept (a session sends a handful of messages) and sent again on tick.
    session_->unsent.emplace_back(to, std::move(payload));
    return;
  }
  metrics_.counter("mpc_key_event_bytes_sent_total", "bytes of key event messages this node sent", {{"kind", kind_name(session_->kind)}})
      .inc(size);
}

void KeyEventService::deliver_locked(std::vector<threshold::Outgoing> out) {
  if (!session_) return;
  const auto self = self_locked();
  for (auto& o : out) {
    if (o.to) {
      send_locked(*o.to, std::move(o.payload));
      continue;
    }
    for (auto p : session_->parties) {
      if (self && p == *self) continue;
      send_locked(p, o.payload);
    }
  }
}

void KeyEventService::finish_locked() {
  if (!session_ || session_->finished) return;
  Session& s = *session_;
  if (auto why = s.protocol.failure()) {
    s.finished = true;
    const auto blamed = s.protocol.blamed();
    spdlog::error("key events: {} attempt {} failed: {}{}", kind_name(s.kind), key_id_text(s.id), *why,
                  blamed ? " (participant " + std::to_string(*blamed) + " to blame)" : "");
    metrics_.counter("mpc_key_event_sessions_total", "key event attempts this node ran, by outcome",
                     {{"kind", kind_name(s.kind)}, {"outcome", "failed"}}).inc();
    failed_attempts_.insert(id_json(s.id).dump());
    submit_locked("vote_abort_key_event_instance", json{{"key_event_id", id_json(s.id)}});
    return;
  }
  if (!s.protocol.done()) return;
  s.finished = true;
  const threshold::KeyEventOutput& out = *s.protocol.output();
  model::Keyshare share;
  share.key_id = s.id;
  share.kind = s.curve;
  share.private_share = core::SecretString(core::hex_encode(out.share.view()));
  share.public_key = core::hex_encode(out.group_key);
  if (auto st = store_.put_pending(std::move(share)); !st) {
    // Not stored: never vote for it.
    spdlog::error("key events: cannot store the output of {}: {}", key_id_text(s.id), st.error().message);
    failed_attempts_.insert(id_json(s.id).dump());
    submit_locked("vote_abort_key_event_instance", json{{"key_event_id", id_json(s.id)}});
    return;
  }
  metrics_.counter("mpc_key_event_sessions_total", "key event attempts this node ran, by outcome",
                   {{"kind", kind_name(s.kind)}, {"outcome", "stored"}}).inc();
  spdlog::info("key events: {} attempt {} done, share stored ({} ms)", kind_name(s.kind), key_id_text(s.id),
               std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - s.started).count());
  step_locked();  // votes
  if (ports_.refresh_chain) ports_.refresh_chain();
}

void KeyEventService::on_message(std::uint64_t from, core::ByteView bytes) {
  std::lock_guard lock(mu_);
  auto sid = threshold::key_event_session_of(bytes);
  if (!sid) {
    metrics_.counter("mpc_key_event_messages_refused_total", "key event messages refused", {{"reason", "malformed"}}).inc();
    return;
  }
  if (session_ && *sid == session_->sid) {
    if (!session_->parties.contains(from)) {
      metrics_.counter("mpc_key_event_messages_refused_total", "key event messages refused", {{"reason", "not_a_party"}}).inc();
      return;
    }
    if (session_->finished) return;
    auto out = session_->protocol.on_message(from, bytes);
    if (!out) {
      metrics_.counter("mpc_key_event_messages_refused_total", "key event messages refused", {{"reason", "refused"}}).inc();
      spdlog::warn("key events: message from participant {} refused: {}", from, out.error().message);
      return;
    }
    deliver_locked(std::move(*out));
    finish_locked();
    return;
  }
  // An attempt this node has not seen on chain yet: keep it until the next
  // snapshot says whether it is real (bounded).
  if (buffered_count_ >= kMaxBufferedMessages || buffered_bytes_ + bytes.size() > kMaxBufferedBytes) {
    metrics_.counter("mpc_key_event_messages_refused_total", "key event messages refused", {{"reason", "buffer_full"}}).inc();
    return;
  }
  if (!buffer_.contains(*sid) && buffer_.size() >= 4) {
    metrics_.counter("mpc_key_event_messages_refused_total", "key event messages refused", {{"reason", "unknown_session"}}).inc();
    return;
  }
  buffer_[*sid].push_back(Buffered{from, core::Bytes(bytes.begin(), bytes.end())});
  buffered_count_ += 1;
  buffered_bytes_ += bytes.size();
  if (ports_.refresh_chain) ports_.refresh_chain();
}

void KeyEventService::tick() {
  std::lock_guard lock(mu_);
  if (session_ && !session_->unsent.empty()) {
    auto unsent = std::move(session_->unsent);
    session_->unsent.clear();
    for (auto& [to, payload] : unsent) send_locked(to, std::move(payload));
  }
  if (session_ && !session_->finished && !session_->complaint_timeout_called &&
      clock_.now() - session_->started >= options_.complaint_timeout) {
    session_->complaint_timeout_called = true;
    deliver_locked(session_->protocol.on_complaint_timeout());
    finish_locked();
  }
  step_locked();
}

std::optional<model::KeyEventId> KeyEventService::running_attempt() const {
  std::lock_guard lock(mu_);
  if (!session_) return std::nullopt;
  return session_->id;
}

std::size_t KeyEventService::buffered_messages() const {
  std::lock_guard lock(mu_);
  return buffered_count_;
}

}  // namespace mpc::node
