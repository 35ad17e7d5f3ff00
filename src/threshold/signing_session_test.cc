#include "threshold/signing_session.h"
#include "support/threshold/frost_testing.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <map>

namespace mpc::threshold {
namespace {

using core::Bytes;
using core::ErrorCode;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using testing::Dealt;
using testing::openssl_verify;
using testing::test_seed;
using testing::TestRandom;

// Key packages for `ids` (threshold t), dealt from `rng`.
Dealt deal(const std::vector<std::uint64_t>& ids, std::size_t t, TestRandom& rng) {
  auto d = testing::deal(ids, t, rng.source());
  EXPECT_TRUE(d) << d.error().message;
  return d ? std::move(*d) : Dealt{};
}

std::vector<std::uint64_t> range(std::uint64_t n) {
  std::vector<std::uint64_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// Every message crosses the "network" as bytes.
Message wire(const Message& m) {
  auto b = encode_message(m);
  EXPECT_TRUE(b) << b.error().message;
  auto d = decode_message(*b);
  EXPECT_TRUE(d) << d.error().message;
  return *d;
}

SignRequest make_request(const std::vector<std::uint64_t>& signers, TestRandom& rng, bool with_tweak) {
  SignRequest r;
  r.session = new_session_id(rng.source());
  r.request_context = {'r', 'e', 'q'};
  r.domain_id = 1;
  r.message = Bytes(32, 0);
  rng.fill(r.message);
  if (with_tweak) rng.fill(r.tweak);
  r.signers = signers;
  return r;
}

// One signing session in process: the leader and the other signers exchange
// encoded messages.
struct Session {
  Coordinator coordinator;
  std::map<std::uint64_t, Signer> signers;
  std::uint64_t leader;
};

Session open_session(const Dealt& d, std::uint64_t leader, const SignRequest& request, TestRandom& rng) {
  auto c = Coordinator::create(leader, d.keys.at(leader), request);
  EXPECT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->start(rng.source()));
  Session s{std::move(*c), {}, leader};
  const auto sent = std::get<SignRequest>(wire(s.coordinator.request()));
  for (std::uint64_t id : sent.signers) {
    if (id == leader) continue;
    auto signer = Signer::create(id, leader, d.keys.at(id), sent);
    EXPECT_TRUE(signer) << signer.error().message;
    s.signers.emplace(id, std::move(*signer));
  }
  return s;
}

// Round one: every signer commits; returns the package (empty on failure).
std::optional<SigningPackage> round_one(Session& s, TestRandom& rng) {
  std::optional<SigningPackage> package;
  for (auto& [id, signer] : s.signers) {
    auto c = signer.commit(rng.source());
    EXPECT_TRUE(c) << c.error().message;
    auto step = s.coordinator.handle(id, wire(*c));
    EXPECT_TRUE(step) << step.error().message;
    if (step && step->broadcast) package = step->broadcast;
  }
  return package;
}

core::Result<core::Ed25519Signature> run(const Dealt& d, std::uint64_t leader, const SignRequest& request,
                                         TestRandom& rng) {
  Session s = open_session(d, leader, request, rng);
  auto package = round_one(s, rng);
  if (!package) return core::fail(ErrorCode::kInternal, "no signing package");
  const auto sent = wire(*package);
  std::optional<core::Ed25519Signature> sig;
  for (auto& [id, signer] : s.signers) {
    MPC_ASSIGN(auto reply, signer.handle(leader, sent));
    if (!reply) return core::fail(ErrorCode::kInternal, "signer sent nothing");
    MPC_ASSIGN(CoordinatorStep step, s.coordinator.handle(id, wire(*reply)));
    if (step.signature) sig = step.signature;
  }
  if (!sig) return core::fail(ErrorCode::kInternal, "no signature");
  EXPECT_EQ(s.coordinator.state(), CoordinatorState::kDone);
  return *sig;
}

struct Case {
  std::size_t n, t, signers;
  bool tweak;
};

class FullFlow : public ::testing::TestWithParam<Case> {};

TEST_P(FullFlow, ThresholdSignersProduceASignatureOpenSslVerifiesUnderTheDerivedKey) {
  const auto [n, t, k, with_tweak] = GetParam();
  TestRandom rng(test_seed() ^ (n * 1000 + t * 10 + k) ^ (with_tweak ? 1u << 20 : 0));
  const Dealt d = deal(range(n), t, rng);
  // Two different signing sets of size k: the first k and the last k; the
  // leader is the middle member of each.
  for (int variant = 0; variant < 2; ++variant) {
    std::vector<std::uint64_t> set;
    for (std::size_t i = 0; i < k; ++i) set.push_back(variant == 0 ? i : n - k + i);
    const std::uint64_t leader = set[k / 2];
    const SignRequest request = make_request(set, rng, with_tweak);
    auto sig = run(d, leader, request, rng);
    ASSERT_TRUE(sig) << sig.error().message << " (seed " << test_seed() << ")";

    const Scalar t_scalar = tweak_scalar(request.tweak);
    auto derived = derive_public_key(d.group_key, t_scalar);
    ASSERT_TRUE(derived);
    EXPECT_TRUE(openssl_verify(*derived, request.message, *sig));
    if (with_tweak) {
      EXPECT_FALSE(openssl_verify(d.group_key, request.message, *sig));
    }
    Bytes other = request.message;
    other[0] ^= 1;
    EXPECT_FALSE(openssl_verify(*derived, other, *sig));
  }
}

INSTANTIATE_TEST_SUITE_P(ThresholdOfN, FullFlow,
                         ::testing::Values(Case{3, 2, 2, false}, Case{3, 2, 2, true}, Case{3, 2, 3, true},
                                           Case{5, 3, 3, false}, Case{5, 3, 3, true}, Case{5, 3, 5, true},
                                           Case{10, 7, 7, false}, Case{10, 7, 7, true}, Case{10, 7, 9, true}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return std::to_string(c.t) + "of" + std::to_string(c.n) + "With" +
                                  std::to_string(c.signers) + "Signers" + (c.tweak ? "Tweaked" : "Untweaked");
                         });

TEST(SigningSession, KeysharesInTheNodesFormatSign) {
  // model::Keyshare as the dealer writes them (participant ids 4, 9, 12).
  TestRandom rng(test_seed() + 1);
  const std::vector<std::uint64_t> ids = {4, 9, 12};
  const Dealt d = deal(ids, 2, rng);
  Dealt from_keyshares;
  for (const auto& [id, key] : d.keys) {
    model::Keyshare k;
    k.kind = model::CurveKind::kEd25519;
    k.private_share = core::SecretString(core::hex_encode(key.share.view()));
    k.public_key = core::hex_encode(d.group_key);
    auto kp = key_package_from_keyshare(k);
    ASSERT_TRUE(kp) << kp.error().message;
    from_keyshares.keys.emplace(id, std::move(*kp));
  }
  from_keyshares.group_key = d.group_key;
  const SignRequest request = make_request({9, 12}, rng, true);
  auto sig = run(from_keyshares, 12, request, rng);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_TRUE(openssl_verify(*derive_public_key(d.group_key, tweak_scalar(request.tweak)), request.message, *sig));
}

// ---- hostile inputs ----

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dealt = deal(range(5), 3, rng);
    request = make_request({0, 2, 3}, rng, true);
  }
  TestRandom rng{test_seed() + 2};
  Dealt dealt;
  SignRequest request;
};

