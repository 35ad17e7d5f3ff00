// Threshold ECDSA (ecdsa_presign.h, ecdsa_sign.h, ecdsa_messages.h): shares
// dealt here for a random key, presignatures among 2T - 1 participants, one
// round signing; checked with OpenSSL EC arithmetic (recovery) and the
// derived key from core/key_derivation.h.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/key_derivation.h"
#include "core/openssl_ptr.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/ecdsa_sign.h"
#include "support/threshold/frost_testing.h"
#include "threshold/key_event_messages.h"

namespace mpc::threshold {
namespace {

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

CurveScalar random_scalar(testing::TestRandom& rng) {
  std::array<std::uint8_t, 64> wide;
  rng.fill(wide);
  return secp().reduce_wide(wide);
}

// A trusted dealer: f of degree threshold - 1, participant id holds f(id + 1).
struct Dealt {
  CurveScalar secret;
  CurvePoint group_key;
  std::map<std::uint64_t, CurveScalar> shares;
};

Dealt deal(const std::vector<std::uint64_t>& ids, std::uint64_t threshold, testing::TestRandom& rng) {
  const Curve& c = secp();
  std::vector<CurveScalar> f;
  for (std::uint64_t i = 0; i < threshold; ++i) f.push_back(random_scalar(rng));
  Dealt d;
  d.secret = f[0];
  d.group_key = c.base_mul(f[0]);
  for (std::uint64_t id : ids) {
    const CurveScalar x = c.participant_x(id);
    CurveScalar acc;
    for (auto it = f.rbegin(); it != f.rend(); ++it) acc = c.add(c.mul(acc, x), *it);
    d.shares[id] = acc;
  }
  return d;
}

SessionId session_of(std::uint8_t b) {
  SessionId s{};
  s.fill(b);
  return s;
}

struct Network {
  std::map<std::uint64_t, PresignSession> sessions;
  struct Pending {
    std::uint64_t from;
    std::uint64_t to;
    core::Bytes payload;
  };
  std::deque<Pending> queue;

