#include "threshold/key_event.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "threshold/internal/wire.h"
#include "threshold/key_event_messages.h"

namespace mpc::threshold {

using core::ByteView;
using core::Bytes;
using core::ErrorCode;
using core::fail;
using core::invalid;
using core::Result;
using core::Status;

namespace {

// Domain separation of every hash of the protocol (the curve, the session
// and the setup follow each tag).
constexpr std::string_view kProofTag = "mpc-key-event-v1/proof-of-knowledge";
constexpr std::string_view kSetupTag = "mpc-key-event-v1/setup";
constexpr std::string_view kEchoTag = "mpc-key-event-v1/echo";
constexpr std::string_view kConfirmTag = "mpc-key-event-v1/confirm";

template <typename State, int (*Init)(State*), int (*Update)(State*, const unsigned char*, unsigned long long),
          int (*Final)(State*, unsigned char*), std::size_t N>
class Hash {
 public:
  Hash() { Init(&state_); }
  ~Hash() { sodium_memzero(&state_, sizeof state_); }
  Hash& bytes(ByteView b) {
    Update(&state_, b.data(), b.size());
    return *this;
  }
  Hash& text(std::string_view t) {
    u64(t.size());
    return bytes(core::as_bytes(t));
  }
  Hash& u64(std::uint64_t v) {
    std::array<std::uint8_t, 8> le;
    internal::put_le(v, le.size(), le.data());
    return bytes(le);
  }
  // A variable-length value: its length, then its bytes.
  Hash& sized(ByteView b) {
    u64(b.size());
    return bytes(b);
  }
  std::array<std::uint8_t, N> final() {
    std::array<std::uint8_t, N> out;
    Final(&state_, out.data());
    return out;
  }

