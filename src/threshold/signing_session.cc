#include "threshold/signing_session.h"

#include <sodium.h>

#include <algorithm>
#include <string>

namespace mpc::threshold {

using core::ErrorCode;
using core::fail;
using core::invalid;
using core::Result;
using core::Status;

namespace {

std::string participant(std::uint64_t id) { return "participant " + std::to_string(id); }

bool contains(const std::vector<std::uint64_t>& ids, std::uint64_t id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

// Draws two 32-byte nonce randomness buffers and commits; wipes them after.
Result<CommitOutput> commit_with(const SecretScalar& share, const RandomSource& random) {
  if (!random) return invalid("no randomness source given");
  std::array<std::uint8_t, 64> buf{};
  random(std::span<std::uint8_t, 32>(buf.data(), 32));
  random(std::span<std::uint8_t, 32>(buf.data() + 32, 32));
  auto out = commit(share, std::span<const std::uint8_t, 32>(buf.data(), 32),
                    std::span<const std::uint8_t, 32>(buf.data() + 32, 32));
  sodium_memzero(buf.data(), buf.size());
  return out;
}

// (share + t, Y + t·G, t·G) for a request's tweak.
struct Derived {
  SecretScalar share;
  Element key{};
  Element tweak_point{};
  bool has_tweak = false;
};

Result<Derived> derive(const KeyPackage& key, const Tweak& tweak_bytes) {
  if (key.share.is_zero()) return invalid("key package holds a zero share");
  const Scalar t = tweak_scalar(tweak_bytes);
  Derived d;
  d.share = derive_signing_share(key.share, t);
  if (d.share.is_zero()) return invalid("the tweak cancels this signer's share");
  auto derived = derive_public_key(key.group_key, t);
  if (!derived) return std::unexpected(derived.error().context("deriving the signing key from the tweak"));
  d.key = *derived;
  d.has_tweak = sodium_is_zero(t.data(), t.size()) != 1;
  if (d.has_tweak && crypto_core_ed25519_sub(d.tweak_point.data(), d.key.data(), key.group_key.data()) != 0) {
    return fail(ErrorCode::kInternal, "cannot compute the tweak point");  // (Y + t·G) - Y = t·G
  }
  return d;
}

}  // namespace

RandomSource os_random_source() {
  return [](std::span<std::uint8_t, 32> out) {
    if (sodium_init() < 0) std::abort();
    randombytes_buf(out.data(), out.size());
  };
}

SessionId new_session_id(const RandomSource& random) {
  SessionId id{};
  random(id);
  return id;
}

const char* signer_state_name(SignerState state) {
  switch (state) {
    case SignerState::kCreated: return "created";
    case SignerState::kCommitted: return "committed";
    case SignerState::kDone: return "done";
    case SignerState::kAborted: return "aborted";
  }
  return "unknown";
}

const char* coordinator_state_name(CoordinatorState state) {
  switch (state) {
    case CoordinatorState::kCreated: return "created";
    case CoordinatorState::kCollectingCommitments: return "collecting commitments";
    case CoordinatorState::kCollectingShares: return "collecting signature shares";
    case CoordinatorState::kDone: return "done";
    case CoordinatorState::kFailed: return "failed";
  }
  return "unknown";
}

// ---------------- Signer ----------------

Result<Signer> Signer::create(std::uint64_t my_id, std::uint64_t coordinator_id, const KeyPackage& key,
                              SignRequest request) {
  MPC_TRY(check_sign_request(request));
  if (my_id == coordinator_id) return invalid("a signer cannot be its own coordinator (" + participant(my_id) + ")");
  if (!contains(request.signers, my_id)) return invalid(participant(my_id) + " is not in the request's signer set");
  if (!contains(request.signers, coordinator_id)) {
    return invalid("the coordinator, " + participant(coordinator_id) + ", is not in the request's signer set");
  }
  Signer s;
  s.my_id_ = my_id;
  s.coordinator_id_ = coordinator_id;
  MPC_ASSIGN(s.identifier_, identifier_for_participant(my_id));
  MPC_ASSIGN(Derived d, derive(key, request.tweak));
  s.derived_share_ = std::move(d.share);
  s.derived_key_ = d.key;
  s.verifying_share_ = key.verifying_share;
  s.request_ = std::move(request);
  return s;
}

Status Signer::check_from(std::uint64_t from, const SessionId& session, const char* what) const {
  if (from != coordinator_id_) {
    return invalid(std::string(what) + " from " + participant(from) + " refused: only the coordinator (" +
                   participant(coordinator_id_) + ") sends it");
  }
  if (session != request_.session) return invalid(std::string(what) + " from " + participant(from) + " is for another session");
  return {};
}

Result<Commitment> Signer::commit(const RandomSource& random) {
  if (state_ != SignerState::kCreated) {
    return fail(ErrorCode::kFailedPrecondition,
                std::string("signer already committed or finished (state: ") + signer_state_name(state_) + ")");
  }
  MPC_ASSIGN(CommitOutput out, commit_with(derived_share_, random));
  nonces_ = std::move(out.nonces);
  own_commitment_ = PackageEntry{my_id_, out.hiding_commitment, out.binding_commitment};
  state_ = SignerState::kCommitted;
  return Commitment{request_.session, out.hiding_commitment, out.binding_commitment, verifying_share_};
}

Result<SignatureShare> Signer::on_signing_package(std::uint64_t from, const SigningPackage& package) {
  MPC_TRY(check_from(from, package.session, "signing package"));
  switch (state_) {
    case SignerState::kCommitted: break;
    case SignerState::kCreated:
      return fail(ErrorCode::kFailedPrecondition, "signing package refused: this signer has not committed yet");
    case SignerState::kDone:
      return fail(ErrorCode::kFailedPrecondition,
                  "signing package refused: this signer already signed in this session (nonces are used once)");
    case SignerState::kAborted: return fail(ErrorCode::kFailedPrecondition, "signing package refused: session aborted");
  }
  MPC_TRY(check_signing_package(package));
  const auto& signers = request_.signers;
  for (std::uint64_t id : signers) {
    auto it = std::find_if(package.commitments.begin(), package.commitments.end(),
                           [&](const PackageEntry& e) { return e.participant_id == id; });
    if (it == package.commitments.end()) {
      return invalid("signing package refused: it lacks the commitment of " + participant(id));
    }
  }
  for (const auto& e : package.commitments) {
    if (!contains(signers, e.participant_id)) {
      return invalid("signing package refused: " + participant(e.participant_id) + " is not in the signer set");
    }
    if (e.participant_id == my_id_ && !(e == own_commitment_)) {
      return invalid("signing package refused: it changes this signer's commitment");
    }
  }
  CommitmentList list;
  list.reserve(package.commitments.size());
  for (const auto& e : package.commitments) {
    MPC_ASSIGN(Identifier id, identifier_for_participant(e.participant_id));
    list.push_back(NonceCommitment{id, e.hiding, e.binding});
  }
  auto ctx = prepare_signing(derived_key_, std::move(list), request_.message);
  if (!ctx) return std::unexpected(ctx.error().context("signing package refused"));
  // From here the nonces are spent, whatever happens.
  state_ = SignerState::kDone;
  auto z = sign(*ctx, identifier_, derived_share_, *nonces_);
  nonces_.reset();
  if (!z) return std::unexpected(z.error());
  return SignatureShare{request_.session, *z};
}

Status Signer::on_abort(std::uint64_t from, const Abort& abort) {
  MPC_TRY(check_from(from, abort.session, "abort"));
  nonces_.reset();
  state_ = SignerState::kAborted;
  return {};
}

Abort Signer::abort(std::string_view reason) {
  nonces_.reset();
  state_ = SignerState::kAborted;
  return make_abort(request_.session, reason);
}

Result<std::optional<Message>> Signer::handle(std::uint64_t from, const Message& message) {
  if (const auto* p = std::get_if<SigningPackage>(&message)) {
    MPC_ASSIGN(SignatureShare share, on_signing_package(from, *p));
    return std::optional<Message>(std::move(share));
  }
  if (const auto* a = std::get_if<Abort>(&message)) {
    MPC_TRY(on_abort(from, *a));
    return std::optional<Message>();
  }
  return invalid(std::string(message_type_name(message_type(message))) + " from " + participant(from) +
                 " refused: a signer accepts only SigningPackage and Abort");
}

// ---------------- Coordinator ----------------

Result<Coordinator> Coordinator::create(std::uint64_t my_id, const KeyPackage& key, SignRequest request) {
  MPC_TRY(check_sign_request(request));
  if (!contains(request.signers, my_id)) {
    return invalid("the coordinator, " + participant(my_id) + ", is not in the request's signer set");
  }
  Coordinator c;
  c.my_id_ = my_id;
  MPC_ASSIGN(Derived d, derive(key, request.tweak));
  c.derived_share_ = std::move(d.share);
  c.derived_key_ = d.key;
  c.tweak_point_ = d.tweak_point;
  c.has_tweak_ = d.has_tweak;
  c.verifying_share_ = key.verifying_share;
  c.slots_.reserve(request.signers.size());
  for (std::size_t i = 0; i < request.signers.size(); ++i) {
    Slot s;
    s.participant_id = request.signers[i];
    MPC_ASSIGN(s.identifier, identifier_for_participant(s.participant_id));
    if (s.participant_id == my_id) c.my_index_ = i;
    c.slots_.push_back(std::move(s));
  }
  c.request_ = std::move(request);
  return c;
}

core::Error Coordinator::fail_session(core::Error error, std::optional<std::uint64_t> blamed) {
  state_ = CoordinatorState::kFailed;
  blamed_ = blamed;
  failure_ = error;
  nonces_.reset();
  return error;
}

Result<std::size_t> Coordinator::index_from(std::uint64_t from, const SessionId& session, const char* what) const {
  if (session != request_.session) return invalid(std::string(what) + " from " + participant(from) + " is for another session");
  if (from == my_id_) return invalid(std::string(what) + " claiming to come from the coordinator itself refused");
  auto it = std::lower_bound(request_.signers.begin(), request_.signers.end(), from);
  if (it == request_.signers.end() || *it != from) {
    return invalid(std::string(what) + " from " + participant(from) + " refused: not in the signer set");
  }
  return static_cast<std::size_t>(it - request_.signers.begin());
}

Status Coordinator::start(const RandomSource& random) {
  if (state_ != CoordinatorState::kCreated) {
    return fail(ErrorCode::kFailedPrecondition,
                std::string("coordinator already started (state: ") + coordinator_state_name(state_) + ")");
  }
  MPC_ASSIGN(CommitOutput out, commit_with(derived_share_, random));
  nonces_ = std::move(out.nonces);
  slots_[my_index_].commitment =
      Commitment{request_.session, out.hiding_commitment, out.binding_commitment, verifying_share_};
  state_ = CoordinatorState::kCollectingCommitments;
  return {};
}

Result<std::optional<SigningPackage>> Coordinator::on_commitment(std::uint64_t from, const Commitment& commitment) {
  MPC_ASSIGN(std::size_t i, index_from(from, commitment.session, "commitment"));
  if (state_ != CoordinatorState::kCollectingCommitments) {
    return fail(ErrorCode::kFailedPrecondition, "commitment from " + participant(from) + " refused: the session is " +
                                                    coordinator_state_name(state_));
  }
  Slot& slot = slots_[i];
  if (slot.commitment) return invalid("commitment from " + participant(from) + " refused: already received");
  Element derived_vs = commitment.verifying_share;
  if (has_tweak_) {
    auto d = crypto_core_ed25519_add(derived_vs.data(), commitment.verifying_share.data(), tweak_point_.data());
    if (d != 0) return invalid("commitment from " + participant(from) + " refused: invalid verifying share");
  }
  slot.commitment = commitment;
  slot.derived_verifying_share = derived_vs;
  if (!std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.commitment.has_value(); })) {
    return std::optional<SigningPackage>();
  }
  MPC_ASSIGN(SigningPackage package, finish_round_one());
  return std::optional<SigningPackage>(std::move(package));
}