  void post(std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      if (o.to) {
        queue.push_back({from, *o.to, std::move(o.payload)});
      } else {
        for (auto& [id, _] : sessions) {
          if (id != from) queue.push_back({from, id, o.payload});
        }
      }
    }
  }
};

// Runs presigning among `ids`; `tamper` may rewrite a message in flight
// (from, to, payload). Returns the sessions (done or failed).
std::map<std::uint64_t, PresignSession> run_presign(
    const Dealt& dealt, const std::vector<std::uint64_t>& ids, std::uint64_t threshold, const SessionId& session,
    testing::TestRandom& rng,
    const std::function<void(std::uint64_t, std::uint64_t, core::Bytes&)>& tamper = nullptr) {
  Network net;
  for (std::uint64_t id : ids) {
    PresignSetup setup;
    setup.session = session;
    setup.self = id;
    setup.participants = ids;
    setup.threshold = threshold;
    setup.key_share = core::SecretBytes(dealt.shares.at(id).view());
    auto s = PresignSession::create(std::move(setup), rng.source());
    EXPECT_TRUE(s.has_value()) << s.error().message;
    net.sessions.emplace(id, std::move(*s));
  }
  for (auto& [id, s] : net.sessions) net.post(id, s.start());
  while (!net.queue.empty()) {
    auto m = std::move(net.queue.front());
    net.queue.pop_front();
    if (tamper) tamper(m.from, m.to, m.payload);
    auto& s = net.sessions.at(m.to);
    if (s.failure()) continue;
    auto out = s.on_message(m.from, m.payload);
    EXPECT_TRUE(out.has_value()) << out.error().message;
    if (out) net.post(m.to, std::move(*out));
  }
  return std::move(net.sessions);
}

std::map<std::uint64_t, Presignature> presign(const Dealt& dealt, const std::vector<std::uint64_t>& ids,
                                              std::uint64_t threshold, testing::TestRandom& rng) {
  auto sessions = run_presign(dealt, ids, threshold, session_of(7), rng);
  std::map<std::uint64_t, Presignature> out;
  for (auto& [id, s] : sessions) {
    EXPECT_TRUE(s.done()) << (s.failure() ? *s.failure() : "not done");
    auto p = s.take_output();
    EXPECT_TRUE(p.has_value());
    if (p) out.emplace(id, std::move(*p));
  }
  return out;
}

EcdsaSignRequest request_for(const Dealt& dealt, std::uint64_t coordinator, testing::TestRandom& rng) {
  EcdsaSignRequest r;
  rng.fill(r.session);
  rng.fill(r.msg_hash);
  r.tweak = core::derive_tweak("alice.near", "ethereum-1");
  rng.fill(r.entropy);
  r.group_key = dealt.group_key;
  r.coordinator = coordinator;
  return r;
}

// Signs with every presignature; `tamper_share` may rewrite a signer's
// SignShare payload. Returns the coordinator's result.
core::Result<std::optional<EcdsaSignature>> sign(std::map<std::uint64_t, Presignature> presignatures,
                                            const EcdsaSignRequest& request,
                                            const std::function<void(std::uint64_t, core::Bytes&)>& tamper_share = nullptr,
                                            std::optional<CurvePoint>* derived = nullptr) {
  std::vector<std::pair<std::uint64_t, core::Bytes>> shares;
  for (auto& [id, p] : presignatures) {
    if (id == request.coordinator) continue;
    auto payload = ecdsa_sign_share(std::move(p), request);
    EXPECT_TRUE(payload.has_value()) << payload.error().message;
    if (tamper_share) tamper_share(id, *payload);
    shares.emplace_back(id, std::move(*payload));
  }
  auto coordinator = EcdsaSignCoordinator::create(std::move(presignatures.at(request.coordinator)), request);
  EXPECT_TRUE(coordinator.has_value()) << coordinator.error().message;
  if (derived) *derived = coordinator->derived_public_key();
  core::Result<std::optional<EcdsaSignature>> last = std::optional<EcdsaSignature>();
  for (auto& [id, payload] : shares) {
    last = coordinator->on_message(id, payload);
    if (!last) return last;
  }
  return last;
}

// ---- independent checks (OpenSSL EC arithmetic) ----

struct Ossl {
  core::EcGroupPtr group{EC_GROUP_new_by_curve_name(NID_secp256k1)};
  core::BnCtxPtr ctx{BN_CTX_new()};
  const BIGNUM* n() const { return EC_GROUP_get0_order(group.get()); }
};

core::BnPtr bn(core::ByteView b) { return core::BnPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

// The public key recovered from (R.x, s, recovery id) over the hash:
// Q = r^-1 (s·R - h·G), R from x = R'.x and y parity = bit 0. Uncompressed
// X||Y (64 bytes), empty on failure.
std::vector<std::uint8_t> recover(const EcdsaSignature& sig, const std::array<std::uint8_t, 32>& hash) {
  Ossl o;
  auto x = bn(core::ByteView(sig.big_r).subspan(1));
  if (sig.recovery_id & 2) {
    // x was R.x - n; our test vectors never hit this (probability ~2^-128).
    return {};
  }
  core::EcPointPtr big_r(EC_POINT_new(o.group.get()));
  if (EC_POINT_set_compressed_coordinates(o.group.get(), big_r.get(), x.get(), sig.recovery_id & 1, o.ctx.get()) != 1) {
    return {};
  }
  core::BnPtr r(BN_new()), s = bn(sig.s), h = bn(hash), r_inv(BN_new()), u1(BN_new()), u2(BN_new());
  BN_nnmod(r.get(), x.get(), o.n(), o.ctx.get());
  BN_nnmod(h.get(), h.get(), o.n(), o.ctx.get());
  BN_mod_inverse(r_inv.get(), r.get(), o.n(), o.ctx.get());
  // u1 = -h·r^-1, u2 = s·r^-1; Q = u1·G + u2·R.
  BN_mod_mul(u1.get(), h.get(), r_inv.get(), o.n(), o.ctx.get());
  BN_mod_sub(u1.get(), o.n(), u1.get(), o.n(), o.ctx.get());
  BN_mod_mul(u2.get(), s.get(), r_inv.get(), o.n(), o.ctx.get());
  core::EcPointPtr q(EC_POINT_new(o.group.get()));
  if (EC_POINT_mul(o.group.get(), q.get(), u1.get(), big_r.get(), u2.get(), o.ctx.get()) != 1) return {};
  std::vector<std::uint8_t> out(65);
  if (EC_POINT_point2oct(o.group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), o.ctx.get()) != 65) {
    return {};
  }
  return {out.begin() + 1, out.end()};
}

bool low_s(const EcdsaSignature& sig) {
  Ossl o;
  core::BnPtr half(BN_dup(o.n()));
  BN_rshift1(half.get(), half.get());
  auto s = bn(sig.s);
  return !BN_is_zero(s.get()) && BN_cmp(s.get(), half.get()) <= 0;
}

std::array<std::uint8_t, 32> r_of(const EcdsaSignature& sig) {
  std::array<std::uint8_t, 64> wide{};
  std::copy(sig.big_r.begin() + 1, sig.big_r.end(), wide.begin() + 32);
  CurveScalar r = secp().reduce_wide(wide);
  std::array<std::uint8_t, 32> out;
  std::copy(r.view().begin(), r.view().end(), out.begin());
  return out;
}

std::vector<std::uint64_t> ids_of(std::size_t n) {
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(3 * i + 1);  // not 0..n-1: x = id + 1 matters
  return ids;
}

void presign_and_sign(std::size_t n, std::uint64_t threshold) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(n);
  const Dealt dealt = deal(ids, threshold, rng);
  auto derived_expected = core::derive_secp256k1_public_key(*core::secp256k1_decompress(dealt.group_key),
                                                            core::derive_tweak("alice.near", "ethereum-1"));
  ASSERT_TRUE(derived_expected.has_value());
  for (std::uint64_t coordinator : {ids.front(), ids.back()}) {
    auto presignatures = presign(dealt, ids, threshold, rng);
    ASSERT_EQ(presignatures.size(), n);
    const auto request = request_for(dealt, coordinator, rng);
    std::optional<CurvePoint> derived;
    auto result = sign(std::move(presignatures), request, nullptr, &derived);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    ASSERT_TRUE(result->has_value());
    const EcdsaSignature& sig = **result;
    ASSERT_TRUE(derived.has_value());
    EXPECT_EQ(*core::secp256k1_decompress(*derived), *derived_expected);
    EXPECT_TRUE(ecdsa_verify(*derived, request.msg_hash, r_of(sig), sig.s));
    EXPECT_FALSE(ecdsa_verify(dealt.group_key, request.msg_hash, r_of(sig), sig.s)) << "verifies under the untweaked key";
    EXPECT_TRUE(low_s(sig));
    EXPECT_LT(sig.recovery_id, 2);
    const auto recovered = recover(sig, request.msg_hash);
    EXPECT_EQ(recovered, std::vector<std::uint8_t>(derived_expected->bytes.begin(), derived_expected->bytes.end()));
    EcdsaSignature flipped = sig;
    flipped.recovery_id ^= 1;
    EXPECT_NE(recover(flipped, request.msg_hash), recovered);
  }
}