TEST_F(Hostile, CommitmentsFromOutsidersDuplicatesOrAnotherSessionAreRefusedAndChangeNothing) {
  Session s = open_session(dealt, 2, request, rng);
  auto c0 = s.signers.at(0).commit(rng.source());
  ASSERT_TRUE(c0);

  auto outsider = s.coordinator.on_commitment(4, *c0);
  ASSERT_FALSE(outsider);
  EXPECT_TRUE(has(outsider.error().message, "participant 4")) << outsider.error().message;
  EXPECT_TRUE(has(outsider.error().message, "not in the signer set"));

  auto self = s.coordinator.on_commitment(2, *c0);
  ASSERT_FALSE(self);
  EXPECT_TRUE(has(self.error().message, "coordinator itself"));

  Commitment other_session = *c0;
  other_session.session[0] ^= 1;
  auto wrong = s.coordinator.on_commitment(0, other_session);
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(has(wrong.error().message, "another session"));

  // A flood from outsiders costs nothing.
  for (std::uint64_t from = 100; from < 2100; ++from) ASSERT_FALSE(s.coordinator.on_commitment(from, *c0));
  EXPECT_EQ(s.coordinator.waiting_for(), (std::vector<std::uint64_t>{0, 3}));

  ASSERT_TRUE(s.coordinator.on_commitment(0, *c0));
  auto dup = s.coordinator.on_commitment(0, *c0);
  ASSERT_FALSE(dup);
  EXPECT_TRUE(has(dup.error().message, "participant 0 refused: already received")) << dup.error().message;
  EXPECT_EQ(s.coordinator.waiting_for(), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(s.coordinator.state(), CoordinatorState::kCollectingCommitments);

  // Wrong message types are refused by the dispatchers.
  EXPECT_FALSE(s.coordinator.handle(0, request));
  EXPECT_FALSE(s.signers.at(0).handle(2, *c0));

  // The session still completes.
  auto c3 = s.signers.at(3).commit(rng.source());
  ASSERT_TRUE(c3);
  auto pkg = s.coordinator.on_commitment(3, *c3);
  ASSERT_TRUE(pkg && *pkg);
}

TEST_F(Hostile, SignerRefusesBadPackagesWithoutSpendingItsNoncesAndNeverSignsTwice) {
  Session s = open_session(dealt, 2, request, rng);
  auto package = round_one(s, rng);
  ASSERT_TRUE(package);
  Signer& signer = s.signers.at(0);

  // From someone other than the coordinator.
  auto from3 = signer.on_signing_package(3, *package);
  ASSERT_FALSE(from3);
  EXPECT_TRUE(has(from3.error().message, "from participant 3 refused")) << from3.error().message;

  // Missing a signer.
  SigningPackage missing = *package;
  missing.commitments.erase(missing.commitments.begin() + 2);  // participant 3
  auto e1 = signer.on_signing_package(2, missing);
  ASSERT_FALSE(e1);
  EXPECT_TRUE(has(e1.error().message, "lacks the commitment of participant 3")) << e1.error().message;

  // An extra, unknown signer.
  SigningPackage extra = *package;
  extra.commitments.push_back(PackageEntry{4, extra.commitments[0].hiding, extra.commitments[0].binding});
  auto e2 = signer.on_signing_package(2, extra);
  ASSERT_FALSE(e2);
  EXPECT_TRUE(has(e2.error().message, "participant 4 is not in the signer set")) << e2.error().message;

  // Its own commitment replaced.
  SigningPackage changed = *package;
  std::swap(changed.commitments[0].hiding, changed.commitments[0].binding);
  auto e3 = signer.on_signing_package(2, changed);
  ASSERT_FALSE(e3);
  EXPECT_TRUE(has(e3.error().message, "changes this signer's commitment"));

  // Another session.
  SigningPackage other = *package;
  other.session[5] ^= 1;
  EXPECT_FALSE(signer.on_signing_package(2, other));

  EXPECT_EQ(signer.state(), SignerState::kCommitted) << "refusals change nothing";
  auto share = signer.on_signing_package(2, *package);
  ASSERT_TRUE(share) << share.error().message;
  EXPECT_EQ(signer.state(), SignerState::kDone);

  // A second package for the same session: refused (nonce reuse impossible).
  auto again = signer.on_signing_package(2, *package);
  ASSERT_FALSE(again);
  EXPECT_TRUE(has(again.error().message, "nonces are used once")) << again.error().message;
  EXPECT_FALSE(signer.commit(rng.source())) << "no second commitment either";
}

TEST_F(Hostile, PackageBeforeCommitIsRefused) {
  Session s = open_session(dealt, 2, request, rng);
  SigningPackage p;
  p.session = request.session;
  auto e = s.signers.at(0).on_signing_package(2, p);
  ASSERT_FALSE(e);
  EXPECT_TRUE(has(e.error().message, "not committed yet"));
}

// Drives a session to the share round; returns the package.
SigningPackage to_shares(Session& s, TestRandom& rng) {
  auto package = round_one(s, rng);
  EXPECT_TRUE(package);
  return package ? *package : SigningPackage{};
}

TEST_F(Hostile, ATamperedShareFailsTheSessionNamingTheParticipant) {
  Session s = open_session(dealt, 2, request, rng);
  const SigningPackage package = to_shares(s, rng);
  auto z0 = s.signers.at(0).on_signing_package(2, package);
  auto z3 = s.signers.at(3).on_signing_package(2, package);
  ASSERT_TRUE(z0 && z3);
  ASSERT_TRUE(s.coordinator.on_signature_share(0, *z0));

  // Duplicate share and a share from an outsider: refused, nothing changes.
  EXPECT_FALSE(s.coordinator.on_signature_share(0, *z0));
  EXPECT_FALSE(s.coordinator.on_signature_share(4, *z3));
  EXPECT_EQ(s.coordinator.waiting_for(), (std::vector<std::uint64_t>{3}));

  SignatureShare tampered = *z3;
  Scalar one{};
  one[0] = 1;
  crypto_core_ed25519_scalar_add(tampered.share.data(), tampered.share.data(), one.data());
  auto bad = s.coordinator.on_signature_share(3, tampered);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(has(bad.error().message, "signature share from participant 3 does not verify")) << bad.error().message;
  EXPECT_EQ(s.coordinator.state(), CoordinatorState::kFailed);
  EXPECT_EQ(s.coordinator.blamed(), std::optional<std::uint64_t>(3));
  // The session is over: even the right share no longer yields a signature.
  EXPECT_FALSE(s.coordinator.on_signature_share(3, *z3));
}

TEST_F(Hostile, ASignerWithAWrongShareIsNamedWhenItAnnouncesItsTrueVerifyingShare) {
  // Participant 3 holds participant 4's share but announces its own
  // verifying share (as a node with a corrupted share file would not, but
  // a cheater might).
  KeyPackage wrong = dealt.keys.at(4).clone();
  wrong.verifying_share = dealt.keys.at(3).verifying_share;
  dealt.keys.at(3) = std::move(wrong);
  Session s = open_session(dealt, 2, request, rng);
  const SigningPackage package = to_shares(s, rng);
  auto z0 = s.signers.at(0).on_signing_package(2, package);
  auto z3 = s.signers.at(3).on_signing_package(2, package);
  ASSERT_TRUE(z0 && z3);
  ASSERT_TRUE(s.coordinator.on_signature_share(0, *z0));
  auto bad = s.coordinator.on_signature_share(3, *z3);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(has(bad.error().message, "participant 3")) << bad.error().message;
  EXPECT_EQ(s.coordinator.blamed(), std::optional<std::uint64_t>(3));
}

TEST_F(Hostile, ASignerWithAnotherKeysShareYieldsNoSignature) {
  // Participant 3's share is from another dealing (consistent with what it
  // announces): every share verifies, the aggregate does not, and no
  // signature comes out.
  TestRandom other_rng(test_seed() + 3);
  Dealt other = deal(range(5), 3, other_rng);
  auto foreign = make_key_package(other.keys.at(3).share.clone(), dealt.group_key);
  ASSERT_TRUE(foreign);
  dealt.keys.at(3) = std::move(*foreign);
  Session s = open_session(dealt, 2, request, rng);
  const SigningPackage package = to_shares(s, rng);
  auto z0 = s.signers.at(0).on_signing_package(2, package);
  auto z3 = s.signers.at(3).on_signing_package(2, package);
  ASSERT_TRUE(z0 && z3);
  ASSERT_TRUE(s.coordinator.on_signature_share(0, *z0));
  auto bad = s.coordinator.on_signature_share(3, *z3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(has(bad.error().message, "aggregate signature does not verify")) << bad.error().message;
  EXPECT_EQ(s.coordinator.state(), CoordinatorState::kFailed);
  EXPECT_EQ(s.coordinator.blamed(), std::nullopt);
}

TEST_F(Hostile, FewerSignersThanTheThresholdYieldNoSignature) {
  const SignRequest two = make_request({0, 2}, rng, false);  // threshold is 3
  auto sig = run(dealt, 0, two, rng);
  ASSERT_FALSE(sig);
  EXPECT_TRUE(has(sig.error().message, "fewer than the threshold")) << sig.error().message;
}

TEST_F(Hostile, AbortsEndTheSessionOnlyFromThoseEntitledToSendThem) {
  Session s = open_session(dealt, 2, request, rng);
  auto package = round_one(s, rng);
  ASSERT_TRUE(package);

  // A signer accepts an abort only from its coordinator.
  const Abort from_peer = make_abort(request.session, "I give up");
  auto refused = s.signers.at(0).on_abort(3, from_peer);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(has(refused.error().message, "participant 3"));
  ASSERT_TRUE(s.signers.at(0).on_abort(2, from_peer));
  EXPECT_EQ(s.signers.at(0).state(), SignerState::kAborted);
  auto after = s.signers.at(0).on_signing_package(2, *package);
  ASSERT_FALSE(after);
  EXPECT_TRUE(has(after.error().message, "aborted"));

  // The coordinator: an abort from a signer fails the session, naming it.
  EXPECT_FALSE(s.coordinator.on_abort(4, from_peer)) << "not a signer";
  const Abort a = s.signers.at(3).abort("deadline passed");
  auto step = s.coordinator.handle(3, wire(a));
  ASSERT_TRUE(step);
  EXPECT_EQ(s.coordinator.state(), CoordinatorState::kFailed);
  ASSERT_TRUE(s.coordinator.failure());
  EXPECT_TRUE(has(s.coordinator.failure()->message, "participant 3 aborted: deadline passed"));
}

TEST_F(Hostile, ConstructionRefusesSetsWithoutTheParticipantsAndPhasesOutOfOrder) {
  auto not_member = Signer::create(4, 2, dealt.keys.at(4), request);
  ASSERT_FALSE(not_member);
  EXPECT_TRUE(has(not_member.error().message, "participant 4 is not in the request's signer set"));
  EXPECT_FALSE(Signer::create(0, 4, dealt.keys.at(0), request)) << "coordinator outside the set";
  EXPECT_FALSE(Signer::create(0, 0, dealt.keys.at(0), request)) << "its own coordinator";
  EXPECT_FALSE(Coordinator::create(1, dealt.keys.at(1), request));
  SignRequest unsorted = request;
  std::swap(unsorted.signers[0], unsorted.signers[1]);
  EXPECT_FALSE(Coordinator::create(2, dealt.keys.at(2), unsorted));

  auto c = Coordinator::create(2, dealt.keys.at(2), request);
  ASSERT_TRUE(c);
  auto early = c->on_commitment(0, Commitment{request.session, {}, {}, {}});
  ASSERT_FALSE(early);
  EXPECT_TRUE(has(early.error().message, "the session is created"));
  ASSERT_TRUE(c->start(rng.source()));
  EXPECT_FALSE(c->start(rng.source())) << "started twice";
  EXPECT_FALSE(c->on_signature_share(0, SignatureShare{request.session, {}})) << "share before the package";
}

}  // namespace
}  // namespace mpc::threshold