Result<SigningPackage> Coordinator::finish_round_one() {
  SigningPackage package;
  package.session = request_.session;
  CommitmentList list;
  for (const auto& s : slots_) {
    package.commitments.push_back(PackageEntry{s.participant_id, s.commitment->hiding, s.commitment->binding});
    list.push_back(NonceCommitment{s.identifier, s.commitment->hiding, s.commitment->binding});
  }
  auto ctx = prepare_signing(derived_key_, std::move(list), request_.message);
  if (!ctx) return std::unexpected(fail_session(ctx.error().context("building the signing package"), std::nullopt));
  auto z = sign(*ctx, slots_[my_index_].identifier, derived_share_, *nonces_);
  nonces_.reset();
  if (!z) return std::unexpected(fail_session(z.error().context("the coordinator's own signature share"), std::nullopt));
  slots_[my_index_].share = *z;
  context_ = std::move(*ctx);
  state_ = CoordinatorState::kCollectingShares;
  return package;
}

Result<std::optional<core::Ed25519Signature>> Coordinator::on_signature_share(std::uint64_t from,
                                                                               const SignatureShare& share) {
  MPC_ASSIGN(std::size_t i, index_from(from, share.session, "signature share"));
  if (state_ != CoordinatorState::kCollectingShares) {
    return fail(ErrorCode::kFailedPrecondition, "signature share from " + participant(from) +
                                                    " refused: the session is " + coordinator_state_name(state_));
  }
  Slot& slot = slots_[i];
  if (slot.share) return invalid("signature share from " + participant(from) + " refused: already received");
  if (auto ok = verify_signature_share(*context_, slot.identifier, slot.derived_verifying_share, share.share); !ok) {
    return std::unexpected(fail_session(
        core::Error{ErrorCode::kPermissionDenied, "signature share from " + participant(from) + " does not verify"},
        from));
  }
  slot.share = share.share;
  if (!std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.share.has_value(); })) {
    return std::optional<core::Ed25519Signature>();
  }
  std::vector<Scalar> shares;
  shares.reserve(slots_.size());
  for (const auto& s : slots_) shares.push_back(*s.share);
  const Signature sig = aggregate(*context_, shares);
  core::Ed25519PublicKey key;
  key.bytes = derived_key_;
  if (!core::ed25519_verify(key, request_.message, sig)) {
    return std::unexpected(fail_session(
        core::Error{ErrorCode::kPermissionDenied,
                    "the aggregate signature does not verify although every share does: the signers' verifying "
                    "shares do not interpolate to the group key (a signer holds a share of another key or announced "
                    "a wrong verifying share, or fewer than the threshold signed)"},
        std::nullopt));
  }
  state_ = CoordinatorState::kDone;
  core::Ed25519Signature out;
  std::copy(sig.begin(), sig.end(), out.begin());
  return std::optional<core::Ed25519Signature>(out);
}