TEST(EcdsaThreshold, ThreePartiesThresholdTwoSignatureVerifiesUnderDerivedKey) { presign_and_sign(3, 2); }

TEST(EcdsaThreshold, FivePartiesThresholdThreeSignatureVerifiesUnderDerivedKey) { presign_and_sign(5, 3); }

TEST(EcdsaThreshold, PresignatureSharesInterpolateToTheInverseNonceOfR) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(5);
  const Dealt dealt = deal(ids, 3, rng);
  auto presignatures = presign(dealt, ids, 3, rng);
  const Curve& c = secp();
  std::vector<CurveScalar> xs;
  for (auto id : ids) xs.push_back(c.participant_x(id));
  // c: degree 2 (any 3 shares); alpha, beta, e: degree 4 (all 5).
  std::vector<CurveScalar> xs3(xs.begin(), xs.begin() + 3);
  CurveScalar k_inv, alpha, beta, e;
  for (std::size_t i = 0; i < 5; ++i) {
    const Presignature& p = presignatures.at(ids[i]);
    EXPECT_EQ(p.big_r, presignatures.at(ids[0]).big_r);
    const CurveScalar l5 = *c.lagrange_at_zero(xs, xs[i]);
    if (i < 3) k_inv = c.add(k_inv, c.mul(*c.lagrange_at_zero(xs3, xs[i]), p.c));
    alpha = c.add(alpha, c.mul(l5, p.alpha));
    beta = c.add(beta, c.mul(l5, p.beta));
    e = c.add(e, c.mul(l5, p.e));
  }
  EXPECT_EQ(c.base_mul(c.invert(k_inv)), presignatures.at(ids[0]).big_r);
  EXPECT_TRUE(alpha == k_inv);
  EXPECT_TRUE(beta == c.mul(k_inv, dealt.secret));
  EXPECT_TRUE(e.is_zero());
}