 private:
  State state_;
};
using Sha256 = Hash<crypto_hash_sha256_state, crypto_hash_sha256_init, crypto_hash_sha256_update,
                    crypto_hash_sha256_final, crypto_hash_sha256_BYTES>;
using Sha512 = Hash<crypto_hash_sha512_state, crypto_hash_sha512_init, crypto_hash_sha512_update,
                    crypto_hash_sha512_final, crypto_hash_sha512_BYTES>;

std::string id_text(std::uint64_t id) { return std::to_string(id); }

std::string ids_text(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (std::uint64_t id : ids) out += (out.empty() ? "" : ", ") + id_text(id);
  return out;
}

// 64 bytes from two calls of `random`, reduced: a uniform scalar.
CurveScalar random_scalar(const Curve& curve, const RandomSource& random) {
  std::array<std::uint8_t, 64> wide;
  random(std::span<std::uint8_t, 32>(wide.data(), 32));
  random(std::span<std::uint8_t, 32>(wide.data() + 32, 32));
  CurveScalar out = curve.reduce_wide(wide);
  core::secure_wipe(wide.data(), wide.size());
  return out;
}

CurveScalar random_nonzero_scalar(const Curve& curve, const RandomSource& random) {
  for (;;) {
    CurveScalar s = random_scalar(curve, random);
    if (!s.is_zero()) return s;
  }
}

// f(x) by Horner's rule.
CurveScalar evaluate(const Curve& curve, const std::vector<CurveScalar>& coefficients, const CurveScalar& x) {
  CurveScalar acc = coefficients.back();
  for (std::size_t k = coefficients.size() - 1; k-- > 0;) acc = curve.add(curve.mul(acc, x), coefficients[k]);
  return acc;
}

// F(x) = sum_k C_k x^k, the commitment to f(x), by Horner's rule.
CurvePoint evaluate(const Curve& curve, const std::vector<CurvePoint>& commitments, const CurveScalar& x) {
  CurvePoint acc = commitments.back();
  for (std::size_t k = commitments.size() - 1; k-- > 0;) acc = curve.add(curve.mul(x, acc), commitments[k]);
  return acc;
}

// The proof of knowledge's challenge: SHA-512(tag, curve, session, dealer,
// C_0, R) reduced mod the order as curve.h reduce_wide reads 64 bytes
// (Ed25519: little-endian; secp256k1: big-endian).
CurveScalar proof_challenge(const Curve& curve, const SessionId& session, std::uint64_t dealer, const CurvePoint& c0,
                            const CurvePoint& r) {
  Sha512 h;
  h.text(kProofTag).text(curve.name()).bytes(session).u64(dealer).sized(c0).sized(r);
  auto digest = h.final();
  return curve.reduce_wide(digest);
}

bool verify_proof(const Curve& curve, const SessionId& session, std::uint64_t dealer, const CurvePoint& c0,
                  const ProofOfKnowledge& proof) {
  const CurveScalar c = proof_challenge(curve, session, dealer, c0, proof.r);
  // z·G == R + c·C_0
  return curve.base_mul(proof.z) == curve.add(proof.r, curve.mul(c, c0));
}

const char* kind_name(KeyEventKind kind) { return kind == KeyEventKind::kKeygen ? "keygen" : "reshare"; }

enum class Phase {
  kDealing,     // waiting for every dealer's commitments and our share
  kEchoing,     // echo sent; waiting for everyone's echo
  kAnswering,   // complaints known; waiting for the accused dealers' reveals
  kConfirming,  // confirmation sent; waiting for everyone's
  kDone,
  kFailed,
};

enum class DealerStatus { kPending, kQualified, kExcluded };

struct DealerSlot {
  std::uint64_t id = 0;
  std::optional<CommitmentsMessage> commitments;
  Bytes commitments_wire;  // its encoding, as received (canonical), for the echo
  bool proof_ok = true;
  std::optional<CurveScalar> share;  // from this dealer to us
  std::vector<std::uint64_t> complainers;  // once the echoes agree
  std::optional<RevealMessage> reveal;
  bool reveal_used = false;  // the reveal answered complaints (it is in the confirmation)
  DealerStatus status = DealerStatus::kPending;
  std::string exclusion;  // why it was excluded
};

struct PeerSlot {
  std::uint64_t id = 0;
  std::optional<EchoMessage> echo;
  std::optional<KeyEventDigest> confirm;
};

Status check_ascending(const std::vector<std::uint64_t>& ids, const char* what) {
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] <= ids[i - 1]) {
      return invalid(std::string("key event setup: ") + what + " are not strictly ascending (" + id_text(ids[i]) +
                     " after " + id_text(ids[i - 1]) + ")");
    }
  }
  return {};
}

}  // namespace

struct KeyEventSession::Impl {
  KeyEventSetup setup;
  const Curve* curve = nullptr;
  std::vector<DealerSlot> dealers;  // setup order (ascending id)
  std::vector<PeerSlot> peers;      // participants order, self included
  std::optional<std::size_t> self_dealer;
  std::size_t self_peer = 0;
  CurveScalar self_x;
  std::vector<CurveScalar> coefficients;  // our polynomial when we deal; wiped when done
  KeyEventDigest setup_digest{};
  std::vector<KeyEventDigest> echo_digests;  // ours, dealer order
  KeyEventDigest confirm_digest{};
  Phase phase = Phase::kDealing;
  bool started = false;
  bool timed_out = false;
  std::optional<KeyEventOutput> output;
  std::optional<std::string> failure;
  std::optional<std::uint64_t> blamed;