Status Coordinator::on_abort(std::uint64_t from, const Abort& abort) {
  MPC_ASSIGN(std::size_t i, index_from(from, abort.session, "abort"));
  (void)i;
  if (state_ == CoordinatorState::kDone || state_ == CoordinatorState::kFailed) {
    return fail(ErrorCode::kFailedPrecondition,
                "abort from " + participant(from) + " ignored: the session is " + coordinator_state_name(state_));
  }
  fail_session(core::Error{ErrorCode::kFailedPrecondition, participant(from) + " aborted: " + abort.reason}, std::nullopt);
  return {};
}

Abort Coordinator::abort(std::string_view reason) {
  if (state_ != CoordinatorState::kDone && state_ != CoordinatorState::kFailed) {
    fail_session(core::Error{ErrorCode::kFailedPrecondition, "aborted by the coordinator: " + std::string(reason)},
                 std::nullopt);
  }
  nonces_.reset();
  return make_abort(request_.session, reason);
}

std::vector<std::uint64_t> Coordinator::waiting_for() const {
  std::vector<std::uint64_t> out;
  for (const auto& s : slots_) {
    if (state_ == CoordinatorState::kCollectingCommitments && !s.commitment) out.push_back(s.participant_id);
    if (state_ == CoordinatorState::kCollectingShares && !s.share) out.push_back(s.participant_id);
  }
  return out;
}

Result<CoordinatorStep> Coordinator::handle(std::uint64_t from, const Message& message) {
  CoordinatorStep step;
  if (const auto* c = std::get_if<Commitment>(&message)) {
    MPC_ASSIGN(step.broadcast, on_commitment(from, *c));
    return step;
  }
  if (const auto* s = std::get_if<SignatureShare>(&message)) {
    MPC_ASSIGN(step.signature, on_signature_share(from, *s));
    return step;
  }
  if (const auto* a = std::get_if<Abort>(&message)) {
    MPC_TRY(on_abort(from, *a));
    return step;
  }
  return invalid(std::string(message_type_name(message_type(message))) + " from " + participant(from) +
                 " refused: a coordinator accepts only Commitment, SignatureShare and Abort");
}

}  // namespace mpc::threshold