TEST(EcdsaThreshold, TamperedSignatureShareMakesCoordinatorRefuse) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(3);
  const Dealt dealt = deal(ids, 2, rng);
  auto presignatures = presign(dealt, ids, 2, rng);
  const auto request = request_for(dealt, ids[0], rng);
  auto result = sign(std::move(presignatures), request, [&](std::uint64_t id, core::Bytes& payload) {
    if (id != ids[2]) return;
    auto m = std::get<SignShareMessage>(*decode_ecdsa_message(payload));
    m.s = secp().add(m.s, secp().from_u64(1));
    payload = *encode_ecdsa_message(m);
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find("does not verify"), std::string::npos) << result.error().message;
}

TEST(EcdsaThreshold, TamperedPresignatureMakesCoordinatorRefuse) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(5);
  const Dealt dealt = deal(ids, 3, rng);
  for (int field = 0; field < 4; ++field) {
    auto presignatures = presign(dealt, ids, 3, rng);
    Presignature& p = presignatures.at(ids[3]);
    CurveScalar* target[] = {&p.alpha, &p.beta, &p.c, &p.e};
    *target[field] = secp().add(*target[field], secp().from_u64(1));
    const auto request = request_for(dealt, ids[1], rng);
    auto result = sign(std::move(presignatures), request);
    EXPECT_FALSE(result.has_value()) << "field " << field;
  }
  // A presignature whose R is someone else's: refused too.
  auto presignatures = presign(dealt, ids, 3, rng);
  presignatures.at(ids[0]).big_r = secp().base_mul(secp().from_u64(5));
  auto result = sign(std::move(presignatures), request_for(dealt, ids[0], rng));
  EXPECT_FALSE(result.has_value());
}

TEST(EcdsaThreshold, CoordinatorRefusesBadMessagesWithoutChange) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(3);
  const Dealt dealt = deal(ids, 2, rng);
  auto presignatures = presign(dealt, ids, 2, rng);
  const auto request = request_for(dealt, ids[0], rng);
  auto share1 = *ecdsa_sign_share(std::move(presignatures.at(ids[1])), request);
  auto share2 = *ecdsa_sign_share(std::move(presignatures.at(ids[2])), request);
  auto coordinator = *EcdsaSignCoordinator::create(std::move(presignatures.at(ids[0])), request);
  EXPECT_EQ(coordinator.waiting_for(), (std::vector<std::uint64_t>{ids[1], ids[2]}));

  auto first = coordinator.on_message(ids[1], share1);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_FALSE(first->has_value());
  auto dup = coordinator.on_message(ids[1], share1);
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("a second SignShare"), std::string::npos) << dup.error().message;
  EXPECT_FALSE(coordinator.on_message(99, share2).has_value());        // not a signer
  EXPECT_FALSE(coordinator.on_message(ids[0], share2).has_value());    // ourselves
  core::Bytes truncated(share2.begin(), share2.end() - 1);
  EXPECT_FALSE(coordinator.on_message(ids[2], truncated).has_value());
  auto other_session = std::get<SignShareMessage>(*decode_ecdsa_message(share2));
  other_session.session[0] ^= 1;
  auto wrong = coordinator.on_message(ids[2], *encode_ecdsa_message(other_session));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("another session"), std::string::npos);
  EXPECT_EQ(coordinator.waiting_for(), (std::vector<std::uint64_t>{ids[2]}));
  EXPECT_FALSE(coordinator.failure().has_value());

  auto done = coordinator.on_message(ids[2], share2);
  ASSERT_TRUE(done.has_value()) << done.error().message;
  ASSERT_TRUE(done->has_value());
  EXPECT_FALSE(coordinator.on_message(ids[2], share2).has_value());  // after the end
}

