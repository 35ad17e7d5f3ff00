#include "threshold/ecdsa_presign.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "core/secret.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/internal/wire.h"

namespace mpc::threshold {

using core::ByteView;
using core::Bytes;
using core::invalid;
using core::Result;

namespace {

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

CurveScalar random_scalar(const RandomSource& random) {
  std::array<std::uint8_t, 64> wide;
  random(std::span<std::uint8_t, 32>(wide.data(), 32));
  random(std::span<std::uint8_t, 32>(wide.data() + 32, 32));
  CurveScalar s = secp().reduce_wide(wide);
  core::secure_wipe(wide.data(), wide.size());
  return s;
}

// Coefficients a_0..a_degree; a_0 = 0 when `zero_constant`.
std::vector<CurveScalar> random_polynomial(std::size_t degree, bool zero_constant, const RandomSource& random) {
  std::vector<CurveScalar> coefficients;
  coefficients.reserve(degree + 1);
  for (std::size_t i = 0; i <= degree; ++i) {
    coefficients.push_back(i == 0 && zero_constant ? CurveScalar() : random_scalar(random));
  }
  return coefficients;
}

CurveScalar evaluate(const std::vector<CurveScalar>& coefficients, const CurveScalar& x) {
  const Curve& c = secp();
  CurveScalar acc;
  for (auto it = coefficients.rbegin(); it != coefficients.rend(); ++it) acc = c.add(c.mul(acc, x), *it);
  return acc;
}

// The Lagrange coefficient of xs[i] over xs evaluated at `at`:
// prod_{m != i} (at - x_m) / (x_i - x_m). xs distinct.
CurveScalar lagrange_at(const std::vector<CurveScalar>& xs, std::size_t i, const CurveScalar& at) {
  const Curve& c = secp();
  CurveScalar num = c.from_u64(1);
  CurveScalar den = c.from_u64(1);
  for (std::size_t m = 0; m < xs.size(); ++m) {
    if (m == i) continue;
    num = c.mul(num, c.sub(at, xs[m]));
    den = c.mul(den, c.sub(xs[i], xs[m]));
  }
  return c.mul(num, c.invert(den));
}

// sum_i lambda_i(at)·points[i] over (xs, points) (same length).
CurvePoint exponent_interpolate(const std::vector<CurveScalar>& xs, const std::vector<CurvePoint>& points,
                                const CurveScalar& at) {
  const Curve& c = secp();
  CurvePoint acc = c.identity();
  for (std::size_t i = 0; i < xs.size(); ++i) acc = c.add(acc, c.mul(lagrange_at(xs, i, at), points[i]));
  return acc;
}

// True when the points lie on one polynomial of degree `degree` (the first
// degree + 1 interpolate every other).
bool on_one_polynomial(const std::vector<CurveScalar>& xs, const std::vector<CurvePoint>& points, std::size_t degree) {
  std::vector<CurveScalar> base_x(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(degree + 1));
  std::vector<CurvePoint> base_p(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(degree + 1));
  for (std::size_t j = degree + 1; j < xs.size(); ++j) {
    if (exponent_interpolate(base_x, base_p, xs[j]) != points[j]) return false;
  }
  return true;
}

// The one index whose removal makes the rest consistent, when exactly one
// does and the rest still has a point to check (n - 1 > degree + 1).
std::optional<std::size_t> single_culprit(const std::vector<CurveScalar>& xs, const std::vector<CurvePoint>& points,
                                          std::size_t degree) {
  if (xs.size() < degree + 3) return std::nullopt;
  std::optional<std::size_t> found;
  for (std::size_t skip = 0; skip < xs.size(); ++skip) {
    std::vector<CurveScalar> sx;
    std::vector<CurvePoint> sp;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (i == skip) continue;
      sx.push_back(xs[i]);
      sp.push_back(points[i]);
    }
    if (on_one_polynomial(sx, sp, degree)) {
      if (found) return std::nullopt;
      found = skip;
    }
  }
  return found;
}

enum class Phase { kShares, kOpen, kW, kDone, kFailed };

}  // namespace