  // ---- helpers ----
  DealerSlot* dealer(std::uint64_t id) {
    for (auto& d : dealers) {
      if (d.id == id) return &d;
    }
    return nullptr;
  }
  PeerSlot* peer(std::uint64_t id) {
    for (auto& p : peers) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
  bool is_keygen() const { return setup.kind == KeyEventKind::kKeygen; }

  Bytes encode(const KeyEventMessage& m) const {
    auto bytes = encode_key_event_message(m);
    // Every message built here satisfies the encoder's checks.
    if (!bytes) std::abort();
    return std::move(*bytes);
  }

  void fail_session(std::string why, std::optional<std::uint64_t> blame) {
    phase = Phase::kFailed;
    failure = std::string(kind_name(setup.kind)) + " failed: " + std::move(why);
    blamed = blame;
    wipe_secrets();
  }
  void wipe_secrets() {
    coefficients.clear();  // CurveScalar wipes itself
    for (auto& d : dealers) d.share.reset();
  }

  KeyEventDigest compute_setup_digest() const {
    Sha256 h;
    h.text(kSetupTag).text(curve->name()).text(kind_name(setup.kind)).bytes(setup.session);
    h.u64(setup.threshold).u64(setup.participants.size());
    for (std::uint64_t id : setup.participants) h.u64(id);
    h.u64(setup.dealers.size());
    for (std::uint64_t id : setup.dealers) h.u64(id);
    h.u64(setup.old_threshold).sized(setup.old_group_key);
    return h.final();
  }

  // ---- our dealing ----
  CommitmentsMessage own_commitments(const RandomSource& random) const {
    CommitmentsMessage m;
    m.session = setup.session;
    m.curve = curve->id();
    for (const auto& a : coefficients) m.coefficients.push_back(curve->base_mul(a));
    if (is_keygen()) {
      const CurveScalar k = random_nonzero_scalar(*curve, random);
      ProofOfKnowledge proof;
      proof.r = curve->base_mul(k);
      const CurveScalar c = proof_challenge(*curve, setup.session, setup.self, m.coefficients[0], proof.r);
      proof.z = curve->add(k, curve->mul(c, coefficients[0]));
      m.proof = std::move(proof);
    }
    return m;
  }

  void broadcast(std::vector<Outgoing>& out, const KeyEventMessage& m) const {
    out.push_back(Outgoing{std::nullopt, encode(m)});
  }

  // ---- the phases ----
  void advance(std::vector<Outgoing>& out) {
    for (;;) {
      switch (phase) {
        case Phase::kDealing:
          if (!started) return;
          for (const auto& d : dealers) {
            if (!d.commitments || !d.share) return;
          }
          send_echo(out);
          break;
        case Phase::kEchoing:
          for (const auto& p : peers) {
            if (!p.echo) return;
          }
          if (!check_echoes()) return;
          enter_answering(out);
          break;
        case Phase::kAnswering:
          resolve_reveals();
          for (const auto& d : dealers) {
            if (d.status == DealerStatus::kPending) return;
          }
          if (!send_confirm(out)) return;
          break;
        case Phase::kConfirming:
          for (const auto& p : peers) {
            if (!p.confirm) return;
          }
          finish();
          return;
        case Phase::kDone:
        case Phase::kFailed:
          return;
      }
    }
  }

  bool share_verifies(const DealerSlot& d, const CurveScalar& share, const CurveScalar& x) const {
    return curve->base_mul(share) == evaluate(*curve, d.commitments->coefficients, x);
  }

  KeyEventDigest dealer_digest(const DealerSlot& d) const {
    Sha256 h;
    h.text(kEchoTag).bytes(setup_digest).u64(d.id).sized(d.commitments_wire);
    return h.final();
  }

  void send_echo(std::vector<Outgoing>& out) {
    EchoMessage echo;
    echo.session = setup.session;
    echo.curve = curve->id();
    for (const auto& d : dealers) {
      echo.digests.push_back(dealer_digest(d));
      if (self_dealer && d.id == setup.self) continue;
      // A dealer whose proof fails is excluded anyway (keygen): no complaint.
      if (d.proof_ok && !share_verifies(d, *d.share, self_x)) echo.complaints.push_back(d.id);
    }
    echo_digests = echo.digests;
    broadcast(out, echo);
    peers[self_peer].echo = std::move(echo);
    phase = Phase::kEchoing;
  }

  bool check_echoes() {
    // A dealer whose own echo disagrees with what it sent us equivocated
    // (provably); any other disagreement cannot say whether the dealer or
    // the echoing participant lied.
    std::optional<std::string> first;
    for (const auto& p : peers) {
      for (std::size_t k = 0; k < dealers.size(); ++k) {
        if (p.echo->digests[k] == echo_digests[k]) continue;
        if (p.id == dealers[k].id) {
          fail_session("dealer " + id_text(p.id) +
                           " equivocated: its echo of its own commitments differs from the commitments it sent us",
                       p.id);
          return false;
        }
        if (!first) {
          first = "participant " + id_text(p.id) + " received other commitments from dealer " +
                  id_text(dealers[k].id) + " than we did (echo mismatch: dealer " + id_text(dealers[k].id) +
                  " equivocated, or participant " + id_text(p.id) + " lies)";
        }
      }
    }
    if (first) {
      fail_session(*first, std::nullopt);
      return false;
    }
    return true;
  }

  void enter_answering(std::vector<Outgoing>& out) {
    for (const auto& p : peers) {
      for (std::uint64_t accused : p.echo->complaints) dealer(accused)->complainers.push_back(p.id);
    }
    if (!is_keygen()) {
      // The sum check: the dealers' constant terms must add up to the old key.
      CurvePoint sum = curve->identity();
      for (const auto& d : dealers) sum = curve->add(sum, d.commitments->coefficients[0]);
      if (sum != setup.old_group_key) {
        fail_session(
            "the dealers' constant-term commitments do not add up to the old group key (a dealer dealt something "
            "other than its Lagrange-weighted old share)",
            std::nullopt);
        return;
      }
    }
    for (auto& d : dealers) {
      if (!d.proof_ok) {
        d.status = DealerStatus::kExcluded;
        d.exclusion = "its proof of knowledge of its constant term does not verify";
      } else if (d.complainers.empty()) {
        d.status = DealerStatus::kQualified;
      }
    }
    if (self_dealer && dealers[*self_dealer].status == DealerStatus::kPending) {
      RevealMessage reveal;
      reveal.session = setup.session;
      reveal.curve = curve->id();
      for (std::uint64_t j : dealers[*self_dealer].complainers) {
        reveal.entries.push_back(RevealEntry{j, evaluate(*curve, coefficients, curve->participant_x(j))});
      }
      broadcast(out, reveal);
      dealers[*self_dealer].reveal = std::move(reveal);
    }
    phase = Phase::kAnswering;
  }

  void resolve_reveals() {
    for (auto& d : dealers) {
      if (d.status != DealerStatus::kPending) continue;
      if (!d.reveal) {
        if (timed_out) {
          d.status = DealerStatus::kExcluded;
          d.exclusion = "it did not answer the complaints of participants " + ids_text(d.complainers) +
                        " before the deadline";
        }
        continue;
      }
      d.reveal_used = true;
      std::vector<std::uint64_t> answered;
      for (const auto& e : d.reveal->entries) answered.push_back(e.participant);
      if (answered != d.complainers) {
        d.status = DealerStatus::kExcluded;
        d.exclusion = "its reveal answers participants " + ids_text(answered) + ", not the complainers " +
                      ids_text(d.complainers);
        continue;
      }
      d.status = DealerStatus::kQualified;
      for (const auto& e : d.reveal->entries) {
        if (!share_verifies(d, e.share, curve->participant_x(e.participant))) {
          d.status = DealerStatus::kExcluded;
          d.exclusion = "the share it revealed for participant " + id_text(e.participant) +
                        " does not match its commitments";
          break;
        }
      }
    }
  }

  bool send_confirm(std::vector<Outgoing>& out) {
    std::vector<std::uint64_t> excluded;
    for (const auto& d : dealers) {
      if (d.status == DealerStatus::kExcluded) excluded.push_back(d.id);
    }
    if (!is_keygen() && !excluded.empty()) {
      const DealerSlot& d = *dealer(excluded.front());
      fail_session("dealer " + id_text(d.id) + " is excluded (" + d.exclusion +
                       "); a reshare cannot do without a dealer: the sum check needs every one",
                   d.id);
      return false;
    }
    // Keygen: at least threshold dealers must remain (a reshare keeps all of
    // its dealers, which may be fewer than the new threshold).
    const std::size_t qualified = dealers.size() - excluded.size();
    if (is_keygen() && qualified < setup.threshold) {
      fail_session("only " + std::to_string(qualified) + " dealers qualified (excluded: " + ids_text(excluded) +
                       "), fewer than the threshold " + std::to_string(setup.threshold),
                   excluded.size() == 1 ? std::optional<std::uint64_t>(excluded.front()) : std::nullopt);
      return false;
    }
    Sha256 h;
    h.text(kConfirmTag).bytes(setup_digest);
    for (std::size_t k = 0; k < dealers.size(); ++k) {
      const DealerSlot& d = dealers[k];
      h.u64(d.id).bytes(echo_digests[k]).u64(d.status == DealerStatus::kQualified ? 1 : 0);
      h.u64(d.complainers.size());
      for (std::uint64_t j : d.complainers) h.u64(j);
      h.u64(d.reveal_used ? 1 : 0);
      if (d.reveal_used) h.sized(encode(*d.reveal));
    }
    confirm_digest = h.final();
    ConfirmMessage confirm;
    confirm.session = setup.session;
    confirm.curve = curve->id();
    confirm.digest = confirm_digest;
    broadcast(out, confirm);
    peers[self_peer].confirm = confirm_digest;
    phase = Phase::kConfirming;
    return true;
  }

  void finish() {
    for (const auto& p : peers) {
      if (*p.confirm != confirm_digest) {
        fail_session("participant " + id_text(p.id) +
                         "'s confirmation differs from ours: we disagree about the complaints, their answers or "
                         "the excluded dealers",
                     std::nullopt);
        return;
      }
    }
    KeyEventOutput result;
    // The qualified dealers' commitments added coefficient by coefficient:
    // the commitment to the polynomial whose value at our x is our share.
    std::vector<CurvePoint> combined(setup.threshold, curve->identity());
    CurveScalar share;
    for (const auto& d : dealers) {
      if (d.status != DealerStatus::kQualified) {
        result.excluded_dealers.push_back(d.id);
        continue;
      }
      for (std::size_t k = 0; k < combined.size(); ++k) {
        combined[k] = curve->add(combined[k], d.commitments->coefficients[k]);
      }
      const CurveScalar* from_dealer = &*d.share;
      if (d.reveal_used) {
        for (const auto& e : d.reveal->entries) {
          if (e.participant == setup.self) from_dealer = &e.share;
        }
      }
      share = curve->add(share, *from_dealer);
    }
    CurvePoint group_key = combined[0];
    const CurvePoint expected = evaluate(*curve, combined, self_x);
    if (curve->is_identity(group_key)) {
      fail_session("the qualified dealers' constant terms add up to the identity (no key)", std::nullopt);
      return;
    }
    if (share.is_zero() || curve->base_mul(share) != expected) {
      fail_session("our combined share does not match the combined commitments", std::nullopt);
      return;
    }
    result.group_key = std::move(group_key);
    result.share = core::SecretBytes(std::span<const std::uint8_t>(share.view()));
    output = std::move(result);
    phase = Phase::kDone;
    wipe_secrets();
  }

  // ---- receiving ----
  Status accept_commitments(std::uint64_t from, CommitmentsMessage m, ByteView wire) {
    DealerSlot* d = dealer(from);
    if (!d) return invalid("Commitments from participant " + id_text(from) + ", who is not a dealer of this key event");
    if (d->commitments) return invalid("duplicate Commitments from dealer " + id_text(from));
    if (m.coefficients.size() != setup.threshold) {
      return invalid("Commitments from dealer " + id_text(from) + " hold " + std::to_string(m.coefficients.size()) +
                     " coefficients; threshold " + std::to_string(setup.threshold) + " needs exactly that many");
    }
    if (is_keygen() != m.proof.has_value()) {
      return invalid("Commitments from dealer " + id_text(from) +
                     (is_keygen() ? " lack the proof of knowledge a keygen requires"
                                  : " carry a proof of knowledge, which a reshare does not use"));
    }
    d->proof_ok = !is_keygen() || verify_proof(*curve, setup.session, from, m.coefficients[0], *m.proof);
    d->commitments = std::move(m);
    d->commitments_wire.assign(wire.begin(), wire.end());
    return {};
  }

  Status accept_share(std::uint64_t from, ShareMessage m) {
    DealerSlot* d = dealer(from);
    if (!d) return invalid("Share from participant " + id_text(from) + ", who is not a dealer of this key event");
    if (d->share) return invalid("duplicate Share from dealer " + id_text(from));
    d->share = std::move(m.share);
    return {};
  }

  Status accept_echo(std::uint64_t from, EchoMessage m) {
    PeerSlot* p = peer(from);
    if (p->echo) return invalid("duplicate Echo from participant " + id_text(from));
    if (m.digests.size() != dealers.size()) {
      return invalid("Echo from participant " + id_text(from) + " holds " + std::to_string(m.digests.size()) +
                     " digests for " + std::to_string(dealers.size()) + " dealers");
    }
    for (std::uint64_t accused : m.complaints) {
      if (!dealer(accused)) {
        return invalid("Echo from participant " + id_text(from) + " complains against participant " +
                       id_text(accused) + ", who is not a dealer");
      }
      if (accused == from) return invalid("Echo from participant " + id_text(from) + " complains against itself");
    }
    p->echo = std::move(m);
    return {};
  }

  Status accept_reveal(std::uint64_t from, RevealMessage m) {
    DealerSlot* d = dealer(from);
    if (!d) return invalid("Reveal from participant " + id_text(from) + ", who is not a dealer of this key event");
    if (d->reveal) return invalid("duplicate Reveal from dealer " + id_text(from));
    if (phase == Phase::kConfirming) {
      return fail(ErrorCode::kFailedPrecondition,
                  "Reveal from dealer " + id_text(from) + " after the complaints were settled (" +
                      (d->status == DealerStatus::kExcluded ? "it was excluded: " + d->exclusion
                                                            : std::string("it was not needed")) +
                      ")");
    }
    if (phase == Phase::kAnswering && d->status != DealerStatus::kPending) {
      return fail(ErrorCode::kFailedPrecondition,
                  "Reveal from dealer " + id_text(from) + ", which has no complaint to answer");
    }
    for (const auto& e : m.entries) {
      if (!peer(e.participant) || e.participant == from) {
        return invalid("Reveal from dealer " + id_text(from) + " holds a share for participant " +
                       id_text(e.participant) + ", who cannot have complained against it");
      }
    }
    d->reveal = std::move(m);
    return {};
  }

  Status accept_confirm(std::uint64_t from, const ConfirmMessage& m) {
    PeerSlot* p = peer(from);
    if (p->confirm) return invalid("duplicate Confirm from participant " + id_text(from));
    p->confirm = m.digest;
    return {};
  }
};

// ---- KeyEventSession ----

KeyEventSession::KeyEventSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeyEventSession::~KeyEventSession() = default;
KeyEventSession::KeyEventSession(KeyEventSession&&) noexcept = default;
KeyEventSession& KeyEventSession::operator=(KeyEventSession&&) noexcept = default;

Result<KeyEventSession> KeyEventSession::create(KeyEventSetup setup, const RandomSource& random) {
  const auto bad = [](const std::string& what) { return invalid("key event setup: " + what); };
  const std::size_t n = setup.participants.size();
  if (n < 2 || n > kMaxKeyEventParticipants) {
    return bad("it has " + std::to_string(n) + " participants, must be between 2 and " +
               std::to_string(kMaxKeyEventParticipants));
  }
  MPC_TRY(check_ascending(setup.participants, "participants"));
  const auto in = [](const std::vector<std::uint64_t>& ids, std::uint64_t id) {
    return std::binary_search(ids.begin(), ids.end(), id);
  };
  if (!in(setup.participants, setup.self)) return bad("self (" + id_text(setup.self) + ") is not a participant");
  if (setup.threshold < 2 || setup.threshold > n) {
    return bad("threshold " + std::to_string(setup.threshold) + " is not between 2 and the " + std::to_string(n) +
               " participants");
  }
  if (!random) return bad("no random source");
  const Curve& curve = Curve::of(setup.curve);
  auto impl = std::make_unique<Impl>();
  std::optional<CurveScalar> old_share;
  if (setup.kind == KeyEventKind::kKeygen) {
    if (!setup.dealers.empty() || setup.old_threshold != 0 || setup.old_share || !setup.old_group_key.empty()) {
      return bad("a keygen takes no dealers, old threshold, old share or old group key (every participant deals)");
    }
  } else {
    if (setup.dealers.empty()) return bad("a reshare needs dealers");
    MPC_TRY(check_ascending(setup.dealers, "dealers"));
    for (std::uint64_t d : setup.dealers) {
      if (!in(setup.participants, d)) return bad("dealer " + id_text(d) + " is not a participant");
    }
    if (setup.old_threshold < 2 || setup.old_threshold > setup.dealers.size()) {
      return bad("old threshold " + std::to_string(setup.old_threshold) + " is not between 2 and the " +
                 std::to_string(setup.dealers.size()) + " dealers");
    }
    auto key = curve.decode_point(setup.old_group_key);
    if (!key) return bad("old group key: " + key.error().message);
    const bool dealing = in(setup.dealers, setup.self);
    if (dealing != setup.old_share.has_value()) {
      return bad(dealing ? "self is a dealer but has no old share" : "self is not a dealer but has an old share");
    }
    if (dealing) {
      auto s = curve.decode_scalar(setup.old_share->view());
      if (!s) return bad("old share: " + s.error().message);
      if (s->is_zero()) return bad("old share is zero");
      old_share = std::move(*s);
    }
  }

  Impl& m = *impl;
  m.curve = &curve;
  m.setup = std::move(setup);
  m.self_x = curve.participant_x(m.setup.self);
  const std::vector<std::uint64_t>& dealer_ids =
      m.setup.kind == KeyEventKind::kKeygen ? m.setup.participants : m.setup.dealers;
  for (std::uint64_t id : dealer_ids) {
    DealerSlot d;
    d.id = id;
    if (id == m.setup.self) m.self_dealer = m.dealers.size();
    m.dealers.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < m.setup.participants.size(); ++i) {
    PeerSlot p;
    p.id = m.setup.participants[i];
    if (p.id == m.setup.self) m.self_peer = i;
    m.peers.push_back(std::move(p));
  }
  m.setup_digest = m.compute_setup_digest();

  if (m.self_dealer) {
    // f(x) = a_0 + a_1 x + ... + a_{t-1} x^{t-1}; keygen: a_0 random;
    // reshare: a_0 = lambda_self(dealers) * old share. No coefficient is
    // zero, so no commitment is the identity (which no peer would decode).
    if (m.is_keygen()) {
      m.coefficients.push_back(random_nonzero_scalar(curve, random));
    } else {
      std::vector<CurveScalar> xs;
      for (std::uint64_t id : m.setup.dealers) xs.push_back(curve.participant_x(id));
      MPC_ASSIGN(CurveScalar lambda, curve.lagrange_at_zero(xs, m.self_x));
      m.coefficients.push_back(curve.mul(lambda, *old_share));
    }
    for (std::size_t k = 1; k < m.setup.threshold; ++k) m.coefficients.push_back(random_nonzero_scalar(curve, random));
    DealerSlot& own = m.dealers[*m.self_dealer];
    own.commitments = m.own_commitments(random);
    own.commitments_wire = m.encode(*own.commitments);
    own.share = evaluate(curve, m.coefficients, m.self_x);
  }
  m.setup.old_share.reset();  // SecretBytes wipes itself; a0 holds what we needed
  return KeyEventSession(std::move(impl));
}

std::vector<Outgoing> KeyEventSession::start() {
  Impl& m = *impl_;
  std::vector<Outgoing> out;
  if (m.started || m.phase == Phase::kFailed) return out;
  m.started = true;
  if (m.self_dealer) {
    const DealerSlot& own = m.dealers[*m.self_dealer];
    m.broadcast(out, *own.commitments);
    for (std::uint64_t j : m.setup.participants) {
      if (j == m.setup.self) continue;
      ShareMessage share;
      share.session = m.setup.session;
      share.curve = m.curve->id();
      share.share = evaluate(*m.curve, m.coefficients, m.curve->participant_x(j));
      out.push_back(Outgoing{j, m.encode(share)});
    }
  }
  m.advance(out);
  return out;
}

Result<std::vector<Outgoing>> KeyEventSession::on_message(std::uint64_t from, ByteView payload) {
  Impl& m = *impl_;
  if (m.phase == Phase::kDone || m.phase == Phase::kFailed) {
    return fail(ErrorCode::kFailedPrecondition, "message from participant " + id_text(from) + ": the " +
                                                    kind_name(m.setup.kind) + " session is over (" +
                                                    (m.phase == Phase::kDone ? "done" : "failed") + ")");
  }
  if (!m.peer(from)) {
    return invalid("message from participant " + id_text(from) + ", who is not a participant of this key event");
  }
  if (from == m.setup.self) return invalid("message from participant " + id_text(from) + ", which is ourselves");
  auto decoded = decode_key_event_message(payload);
  if (!decoded) return std::unexpected(decoded.error().context("from participant " + id_text(from)));
  if (key_event_message_session(*decoded) != m.setup.session) {
    return invalid(std::string(key_event_message_type_name(key_event_message_type(*decoded))) +
                   " from participant " + id_text(from) + " belongs to another session");
  }
  if (key_event_message_curve(*decoded) != m.setup.curve) {
    return invalid(std::string(key_event_message_type_name(key_event_message_type(*decoded))) +
                   " from participant " + id_text(from) + " is for " +
                   key_curve_name(key_event_message_curve(*decoded)) + ", this key event is " + m.curve->name());
  }
  Status accepted;
  switch (key_event_message_type(*decoded)) {
    case KeyEventMessageType::kCommitments:
      accepted = m.accept_commitments(from, std::get<CommitmentsMessage>(std::move(*decoded)), payload);
      break;
    case KeyEventMessageType::kShare:
      accepted = m.accept_share(from, std::get<ShareMessage>(std::move(*decoded)));
      break;
    case KeyEventMessageType::kEcho:
      accepted = m.accept_echo(from, std::get<EchoMessage>(std::move(*decoded)));
      break;
    case KeyEventMessageType::kReveal:
      accepted = m.accept_reveal(from, std::get<RevealMessage>(std::move(*decoded)));
      break;
    case KeyEventMessageType::kConfirm:
      accepted = m.accept_confirm(from, std::get<ConfirmMessage>(*decoded));
      break;
  }
  if (!accepted) return std::unexpected(accepted.error());
  std::vector<Outgoing> out;
  m.advance(out);
  return out;
}

std::vector<Outgoing> KeyEventSession::on_complaint_timeout() {
  Impl& m = *impl_;
  std::vector<Outgoing> out;
  if (m.phase != Phase::kAnswering) return out;
  m.timed_out = true;
  m.advance(out);
  return out;
}

bool KeyEventSession::done() const { return impl_->phase == Phase::kDone; }
const KeyEventOutput* KeyEventSession::output() const { return impl_->output ? &*impl_->output : nullptr; }
std::optional<std::string> KeyEventSession::failure() const { return impl_->failure; }
std::optional<std::uint64_t> KeyEventSession::blamed() const { return impl_->blamed; }

}  // namespace mpc::threshold