TEST(EcdsaThreshold, SigningRefusesZeroHashBigTweakAndForeignCoordinator) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(3);
  const Dealt dealt = deal(ids, 2, rng);
  auto make = [&] { return presign(dealt, ids, 2, rng); };
  auto presignatures = make();
  auto request = request_for(dealt, ids[0], rng);
  auto zero = request;
  zero.msg_hash.fill(0);
  EXPECT_FALSE(ecdsa_sign_share(std::move(presignatures.at(ids[1])), zero).has_value());
  auto big_tweak = request;
  big_tweak.tweak.fill(0xFF);
  EXPECT_FALSE(ecdsa_sign_share(std::move(presignatures.at(ids[2])), big_tweak).has_value());
  auto foreign = request;
  foreign.coordinator = 99;
  EXPECT_FALSE(EcdsaSignCoordinator::create(std::move(presignatures.at(ids[0])), foreign).has_value());
  presignatures = make();
  EXPECT_FALSE(ecdsa_sign_share(std::move(presignatures.at(ids[0])), request).has_value());  // we coordinate
  EXPECT_FALSE(EcdsaSignCoordinator::create(std::move(presignatures.at(ids[1])), request).has_value());
}

TEST(EcdsaPresign, SetupNeedsExactlyTwoThresholdMinusOneParticipants) {
  testing::TestRandom rng(testing::test_seed());
  const Dealt dealt = deal(ids_of(5), 2, rng);
  auto setup = [&](std::vector<std::uint64_t> participants, std::uint64_t threshold, std::uint64_t self) {
    PresignSetup s;
    s.self = self;
    s.participants = std::move(participants);
    s.threshold = threshold;
    s.key_share = core::SecretBytes(dealt.shares.at(1).view());
    return PresignSession::create(std::move(s), rng.source());
  };
  EXPECT_TRUE(setup({1, 4, 7}, 2, 1).has_value());
  EXPECT_FALSE(setup({1, 4, 7, 10}, 2, 1).has_value());  // larger sets enable split-view attacks
  EXPECT_FALSE(setup({1, 4}, 2, 1).has_value());
  EXPECT_FALSE(setup({1, 4, 7}, 1, 1).has_value());
  EXPECT_FALSE(setup({4, 1, 7}, 2, 1).has_value());
  EXPECT_FALSE(setup({1, 4, 7}, 2, 2).has_value());
  PresignSetup bad;
  bad.self = 1;
  bad.participants = {1, 4, 7};
  bad.threshold = 2;
  bad.key_share = core::SecretBytes(std::vector<std::uint8_t>(32, 0xFF));
  auto r = PresignSession::create(std::move(bad), rng.source());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("key share"), std::string::npos);
}