std::size_t ecdsa_signer_count(std::uint64_t threshold) {
  return threshold == 0 ? 0 : static_cast<std::size_t>(2 * threshold - 1);
}

// ---- stored form ----

core::SecretBytes encode_presignature(const Presignature& p) {
  // Written in place: no reallocation leaves copies of the secrets behind.
  core::SecretBytes out(1 + 1 + 8 * p.participants.size() + 8 + 8 + p.big_r.size() + 4 * kCurveScalarSize);
  std::uint8_t* at = out.data();
  auto put = [&](std::uint64_t v, std::size_t width) {
    internal::put_le(v, width, at);
    at += width;
  };
  auto bytes = [&](ByteView b) {
    std::copy(b.begin(), b.end(), at);
    at += b.size();
  };
  put(1, 1);
  put(p.participants.size(), 1);
  for (std::uint64_t id : p.participants) put(id, 8);
  put(p.threshold, 8);
  put(p.self, 8);
  bytes(p.big_r);
  for (const CurveScalar* s : {&p.alpha, &p.beta, &p.c, &p.e}) bytes(s->view());
  return out;
}

Result<Presignature> decode_presignature(ByteView bytes) {
  internal::Reader r(bytes, "presignature");
  MPC_ASSIGN(std::uint64_t version, r.uint(1, "version"));
  if (version != 1) return r.refuse("version", std::to_string(version) + " is not 1");
  Presignature p;
  MPC_ASSIGN(std::size_t n, r.fitting_count(3, kMaxEcdsaParticipants, 8, "participant count"));
  for (std::size_t i = 0; i < n; ++i) {
    MPC_ASSIGN(std::uint64_t id, r.uint(8, "participant id"));
    if (!p.participants.empty() && id <= p.participants.back()) {
      return r.refuse("participant id", "ids are not strictly ascending");
    }
    p.participants.push_back(id);
  }
  MPC_ASSIGN(p.threshold, r.uint(8, "threshold"));
  if (p.threshold < 2 || ecdsa_signer_count(p.threshold) != n) {
    return r.refuse("threshold", std::to_string(p.threshold) + " does not match " + std::to_string(n) + " participants (2T - 1)");
  }
  MPC_ASSIGN(p.self, r.uint(8, "self"));
  if (!std::binary_search(p.participants.begin(), p.participants.end(), p.self)) {
    return r.refuse("self", "participant " + std::to_string(p.self) + " is not in the set");
  }
  MPC_ASSIGN(ByteView big_r, r.take(33, "R"));
  auto decoded = secp().decode_point(big_r);
  if (!decoded) return r.refuse("R", decoded.error().message);
  p.big_r = std::move(*decoded);
  const std::array<std::pair<CurveScalar*, const char*>, 4> scalars = {
      {{&p.alpha, "alpha"}, {&p.beta, "beta"}, {&p.c, "c"}, {&p.e, "e"}}};
  for (const auto& [out, name] : scalars) {
    MPC_ASSIGN(ByteView b, r.take(kCurveScalarSize, name));
    auto s = secp().decode_scalar(b);
    if (!s) return r.refuse(name, "not a scalar below the group order");
    *out = std::move(*s);
  }
  MPC_TRY(r.finish());
  return p;
}

// ---- session ----

struct PresignSession::Impl {
  SessionId session{};
  std::uint64_t self = 0;
  std::vector<std::uint64_t> participants;
  std::vector<CurveScalar> xs;
  std::size_t me = 0;
  std::size_t t = 0;  // degree = threshold - 1
  std::uint64_t threshold = 0;
  CurveScalar key_share;
  std::array<std::vector<CurveScalar>, 5> polynomials;  // k, a, b, d, e