TEST(EcdsaPresign, BadMessagesAreRefusedAndChangeNothing) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(3);
  const Dealt dealt = deal(ids, 2, rng);
  // Driven by hand, to probe refusals between rounds.
  std::map<std::uint64_t, PresignSession> ss;
  for (auto id : ids) {
    PresignSetup setup;
    setup.session = session_of(3);
    setup.self = id;
    setup.participants = ids;
    setup.threshold = 2;
    setup.key_share = core::SecretBytes(dealt.shares.at(id).view());
    ss.emplace(id, *PresignSession::create(std::move(setup), rng.source()));
  }
  std::map<std::uint64_t, std::vector<Outgoing>> starts;
  for (auto& [id, s] : ss) starts[id] = s.start();
  // ids[1]'s shares for ids[0].
  core::Bytes shares_1_to_0;
  for (auto& o : starts[ids[1]]) {
    if (o.to == ids[0]) shares_1_to_0 = o.payload;
  }
  ASSERT_FALSE(shares_1_to_0.empty());
  PresignSession& s0 = ss.at(ids[0]);
  const auto waiting = s0.waiting_for();
  EXPECT_EQ(waiting, (std::vector<std::uint64_t>{ids[1], ids[2]}));
  // Malformed (truncated, trailing byte, bad version), unknown sender,
  // ourselves, wrong session, a SignShare: all refused.
  core::Bytes truncated(shares_1_to_0.begin(), shares_1_to_0.end() - 1);
  core::Bytes trailing = shares_1_to_0;
  trailing.push_back(0);
  core::Bytes version = shares_1_to_0;
  version[0] = 2;
  auto other = std::get<PresignSharesMessage>(*decode_ecdsa_message(shares_1_to_0));
  other.session = session_of(4);
  SignShareMessage sign_share;
  sign_share.session = session_of(3);
  for (const auto& [from, payload] : std::vector<std::pair<std::uint64_t, core::Bytes>>{
           {ids[1], truncated},
           {ids[1], trailing},
           {ids[1], version},
           {ids[1], core::Bytes{}},
           {99, shares_1_to_0},
           {ids[0], shares_1_to_0},
           {ids[1], *encode_ecdsa_message(other)},
           {ids[1], *encode_ecdsa_message(sign_share)},
       }) {
    auto r = s0.on_message(from, payload);
    EXPECT_FALSE(r.has_value()) << "from " << from;
    EXPECT_EQ(s0.waiting_for(), waiting);
    EXPECT_FALSE(s0.failure().has_value());
  }
  ASSERT_TRUE(s0.on_message(ids[1], shares_1_to_0).has_value());
  auto dup = s0.on_message(ids[1], shares_1_to_0);
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("a second PresignShares"), std::string::npos) << dup.error().message;
  EXPECT_EQ(s0.waiting_for(), (std::vector<std::uint64_t>{ids[2]}));

  // Deliver everything else; all finish with the same R.
  Network net;
  for (auto& [id, s] : ss) net.sessions.emplace(id, std::move(s));
  for (auto& [from, out] : starts) {
    for (auto& o : out) {
      if (from == ids[1] && o.to == ids[0]) continue;  // delivered above
      net.queue.push_back({from, *o.to, std::move(o.payload)});
    }
  }
  while (!net.queue.empty()) {
    auto m = std::move(net.queue.front());
    net.queue.pop_front();
    auto out = net.sessions.at(m.to).on_message(m.from, m.payload);
    ASSERT_TRUE(out.has_value()) << out.error().message;
    net.post(m.to, std::move(*out));
  }
  std::optional<CurvePoint> r;
  for (auto& [id, s] : net.sessions) {
    ASSERT_TRUE(s.done()) << id;
    auto p = s.take_output();
    ASSERT_TRUE(p.has_value());
    if (r) {
      EXPECT_EQ(p->big_r, *r);
    }
    r = p->big_r;
    EXPECT_FALSE(s.take_output().has_value()) << "the output is handed out once";
    EXPECT_FALSE(s.on_message(ids[1], shares_1_to_0).has_value());
  }
}