  bool started = false;
  Phase phase = Phase::kShares;
  std::vector<std::optional<PresignSharesMessage>> shares;
  std::vector<std::optional<PresignOpenMessage>> opens;
  std::vector<std::optional<PresignWMessage>> ws;

  CurveScalar k, a, b, d, e;  // summed shares
  CurvePoint big_r;
  CurveScalar w;

  std::optional<Presignature> output;
  std::optional<std::string> failure;
  std::optional<std::uint64_t> blamed;

  std::vector<Outgoing> broadcast(const EcdsaMessage& m) {
    auto payload = encode_ecdsa_message(m);
    // Our own points are valid by construction (R_i, W_i are never the
    // identity unless k_i or a_i is zero, probability 2^-256; then we fail).
    if (!payload) {
      fail("cannot encode our own " + std::string(ecdsa_message_type_name(ecdsa_message_type(m))) + ": " +
               payload.error().message,
           std::nullopt);
      return {};
    }
    return {Outgoing{std::nullopt, std::move(*payload)}};
  }

  void fail(std::string why, std::optional<std::uint64_t> who) {
    phase = Phase::kFailed;
    failure = "ecdsa presign failed: " + why;
    blamed = who;
  }

  template <class T>
  static bool all(const std::vector<std::optional<T>>& v) {
    return std::all_of(v.begin(), v.end(), [](const auto& o) { return o.has_value(); });
  }

  std::vector<Outgoing> advance() {
    std::vector<Outgoing> out;
    const Curve& c = secp();
    if (phase == Phase::kShares && started && all(shares)) {
      for (const auto& s : shares) {
        k = c.add(k, s->k);
        a = c.add(a, s->a);
        b = c.add(b, s->b);
        d = c.add(d, s->d);
        e = c.add(e, s->e);
      }
      shares.assign(shares.size(), std::nullopt);  // wipes the received shares
      PresignOpenMessage open;
      open.session = session;
      open.big_r = c.base_mul(k);
      open.w = c.add(c.mul(a, k), b);
      auto msgs = broadcast(open);
      if (phase == Phase::kFailed) return {};
      opens[me] = std::move(open);
      phase = Phase::kOpen;
      out.insert(out.end(), std::make_move_iterator(msgs.begin()), std::make_move_iterator(msgs.end()));
    }
    if (phase == Phase::kOpen && all(opens)) {
      std::vector<CurvePoint> rs;
      std::vector<CurveScalar> w_shares;
      for (const auto& o : opens) {
        rs.push_back(o->big_r);
        w_shares.push_back(o->w);
      }
      if (!on_one_polynomial(xs, rs, t)) {
        auto culprit = single_culprit(xs, rs, t);
        fail("the R_i do not lie on one polynomial of degree " + std::to_string(t) +
                 (culprit ? " (participant " + std::to_string(participants[*culprit]) + "'s R_i is off it)" : ""),
             culprit ? std::optional(participants[*culprit]) : std::nullopt);
        return {};
      }
      std::vector<CurveScalar> base_x(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(t + 1));
      std::vector<CurvePoint> base_r(rs.begin(), rs.begin() + static_cast<std::ptrdiff_t>(t + 1));
      big_r = exponent_interpolate(base_x, base_r, CurveScalar());
      if (c.is_identity(big_r)) {
        fail("R is the point at infinity", std::nullopt);
        return {};
      }
      CurveScalar acc;
      for (std::size_t i = 0; i < xs.size(); ++i) acc = c.add(acc, c.mul(lagrange_at(xs, i, CurveScalar()), w_shares[i]));
      w = acc;
      if (w.is_zero()) {
        fail("w = k·a is zero", std::nullopt);
        return {};
      }
      PresignWMessage wm;
      wm.session = session;
      wm.big_w = c.mul(a, big_r);
      auto msgs = broadcast(wm);
      if (phase == Phase::kFailed) return {};
      ws[me] = std::move(wm);
      phase = Phase::kW;
      out.insert(out.end(), std::make_move_iterator(msgs.begin()), std::make_move_iterator(msgs.end()));
    }
    if (phase == Phase::kW && all(ws)) {
      std::vector<CurvePoint> big_ws;
      for (const auto& m : ws) big_ws.push_back(m->big_w);
      if (!on_one_polynomial(xs, big_ws, t)) {
        auto culprit = single_culprit(xs, big_ws, t);
        fail("the W_i do not lie on one polynomial of degree " + std::to_string(t) +
                 (culprit ? " (participant " + std::to_string(participants[*culprit]) + "'s W_i is off it)" : ""),
             culprit ? std::optional(participants[*culprit]) : std::nullopt);
        return {};
      }
      std::vector<CurveScalar> base_x(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(t + 1));
      std::vector<CurvePoint> base_w(big_ws.begin(), big_ws.begin() + static_cast<std::ptrdiff_t>(t + 1));
      if (exponent_interpolate(base_x, base_w, CurveScalar()) != c.base_mul(w)) {
        fail("W = a·R does not equal w·G (a w_i or W_i is wrong)", std::nullopt);
        return {};
      }
      Presignature p;
      p.participants = participants;
      p.threshold = threshold;
      p.self = self;
      p.big_r = big_r;
      p.c = c.mul(a, c.invert(w));
      p.alpha = c.add(p.c, d);
      p.beta = c.mul(p.c, key_share);
      p.e = e;
      output = std::move(p);
      phase = Phase::kDone;
      for (auto& poly : polynomials) poly.clear();
      k = a = b = d = e = CurveScalar();
    }
    return out;
  }
};

PresignSession::PresignSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PresignSession::~PresignSession() = default;
PresignSession::PresignSession(PresignSession&&) noexcept = default;
PresignSession& PresignSession::operator=(PresignSession&&) noexcept = default;

Result<PresignSession> PresignSession::create(PresignSetup setup, const RandomSource& random) {
  if (setup.threshold < 2) return invalid("ecdsa presign: threshold " + std::to_string(setup.threshold) + " is below 2");
  const std::size_t n = setup.participants.size();
  if (setup.threshold > (kMaxEcdsaParticipants + 1) / 2 || n != ecdsa_signer_count(setup.threshold)) {
    return invalid("ecdsa presign: " + std::to_string(n) + " participants for threshold " +
                   std::to_string(setup.threshold) + "; exactly 2·threshold - 1 (at most " +
                   std::to_string(kMaxEcdsaParticipants) + ") take part");
  }
  for (std::size_t i = 1; i < n; ++i) {
    if (setup.participants[i] <= setup.participants[i - 1]) {
      return invalid("ecdsa presign: participants are not strictly ascending");
    }
  }
  auto me = std::find(setup.participants.begin(), setup.participants.end(), setup.self);
  if (me == setup.participants.end()) {
    return invalid("ecdsa presign: self " + std::to_string(setup.self) + " is not a participant");
  }
  auto share = secp().decode_scalar(setup.key_share.view());
  if (!share) return invalid("ecdsa presign: key share: " + share.error().message);
  if (share->is_zero()) return invalid("ecdsa presign: key share is zero");

  auto impl = std::make_unique<Impl>();
  impl->session = setup.session;
  impl->self = setup.self;
  impl->participants = setup.participants;
  impl->me = static_cast<std::size_t>(me - setup.participants.begin());
  impl->threshold = setup.threshold;
  impl->t = static_cast<std::size_t>(setup.threshold - 1);
  impl->key_share = std::move(*share);
  for (std::uint64_t id : setup.participants) impl->xs.push_back(secp().participant_x(id));
  impl->polynomials[0] = random_polynomial(impl->t, false, random);
  impl->polynomials[1] = random_polynomial(impl->t, false, random);
  for (std::size_t i = 2; i < 5; ++i) impl->polynomials[i] = random_polynomial(2 * impl->t, true, random);
  impl->shares.resize(n);
  impl->opens.resize(n);
  impl->ws.resize(n);
  return PresignSession(std::move(impl));
}