// A participant that opens a wrong R_i: every honest participant fails; with
// t = 2 (5 parties) the culprit is named.
TEST(EcdsaPresign, WrongOpenedNonceShareFailsAndIsBlamed) {
  testing::TestRandom rng(testing::test_seed());
  for (auto [n, threshold] : {std::pair<std::size_t, std::uint64_t>{3, 2}, {5, 3}}) {
    const auto ids = ids_of(n);
    const Dealt dealt = deal(ids, threshold, rng);
    const std::uint64_t liar = ids[1];
    auto sessions = run_presign(dealt, ids, threshold, session_of(5), rng,
                                [&](std::uint64_t from, std::uint64_t, core::Bytes& payload) {
                                  if (from != liar) return;
                                  auto m = decode_ecdsa_message(payload);
                                  if (!m || !std::holds_alternative<PresignOpenMessage>(*m)) return;
                                  auto open = std::get<PresignOpenMessage>(*m);
                                  open.big_r = secp().add(open.big_r, secp().base_mul(secp().from_u64(1)));
                                  payload = *encode_ecdsa_message(open);
                                });
    for (auto& [id, s] : sessions) {
      if (id == liar) continue;
      ASSERT_TRUE(s.failure().has_value()) << id;
      EXPECT_FALSE(s.done());
      EXPECT_FALSE(s.take_output().has_value());
      EXPECT_NE(s.failure()->find("R_i do not lie on one polynomial"), std::string::npos) << *s.failure();
      if (n == 5) {
        EXPECT_EQ(s.blamed(), std::optional<std::uint64_t>(liar));
      } else {
        EXPECT_FALSE(s.blamed().has_value());
      }
    }
  }
}

// A participant that opens a wrong w_i (or W_i): caught by W = w·G.
TEST(EcdsaPresign, WrongMaskedProductIsCaught) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(5);
  const Dealt dealt = deal(ids, 3, rng);
  auto sessions = run_presign(dealt, ids, 3, session_of(6), rng,
                              [&](std::uint64_t from, std::uint64_t, core::Bytes& payload) {
                                if (from != ids[4]) return;
                                auto m = decode_ecdsa_message(payload);
                                if (!m || !std::holds_alternative<PresignOpenMessage>(*m)) return;
                                auto open = std::get<PresignOpenMessage>(*m);
                                open.w = secp().add(open.w, secp().from_u64(1));
                                payload = *encode_ecdsa_message(open);
                              });
  for (auto& [id, s] : sessions) {
    if (id == ids[4]) continue;
    ASSERT_TRUE(s.failure().has_value()) << id;
    EXPECT_NE(s.failure()->find("does not equal w·G"), std::string::npos) << *s.failure();
  }
}