std::vector<Outgoing> PresignSession::start() {
  Impl& s = *impl_;
  if (s.started || s.phase == Phase::kFailed) return {};
  s.started = true;
  std::vector<Outgoing> out;
  for (std::size_t j = 0; j < s.participants.size(); ++j) {
    PresignSharesMessage m;
    m.session = s.session;
    m.k = evaluate(s.polynomials[0], s.xs[j]);
    m.a = evaluate(s.polynomials[1], s.xs[j]);
    m.b = evaluate(s.polynomials[2], s.xs[j]);
    m.d = evaluate(s.polynomials[3], s.xs[j]);
    m.e = evaluate(s.polynomials[4], s.xs[j]);
    if (j == s.me) {
      s.shares[j] = std::move(m);
      continue;
    }
    auto payload = encode_ecdsa_message(m);  // scalars only: cannot fail
    out.push_back(Outgoing{s.participants[j], std::move(*payload)});
  }
  auto more = s.advance();
  out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return out;
}

Result<std::vector<Outgoing>> PresignSession::on_message(std::uint64_t from, ByteView payload) {
  Impl& s = *impl_;
  const std::string who = "ecdsa presign: message from participant " + std::to_string(from);
  if (s.phase == Phase::kFailed) return invalid(who + " refused: the session has failed");
  if (s.phase == Phase::kDone) return invalid(who + " refused: the session is done");
  auto it = std::find(s.participants.begin(), s.participants.end(), from);
  if (it == s.participants.end()) return invalid(who + " refused: not a participant of this session");
  if (from == s.self) return invalid(who + " refused: it is ourselves");
  const std::size_t index = static_cast<std::size_t>(it - s.participants.begin());
  auto decoded = decode_ecdsa_message(payload);
  if (!decoded) return invalid(who + " is malformed: " + decoded.error().message);
  if (ecdsa_message_session(*decoded) != s.session) return invalid(who + " refused: it is for another session");
  const char* type = ecdsa_message_type_name(ecdsa_message_type(*decoded));
  auto duplicate = [&] { return invalid(who + " refused: a second " + type); };
  if (auto* m = std::get_if<PresignSharesMessage>(&*decoded)) {
    if (s.phase != Phase::kShares) return invalid(who + " refused: " + type + " after that round ended");
    if (s.shares[index]) return duplicate();
    s.shares[index] = std::move(*m);
  } else if (auto* m = std::get_if<PresignOpenMessage>(&*decoded)) {
    if (s.opens[index]) return duplicate();
    if (s.phase == Phase::kW) return invalid(who + " refused: " + type + " after that round ended");
    s.opens[index] = std::move(*m);
  } else if (auto* m = std::get_if<PresignWMessage>(&*decoded)) {
    if (s.ws[index]) return duplicate();
    s.ws[index] = std::move(*m);
  } else {
    return invalid(who + " refused: " + type + " is not a presigning message");
  }
  return s.advance();
}

bool PresignSession::done() const { return impl_->phase == Phase::kDone; }

std::optional<Presignature> PresignSession::take_output() {
  std::optional<Presignature> out = std::move(impl_->output);
  impl_->output.reset();
  return out;
}

std::optional<std::string> PresignSession::failure() const { return impl_->failure; }
std::optional<std::uint64_t> PresignSession::blamed() const { return impl_->blamed; }

std::vector<std::uint64_t> PresignSession::waiting_for() const {
  const Impl& s = *impl_;
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < s.participants.size(); ++i) {
    bool missing = false;
    switch (s.phase) {
      case Phase::kShares: missing = !s.shares[i]; break;
      case Phase::kOpen: missing = !s.opens[i]; break;
      case Phase::kW: missing = !s.ws[i]; break;
      default: break;
    }
    if (missing) out.push_back(s.participants[i]);
  }
  return out;
}

}  // namespace mpc::threshold