TEST(EcdsaMessages, RoundTripAndRefuseMalformed) {
  testing::TestRandom rng(testing::test_seed());
  PresignSharesMessage shares;
  rng.fill(shares.session);
  shares.k = random_scalar(rng);
  shares.a = random_scalar(rng);
  shares.b = random_scalar(rng);
  shares.d = random_scalar(rng);
  shares.e = random_scalar(rng);
  PresignOpenMessage open;
  open.session = shares.session;
  open.big_r = secp().base_mul(random_scalar(rng));
  open.w = random_scalar(rng);
  PresignWMessage w;
  w.session = shares.session;
  w.big_w = secp().base_mul(random_scalar(rng));
  SignShareMessage sign;
  sign.session = shares.session;
  sign.s = random_scalar(rng);
  PresignRequestMessage request;
  request.session = shares.session;
  request.epoch_id = 7;
  request.domain_id = 3;
  request.participants = {0, 2, 5};
  PresignRequestMessage largest = request;
  largest.participants.clear();
  for (std::uint64_t id = 0; id < kMaxEcdsaParticipants; ++id) largest.participants.push_back(id * 3);
  for (const EcdsaMessage& m : std::vector<EcdsaMessage>{shares, open, w, sign, request, largest}) {
    auto bytes = encode_ecdsa_message(m);
    ASSERT_TRUE(bytes.has_value());
    EXPECT_LE(bytes->size(), kMaxEcdsaMessageSize);
    EXPECT_TRUE(is_ecdsa_message(*bytes));
    EXPECT_FALSE(is_key_event_message(*bytes));
    EXPECT_EQ(ecdsa_session_of(*bytes), std::optional<SessionId>(shares.session));
    auto back = decode_ecdsa_message(*bytes);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_TRUE(*back == m);
    for (std::size_t cut = 0; cut < bytes->size(); ++cut) {
      EXPECT_FALSE(decode_ecdsa_message(core::ByteView(*bytes).first(cut)).has_value()) << cut;
    }
    auto longer = *bytes;
    longer.push_back(0);
    EXPECT_FALSE(decode_ecdsa_message(longer).has_value());
  }
  // A scalar >= n, a point off the curve, an unknown type.
  auto bytes = *encode_ecdsa_message(sign);
  std::fill(bytes.begin() + kEcdsaHeaderSize, bytes.end(), 0xFF);
  auto r = decode_ecdsa_message(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("SignShare"), std::string::npos) << r.error().message;
  auto pw = *encode_ecdsa_message(w);
  pw[kEcdsaHeaderSize] = 0x05;
  EXPECT_FALSE(decode_ecdsa_message(pw).has_value());
  // A PresignRequest whose set is too small, too large or not ascending is
  // neither encoded nor decoded.
  for (const std::vector<std::uint64_t>& ids : std::vector<std::vector<std::uint64_t>>{{0, 1}, {0, 2, 2}, {3, 1, 2}}) {
    PresignRequestMessage bad = request;
    bad.participants = ids;
    auto encoded = encode_ecdsa_message(bad);
    ASSERT_FALSE(encoded.has_value());
    EXPECT_NE(encoded.error().message.find("PresignRequest: participants"), std::string::npos) << encoded.error().message;
  }
  auto unordered = *encode_ecdsa_message(request);
  std::swap_ranges(unordered.end() - 16, unordered.end() - 8, unordered.end() - 8);  // ids 2 and 5 swapped
  auto refused = decode_ecdsa_message(unordered);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not strictly ascending"), std::string::npos) << refused.error().message;
  auto too_many = *encode_ecdsa_message(request);
  too_many[kEcdsaHeaderSize + 16] = 64;
  EXPECT_FALSE(decode_ecdsa_message(too_many).has_value());
  auto unknown = *encode_ecdsa_message(sign);
  unknown[1] = 37;
  EXPECT_FALSE(decode_ecdsa_message(unknown).has_value());
  EXPECT_FALSE(is_ecdsa_message(unknown));
  unknown[1] = 16;  // a key event type
  EXPECT_FALSE(decode_ecdsa_message(unknown).has_value());
  // Encoding refuses a point that would not decode (the identity).
  w.big_w = secp().identity();
  EXPECT_FALSE(encode_ecdsa_message(w).has_value());
}

TEST(EcdsaPresign, StoredPresignatureRoundTripsAndSigns) {
  testing::TestRandom rng(testing::test_seed());
  const auto ids = ids_of(3);
  const Dealt dealt = deal(ids, 2, rng);
  auto presignatures = presign(dealt, ids, 2, rng);
  std::map<std::uint64_t, Presignature> restored;
  for (auto& [id, p] : presignatures) {
    core::SecretBytes stored = encode_presignature(p);
    auto back = decode_presignature(stored.view());
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(back->participants, p.participants);
    EXPECT_EQ(back->big_r, p.big_r);
    EXPECT_TRUE(back->alpha == p.alpha && back->beta == p.beta && back->c == p.c && back->e == p.e);
    for (std::size_t cut = 0; cut < stored.size(); ++cut) {
      EXPECT_FALSE(decode_presignature(stored.view().first(cut)).has_value());
    }
    core::Bytes bad(stored.view().begin(), stored.view().end());
    bad[1] = 4;  // participant count that does not match the threshold
    EXPECT_FALSE(decode_presignature(bad).has_value());
    restored.emplace(id, std::move(*back));
  }
  const auto request = request_for(dealt, ids[2], rng);
  auto result = sign(std::move(restored), request);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_TRUE(result->has_value());
}

}  // namespace
}  // namespace mpc::threshold
