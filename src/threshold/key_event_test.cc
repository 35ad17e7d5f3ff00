#include "threshold/key_event.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/threshold/frost_testing.h"
#include "threshold/curve.h"
#include "threshold/key_event_messages.h"

namespace mpc::threshold {
namespace {

using core::Bytes;
using testing::test_seed;
using testing::TestRandom;

const KeyCurve kCurves[] = {KeyCurve::kEd25519, KeyCurve::kSecp256k1};

SessionId session_id(std::uint8_t fill) {
  SessionId s;
  s.fill(fill);
  return s;
}

std::vector<std::uint64_t> first_ids(std::size_t n) {
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(i);
  return ids;
}

struct Envelope {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  Bytes payload;
};

KeyEventMessageType type_of(const Bytes& payload) { return static_cast<KeyEventMessageType>(payload.at(1)); }

// The sessions of one key event and a mesh between them. `filter` sees
// every message before delivery: it may rewrite it, or drop it (false).
// Every refusal is recorded: an honest run has none.
//
// A puppet is a participant the test plays by hand (a malicious one): its
// session only deals (its start() goes out, through the filter); nothing is
// delivered to it, and what it says afterwards the test injects.
struct Network {
  std::map<std::uint64_t, KeyEventSession> sessions;
  std::vector<std::uint64_t> ids;
  std::set<std::uint64_t> puppets;
  std::deque<Envelope> queue;
  std::function<bool(Envelope&)> filter;
  std::vector<std::string> refusals;
  std::map<std::uint64_t, std::size_t> sent_bytes;
  // The first broadcast of each type by each sender, as sent.
  std::map<std::pair<std::uint64_t, KeyEventMessageType>, Bytes> broadcasts;

  std::vector<std::uint64_t> honest() const {
    std::vector<std::uint64_t> out;
    for (std::uint64_t id : ids) {
      if (!puppets.contains(id)) out.push_back(id);
    }
    return out;
  }
  // `payload` broadcast as if by `from`, then delivered.
  void inject(std::uint64_t from, const Bytes& payload) {
    for (std::uint64_t to : ids) {
      if (to != from) queue.push_back(Envelope{from, to, payload});
    }
    run();
  }
  const Bytes& broadcast_of(std::uint64_t from, KeyEventMessageType type) const {
    return broadcasts.at({from, type});
  }

  void post(std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      if (!o.to) broadcasts.emplace(std::pair{from, type_of(o.payload)}, o.payload);
      if (o.to) {
        sent_bytes[from] += o.payload.size();
        queue.push_back(Envelope{from, *o.to, o.payload});
        continue;
      }
      for (std::uint64_t to : ids) {
        if (to == from) continue;
        sent_bytes[from] += o.payload.size();
        queue.push_back(Envelope{from, to, o.payload});
      }
    }
  }
  void run() {
    while (!queue.empty()) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      if (puppets.contains(e.to)) continue;
      if (filter && !filter(e)) continue;
      auto out = sessions.at(e.to).on_message(e.from, e.payload);
      if (!out) {
        refusals.push_back(out.error().message);
        continue;
      }
      post(e.to, std::move(*out));
    }
  }
  void start() {
    for (auto& [id, s] : sessions) post(id, s.start());
    run();
  }
  void timeout() {
    for (auto& [id, s] : sessions) post(id, s.on_complaint_timeout());
    run();
  }
  bool all_done() const {
    for (std::uint64_t id : honest()) {
      if (!sessions.at(id).done()) return false;
    }
    return true;
  }
  bool all_failed() const {
    for (std::uint64_t id : honest()) {
      if (!sessions.at(id).failure() || sessions.at(id).done()) return false;
    }
    return true;
  }
  const KeyEventOutput& out(std::uint64_t id) const { return *sessions.at(id).output(); }
};

KeyEventSetup keygen_setup(KeyCurve curve, const std::vector<std::uint64_t>& ids, std::size_t t, std::uint64_t self) {
  KeyEventSetup s;
  s.curve = curve;
  s.kind = KeyEventKind::kKeygen;
  s.session = session_id(0x11);
  s.self = self;
  s.participants = ids;
  s.threshold = t;
  return s;
}

void add_keygen(Network& net, KeyCurve curve, const std::vector<std::uint64_t>& ids, std::size_t t, TestRandom& rng) {
  net.ids = ids;
  for (std::uint64_t id : ids) {
    auto s = KeyEventSession::create(keygen_setup(curve, ids, t, id), rng.source());
    ASSERT_TRUE(s.has_value()) << s.error().message;
    net.sessions.emplace(id, std::move(*s));
  }
}

// The shares of a finished key event, by participant.
std::map<std::uint64_t, core::SecretBytes> shares_of(const Network& net) {
  std::map<std::uint64_t, core::SecretBytes> out;
  for (std::uint64_t id : net.honest()) out.emplace(id, net.out(id).share.clone());
  return out;
}

// Test-only: Lagrange interpolation at 0 of the given shares, then ·G.
CurvePoint reconstructed_key(const Curve& curve, const std::map<std::uint64_t, const core::SecretBytes*>& shares) {
  std::vector<CurveScalar> xs;
  for (const auto& [id, s] : shares) xs.push_back(curve.participant_x(id));
  CurveScalar secret;
  for (const auto& [id, s] : shares) {
    auto lambda = curve.lagrange_at_zero(xs, curve.participant_x(id));
    EXPECT_TRUE(lambda.has_value());
    auto y = curve.decode_scalar(s->view());
    EXPECT_TRUE(y.has_value());
    secret = curve.add(secret, curve.mul(*lambda, *y));
  }
  return curve.base_mul(secret);
}

// Every subset of `ids` of size k.
void subsets(const std::vector<std::uint64_t>& ids, std::size_t k, std::size_t from, std::vector<std::uint64_t>& cur,
             std::vector<std::vector<std::uint64_t>>& out) {
  if (cur.size() == k) {
    out.push_back(cur);
    return;
  }
  for (std::size_t i = from; i < ids.size(); ++i) {
    cur.push_back(ids[i]);
    subsets(ids, k, i + 1, cur, out);
    cur.pop_back();
  }
}

// Every participant agrees on the key; every t-subset of the shares
// reconstructs it; no (t-1)-subset does.
void expect_consistent(const Network& net, KeyCurve curve, std::size_t t) {
  const Curve& c = Curve::of(curve);
  ASSERT_TRUE(net.all_done());
  const std::vector<std::uint64_t> ids = net.honest();
  const Bytes& key = net.out(ids.front()).group_key;
  ASSERT_EQ(key.size(), c.point_size());
  ASSERT_TRUE(c.decode_point(key).has_value());
  for (std::uint64_t id : ids) {
    EXPECT_EQ(net.out(id).group_key, key) << "participant " << id;
    EXPECT_EQ(net.out(id).share.size(), 32u);
  }
  auto shares = shares_of(net);
  for (std::size_t k : {t, t - 1}) {
    std::vector<std::vector<std::uint64_t>> sets;
    std::vector<std::uint64_t> cur;
    subsets(ids, k, 0, cur, sets);
    for (const auto& set : sets) {
      std::map<std::uint64_t, const core::SecretBytes*> chosen;
      for (std::uint64_t id : set) chosen[id] = &shares.at(id);
      if (k == t) {
        EXPECT_EQ(reconstructed_key(c, chosen), key) << "a " << t << "-subset does not reconstruct the key";
      } else {
        EXPECT_NE(reconstructed_key(c, chosen), key) << "a " << k << "-subset reconstructs the key";
      }
    }
  }
}

Bytes tweak_share(KeyCurve curve, const Bytes& payload) {
  auto m = decode_key_event_message(payload);
  EXPECT_TRUE(m.has_value());
  auto& share = std::get<ShareMessage>(*m);
  const Curve& c = Curve::of(curve);
  share.share = c.add(share.share, c.from_u64(1));
  return *encode_key_event_message(*m);
}

// "<curve> seed <seed>", for SCOPED_TRACE.
std::string trace(KeyCurve curve, std::uint64_t seed) {
  return std::string(key_curve_name(curve)) + " seed " + std::to_string(seed);
}

// Runs `body` once per curve, under a trace naming the curve and the seed,
// with a TestRandom of that seed; stops at the first fatal failure, as an
// ASSERT in a loop over the curves would.
void for_each_curve(const std::function<void(KeyCurve curve, std::uint64_t seed, TestRandom& rng)>& body) {
  const std::uint64_t seed = test_seed();
  for (KeyCurve curve : kCurves) {
    SCOPED_TRACE(trace(curve, seed));
    TestRandom rng(seed);
    body(curve, seed, rng);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// A keygen of `ids` with threshold t, run to its end.
void run_keygen(Network& net, KeyCurve curve, const std::vector<std::uint64_t>& ids, std::size_t t, TestRandom& rng) {
  ASSERT_NO_FATAL_FAILURE(add_keygen(net, curve, ids, t, rng));
  net.start();
  ASSERT_TRUE(net.all_done());
}

// A Network filter: dealer `from`'s share to `to` arrives one more than it
// was dealt (so `to` complains against `from`).
std::function<bool(Envelope&)> bad_share(KeyCurve curve, std::uint64_t from, std::uint64_t to) {
  return [curve, from, to](Envelope& e) {
    if (e.from == from && e.to == to && type_of(e.payload) == KeyEventMessageType::kShare) {
      e.payload = tweak_share(curve, e.payload);
    }
    return true;
  };
}

// Dealer `cheat`, a puppet, sends `victim` a bad share, then echoes what
// `honest` echoed; what `cheat` says next (its answer to `victim`'s
// complaint, its confirmation) is the test's.
void start_with_a_bad_share(Network& net, KeyCurve curve, std::uint64_t cheat, std::uint64_t victim,
                            std::uint64_t honest) {
  net.puppets = {cheat};
  net.filter = bad_share(curve, cheat, victim);
  net.start();
  net.inject(cheat, net.broadcast_of(honest, KeyEventMessageType::kEcho));
}

// A Reveal in session `session` of one share: `participant`'s, the scalar `value`.
Bytes reveal_of(KeyCurve curve, std::uint8_t session, std::uint64_t participant, std::uint64_t value) {
  const Curve& c = Curve::of(curve);
  auto bytes = encode_key_event_message(
      RevealMessage{session_id(session), curve, {RevealEntry{participant, c.from_u64(value)}}});
  EXPECT_TRUE(bytes.has_value()) << bytes.error().message;
  return bytes.value_or(Bytes{});
}

// Every honest participant finished, excluding exactly `dealers`.
void expect_excluded(const Network& net, const std::vector<std::uint64_t>& dealers) {
  for (std::uint64_t id : net.honest()) EXPECT_EQ(net.out(id).excluded_dealers, dealers) << "participant " << id;
}

// Every honest participant failed with `reason` in its failure and has no
// output; when `blamed` is given, each blames that participant.
void expect_all_failed(const Network& net, const std::string& reason,
                       std::optional<std::uint64_t> blamed = std::nullopt) {
  ASSERT_TRUE(net.all_failed());
  for (std::uint64_t id : net.honest()) {
    const auto& s = net.sessions.at(id);
    EXPECT_NE(s.failure()->find(reason), std::string::npos) << "participant " << id << ": " << *s.failure();
    EXPECT_EQ(s.output(), nullptr) << "participant " << id;
    if (blamed) {
      EXPECT_EQ(s.blamed(), blamed) << "participant " << id;
    }
  }
}

// ---- keygen ----

TEST(KeyEventKeygen, EveryThresholdSubsetReconstructsTheGroupKey) {
  const std::uint64_t seed = test_seed();
  for (KeyCurve curve : kCurves) {
    for (auto [n, t] : std::vector<std::pair<std::size_t, std::size_t>>{{2, 2}, {3, 2}, {4, 3}, {5, 3}, {6, 6}}) {
      SCOPED_TRACE(std::string(key_curve_name(curve)) + " " + std::to_string(t) + "-of-" + std::to_string(n) +
                   " seed " + std::to_string(seed));
      TestRandom rng(seed);
      Network net;
      add_keygen(net, curve, first_ids(n), t, rng);
      net.start();
      EXPECT_TRUE(net.refusals.empty()) << net.refusals.front();
      ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, t));
      expect_excluded(net, {});
    }
  }
}

TEST(KeyEventKeygen, SparseParticipantIdsWork) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, {3, 17, 40, UINT64_MAX}, 3, rng);
    net.start();
    EXPECT_TRUE(net.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, 3));
  });
}

TEST(KeyEventKeygen, TwoRunsWithOtherRandomnessGiveOtherKeys) {
  const std::uint64_t seed = test_seed();
  for (KeyCurve curve : kCurves) {
    TestRandom a(seed), b(seed + 1);
    Network na, nb;
    ASSERT_NO_FATAL_FAILURE(run_keygen(na, curve, first_ids(3), 2, a));
    ASSERT_NO_FATAL_FAILURE(run_keygen(nb, curve, first_ids(3), 2, b));
    EXPECT_NE(na.out(0).group_key, nb.out(0).group_key);
  }
}

TEST(KeyEventKeygen, EquivocatingDealerFailsTheSessionAtEcho) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(4), 3, rng);
    // Dealer 1 deals a second polynomial to participant 2 only.
    TestRandom other(seed ^ 0x5a5a);
    auto twin = KeyEventSession::create(keygen_setup(curve, net.ids, 3, 1), other.source());
    ASSERT_TRUE(twin.has_value());
    std::map<std::uint64_t, Bytes> twin_out;  // to -> payload; nullopt key 99 = the broadcast
    for (auto& o : twin->start()) twin_out[o.to ? *o.to : 99] = o.payload;
    net.filter = [&](Envelope& e) {
      if (e.from == 1 && e.to == 2) {
        if (type_of(e.payload) == KeyEventMessageType::kCommitments) e.payload = twin_out.at(99);
        if (type_of(e.payload) == KeyEventMessageType::kShare) e.payload = twin_out.at(2);
      }
      return true;
    };
    net.start();
    EXPECT_TRUE(net.refusals.empty());
    ASSERT_TRUE(net.all_failed());
    // Participant 2 sees dealer 1's own echo contradict what it was sent.
    EXPECT_EQ(net.sessions.at(2).blamed(), std::optional<std::uint64_t>(1));
    EXPECT_NE(net.sessions.at(2).failure()->find("dealer 1 equivocated"), std::string::npos)
        << *net.sessions.at(2).failure();
    // The others see participant 2's echo disagree about dealer 1.
    EXPECT_NE(net.sessions.at(0).failure()->find("dealer 1"), std::string::npos) << *net.sessions.at(0).failure();
    for (std::uint64_t id : net.ids) EXPECT_EQ(net.sessions.at(id).output(), nullptr);
  });
}

TEST(KeyEventKeygen, BadShareIsResolvedByARevealOfTheGoodShare) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(4), 3, rng);
    int reveals = 0;
    net.filter = [&, tweak = bad_share(curve, 1, 0)](Envelope& e) {
      if (type_of(e.payload) == KeyEventMessageType::kReveal) {
        EXPECT_EQ(e.from, 1u);
        ++reveals;
      }
      return tweak(e);
    };
    net.start();
    EXPECT_TRUE(net.refusals.empty());
    EXPECT_EQ(reveals, 3);  // dealer 1 answered participant 0's complaint, to everyone
    ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, 3));
    expect_excluded(net, {});
  });
}

TEST(KeyEventKeygen, DealerWithABadRevealIsExcludedAndEveryoneAgrees) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(4), 2, rng);
    // Dealer 1 (played by hand) sends participant 0 a bad share, then
    // answers 0's complaint with another bad share, and otherwise echoes
    // and confirms what the honest participants do.
    start_with_a_bad_share(net, curve, 1, 0, 2);
    net.inject(1, reveal_of(curve, 0x11, 0, 42));
    net.inject(1, net.broadcast_of(2, KeyEventMessageType::kConfirm));
    EXPECT_TRUE(net.refusals.empty()) << net.refusals.front();
    ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, 2));
    expect_excluded(net, {1});
  });
}

TEST(KeyEventKeygen, DealerThatDoesNotAnswerIsExcludedAtTheTimeout) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(5), 3, rng);
    start_with_a_bad_share(net, curve, 3, 4, 0);
    EXPECT_TRUE(net.refusals.empty());
    for (std::uint64_t id : net.honest()) {
      const auto& s = net.sessions.at(id);
      EXPECT_FALSE(s.done()) << "participant " << id << " finished without dealer 3's answer";
      EXPECT_FALSE(s.failure());
    }
    net.timeout();
    net.inject(3, net.broadcast_of(0, KeyEventMessageType::kConfirm));
    EXPECT_TRUE(net.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, 3));
    expect_excluded(net, {3});
    // A late answer is refused.
    auto r = net.sessions.at(0).on_message(3, reveal_of(curve, 0x11, 4, 1));
    EXPECT_FALSE(r.has_value());
    // The key is the other dealers' alone: not the key of the same run without exclusion.
    TestRandom again(seed);
    Network honest;
    ASSERT_NO_FATAL_FAILURE(run_keygen(honest, curve, first_ids(5), 3, again));
    EXPECT_NE(honest.out(0).group_key, net.out(0).group_key);
  });
}

TEST(KeyEventKeygen, BadProofOfKnowledgeExcludesTheDealer) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(4), 2, rng);
    net.puppets = {2};
    net.filter = [&](Envelope& e) {
      if (e.from == 2 && type_of(e.payload) == KeyEventMessageType::kCommitments) {
        auto m = decode_key_event_message(e.payload);
        auto& c = std::get<CommitmentsMessage>(*m);
        const Curve& cv = Curve::of(curve);
        c.proof->z = cv.add(c.proof->z, cv.from_u64(1));
        e.payload = *encode_key_event_message(*m);
      }
      return true;
    };
    net.start();
    net.inject(2, net.broadcast_of(0, KeyEventMessageType::kEcho));
    net.inject(2, net.broadcast_of(0, KeyEventMessageType::kConfirm));
    EXPECT_TRUE(net.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_consistent(net, curve, 2));
    expect_excluded(net, {2});
  });
}

TEST(KeyEventKeygen, FewerQualifiedDealersThanTheThresholdFails) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network net;
    add_keygen(net, curve, first_ids(3), 3, rng);
    start_with_a_bad_share(net, curve, 0, 2, 1);
    net.timeout();
    EXPECT_TRUE(net.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_all_failed(net, "fewer than the threshold 3", 0));
  });
}

// ---- refusals ----

TEST(KeyEventSession, RefusedMessagesChangeNothing) {
  const std::uint64_t seed = test_seed();
  for (KeyCurve curve : kCurves) {
    SCOPED_TRACE(trace(curve, seed));
    // The control run: same randomness, no hostile messages.
    TestRandom control_rng(seed);
    Network control;
    ASSERT_NO_FATAL_FAILURE(run_keygen(control, curve, first_ids(3), 2, control_rng));

    TestRandom rng(seed);
    Network net;
    add_keygen(net, curve, first_ids(3), 2, rng);
    // Collect round one without delivering it.
    for (auto& [id, s] : net.sessions) net.post(id, s.start());
    KeyEventSession& target = net.sessions.at(0);
    Bytes commitments_1, share_1;
    for (const auto& e : net.queue) {
      if (e.from == 1 && e.to == 0 && type_of(e.payload) == KeyEventMessageType::kCommitments) commitments_1 = e.payload;
      if (e.from == 1 && e.to == 0 && type_of(e.payload) == KeyEventMessageType::kShare) share_1 = e.payload;
    }
    ASSERT_FALSE(commitments_1.empty());
    ASSERT_FALSE(share_1.empty());
    const auto refused = [&](std::uint64_t from, const Bytes& payload, const std::string& expected) {
      auto r = target.on_message(from, payload);
      ASSERT_FALSE(r.has_value()) << "accepted: expected a refusal naming '" << expected << "'";
      EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
      EXPECT_NE(r.error().message.find(expected), std::string::npos) << r.error().message;
    };
    refused(1, Bytes{1, 2, 3}, "shorter than");
    refused(99, commitments_1, "participant 99");
    refused(0, commitments_1, "ourselves");
    Bytes truncated(commitments_1.begin(), commitments_1.end() - 1);
    refused(1, truncated, "Commitments");
    Bytes trailing = commitments_1;
    trailing.push_back(0);
    refused(1, trailing, "trailing");
    Bytes bad_point = commitments_1;
    // The first coefficient commitment: the identity (Ed25519) / no SEC1 prefix (secp256k1).
    if (curve == KeyCurve::kEd25519) {
      std::fill_n(bad_point.begin() + kKeyEventHeaderSize + 1, 32, 0);
      bad_point[kKeyEventHeaderSize + 1] = 1;
    } else {
      bad_point[kKeyEventHeaderSize + 1] = 0x05;
    }
    refused(1, bad_point, "Commitments");
    Bytes other_session = commitments_1;
    other_session[2] ^= 1;
    refused(1, other_session, "another session");
    ConfirmMessage other_curve{session_id(0x11),
                               curve == KeyCurve::kEd25519 ? KeyCurve::kSecp256k1 : KeyCurve::kEd25519, {}};
    refused(1, *encode_key_event_message(other_curve), "this key event is");
    Bytes non_canonical = share_1;
    std::fill(non_canonical.begin() + kKeyEventHeaderSize, non_canonical.end(), 0xff);
    refused(1, non_canonical, "Share");
    // A signing message is not a key event message.
    auto signing = encode_message(make_abort(session_id(0x11), "no"));
    ASSERT_TRUE(signing.has_value());
    refused(1, *signing, "type 5");
    // Duplicates: the first copy is accepted, the second refused.
    ASSERT_TRUE(target.on_message(1, commitments_1).has_value());
    refused(1, commitments_1, "duplicate Commitments from dealer 1");
    ASSERT_TRUE(target.on_message(1, share_1).has_value());
    refused(1, share_1, "duplicate Share from dealer 1");
    // Deliver the rest (the two accepted above are now duplicates, refused).
    net.run();
    EXPECT_EQ(net.refusals.size(), 2u);
    ASSERT_TRUE(net.all_done());
    for (std::uint64_t id : net.ids) {
      EXPECT_EQ(net.out(id).group_key, control.out(id).group_key);
      EXPECT_TRUE(net.out(id).share == control.out(id).share);
    }
    // A finished session refuses everything.
    auto late = target.on_message(1, commitments_1);
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code, core::ErrorCode::kFailedPrecondition);
  }
}

TEST(KeyEventSession, SetupIsChecked) {
  TestRandom rng(test_seed());
  const auto refused = [&](KeyEventSetup s, const std::string& expected) {
    auto r = KeyEventSession::create(std::move(s), rng.source());
    ASSERT_FALSE(r.has_value()) << "accepted: expected '" << expected << "'";
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << r.error().message;
  };
  refused(keygen_setup(KeyCurve::kEd25519, {0, 1, 2}, 1, 0), "threshold 1");
  refused(keygen_setup(KeyCurve::kEd25519, {0, 1, 2}, 4, 0), "threshold 4");
  refused(keygen_setup(KeyCurve::kEd25519, {0, 1, 2}, 2, 5), "self (5)");
  refused(keygen_setup(KeyCurve::kEd25519, {0, 2, 1}, 2, 0), "not strictly ascending");
  refused(keygen_setup(KeyCurve::kEd25519, {0}, 2, 0), "1 participants");
  auto with_dealers = keygen_setup(KeyCurve::kEd25519, {0, 1, 2}, 2, 0);
  with_dealers.dealers = {0, 1};
  refused(std::move(with_dealers), "a keygen takes no dealers");
  for (KeyCurve curve : kCurves) {
    const Curve& c = Curve::of(curve);
    KeyEventSetup r;
    r.curve = curve;
    r.kind = KeyEventKind::kReshare;
    r.session = session_id(7);
    r.self = 0;
    r.participants = {0, 1, 2};
    r.threshold = 2;
    r.dealers = {0, 1};
    r.old_threshold = 2;
    r.old_group_key = c.base_mul(c.from_u64(5));
    r.old_share = core::SecretBytes(c.from_u64(3).view());
    auto ok = KeyEventSession::create(
        KeyEventSetup{r.curve, r.kind, r.session, r.self, r.participants, r.threshold, r.dealers, r.old_threshold,
                      r.old_share->clone(), r.old_group_key},
        rng.source());
    EXPECT_TRUE(ok.has_value()) << ok.error().message;
    auto copy = [&] {
      return KeyEventSetup{r.curve, r.kind, r.session, r.self, r.participants, r.threshold, r.dealers, r.old_threshold,
                           r.old_share->clone(), r.old_group_key};
    };
    auto s = copy();
    s.old_share.reset();
    refused(std::move(s), "has no old share");
    s = copy();
    s.old_share = core::SecretBytes(std::vector<std::uint8_t>(32, 0xff));
    refused(std::move(s), "old share");
    s = copy();
    s.old_share = core::SecretBytes(std::vector<std::uint8_t>(32, 0));
    refused(std::move(s), "old share is zero");
    s = copy();
    s.old_group_key = c.identity();
    refused(std::move(s), "old group key");
    s = copy();
    s.dealers = {0, 5};
    refused(std::move(s), "dealer 5 is not a participant");
    s = copy();
    s.old_threshold = 3;
    refused(std::move(s), "old threshold 3");
    s = copy();
    s.self = 2;
    refused(std::move(s), "self is not a dealer but has an old share");
  }
}

// ---- resharing ----

KeyEventSetup reshare_setup(KeyCurve curve, const Network& old, std::size_t old_t,
                            const std::vector<std::uint64_t>& dealers, const std::vector<std::uint64_t>& ids,
                            std::size_t t, std::uint64_t self, std::uint8_t session) {
  KeyEventSetup s;
  s.curve = curve;
  s.kind = KeyEventKind::kReshare;
  s.session = session_id(session);
  s.self = self;
  s.participants = ids;
  s.threshold = t;
  s.dealers = dealers;
  s.old_threshold = old_t;
  s.old_group_key = old.out(old.ids.front()).group_key;
  if (std::find(dealers.begin(), dealers.end(), self) != dealers.end()) s.old_share = old.out(self).share.clone();
  return s;
}

void add_reshare(Network& net, KeyCurve curve, const Network& old, std::size_t old_t,
                 const std::vector<std::uint64_t>& dealers, const std::vector<std::uint64_t>& ids, std::size_t t,
                 TestRandom& rng, std::uint8_t session = 0x22) {
  net.ids = ids;
  for (std::uint64_t id : ids) {
    auto s = KeyEventSession::create(reshare_setup(curve, old, old_t, dealers, ids, t, id, session), rng.source());
    ASSERT_TRUE(s.has_value()) << s.error().message;
    net.sessions.emplace(id, std::move(*s));
  }
}

TEST(KeyEventReshare, ToALargerSetAndThresholdKeepsTheGroupKey) {
  const std::uint64_t seed = test_seed();
  for (KeyCurve curve : kCurves) {
    for (const std::vector<std::uint64_t>& dealers : {std::vector<std::uint64_t>{0, 1}, {0, 2}, {0, 1, 2}}) {
      SCOPED_TRACE(std::string(key_curve_name(curve)) + " seed " + std::to_string(seed) + " dealers " +
                   std::to_string(dealers.size()));
      TestRandom rng(seed);
      Network old;
      ASSERT_NO_FATAL_FAILURE(run_keygen(old, curve, first_ids(3), 2, rng));
      Network next;
      add_reshare(next, curve, old, 2, dealers, first_ids(4), 3, rng);
      next.start();
      EXPECT_TRUE(next.refusals.empty()) << next.refusals.front();
      for (const auto& [id, s] : next.sessions) EXPECT_FALSE(s.failure()) << *s.failure();
      ASSERT_NO_FATAL_FAILURE(expect_consistent(next, curve, 3));
      EXPECT_EQ(next.out(3).group_key, old.out(0).group_key);
      // Old and new shares do not combine: new shares of 0 and 1 with the old
      // share of 2 reconstruct something else.
      const Curve& c = Curve::of(curve);
      auto fresh = shares_of(next);
      auto stale = shares_of(old);
      EXPECT_FALSE(fresh.at(2) == stale.at(2));
      std::map<std::uint64_t, const core::SecretBytes*> mixed{
          {0, &fresh.at(0)}, {1, &fresh.at(1)}, {2, &stale.at(2)}};
      EXPECT_NE(reconstructed_key(c, mixed), old.out(0).group_key);
      std::map<std::uint64_t, const core::SecretBytes*> old_pair{{0, &stale.at(0)}, {1, &fresh.at(1)}};
      EXPECT_NE(reconstructed_key(c, old_pair), old.out(0).group_key);
    }
  }
}

TEST(KeyEventReshare, RefreshChangesTheSharesButNotTheKey) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network old;
    ASSERT_NO_FATAL_FAILURE(run_keygen(old, curve, first_ids(4), 3, rng));
    Network next;
    add_reshare(next, curve, old, 3, first_ids(4), first_ids(4), 3, rng);
    next.start();
    EXPECT_TRUE(next.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_consistent(next, curve, 3));
    for (std::uint64_t id : next.ids) {
      EXPECT_EQ(next.out(id).group_key, old.out(id).group_key);
      EXPECT_FALSE(next.out(id).share == old.out(id).share) << "participant " << id << "'s share did not change";
    }
  });
}

TEST(KeyEventReshare, DealerWithAWrongConstantTermFailsTheSumCheck) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network old;
    ASSERT_NO_FATAL_FAILURE(run_keygen(old, curve, first_ids(3), 2, rng));
    Network next;
    next.ids = first_ids(3);
    for (std::uint64_t id : next.ids) {
      KeyEventSetup s = reshare_setup(curve, old, 2, {0, 1}, next.ids, 2, id, 0x33);
      if (id == 1) {  // dealer 1 deals from a share that is not its own
        const Curve& c = Curve::of(curve);
        auto share = c.decode_scalar(s.old_share->view());
        s.old_share = core::SecretBytes(c.add(*share, c.from_u64(1)).view());
      }
      auto session = KeyEventSession::create(std::move(s), rng.source());
      ASSERT_TRUE(session.has_value());
      next.sessions.emplace(id, std::move(*session));
    }
    next.start();
    EXPECT_TRUE(next.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_all_failed(next, "do not add up to the old group key"));
  });
}

TEST(KeyEventReshare, ExcludedDealerFailsTheReshareNamingIt) {
  for_each_curve([](KeyCurve curve, std::uint64_t seed, TestRandom& rng) {
    Network old;
    ASSERT_NO_FATAL_FAILURE(run_keygen(old, curve, first_ids(3), 2, rng));
    Network next;
    add_reshare(next, curve, old, 2, {0, 1, 2}, first_ids(4), 2, rng);
    start_with_a_bad_share(next, curve, 2, 3, 0);
    next.inject(2, reveal_of(curve, 0x22, 3, 42));
    EXPECT_TRUE(next.refusals.empty());
    ASSERT_NO_FATAL_FAILURE(expect_all_failed(next, "dealer 2 is excluded", 2));
  });
}

TEST(KeyEventReshare, NonDealerCannotDeal) {
  const std::uint64_t seed = test_seed();
  TestRandom rng(seed);
  Network old;
  ASSERT_NO_FATAL_FAILURE(run_keygen(old, KeyCurve::kEd25519, first_ids(3), 2, rng));
  Network next;
  add_reshare(next, KeyCurve::kEd25519, old, 2, {0, 1}, first_ids(3), 2, rng);
  // Participant 2 (not a dealer) sends what a dealer would.
  std::vector<Outgoing> forged = next.sessions.at(0).start();
  ASSERT_FALSE(forged.empty());
  auto r = next.sessions.at(1).on_message(2, forged.front().payload);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("participant 2, who is not a dealer"), std::string::npos) << r.error().message;
}

// ---- messages and curves ----

TEST(KeyEventMessages, RoundTripAndRouting) {
  for (KeyCurve curve : kCurves) {
    const Curve& c = Curve::of(curve);
    CommitmentsMessage commitments{session_id(3), curve, {c.base_mul(c.from_u64(2)), c.base_mul(c.from_u64(3))},
                                   ProofOfKnowledge{c.base_mul(c.from_u64(4)), c.from_u64(5)}};
    ShareMessage share{session_id(3), curve, c.from_u64(9)};
    EchoMessage echo{session_id(3), curve, {KeyEventDigest{1}, KeyEventDigest{2}}, {4, 8}};
    RevealMessage reveal{session_id(3), curve, {RevealEntry{1, c.from_u64(6)}, RevealEntry{7, c.from_u64(7)}}};
    ConfirmMessage confirm{session_id(3), curve, KeyEventDigest{9}};
    for (const KeyEventMessage& m : std::vector<KeyEventMessage>{commitments, share, echo, reveal, confirm}) {
      auto bytes = encode_key_event_message(m);
      ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
      EXPECT_TRUE(is_key_event_message(*bytes));
      EXPECT_EQ(key_event_session_of(*bytes), session_id(3));
      auto back = decode_key_event_message(*bytes);
      ASSERT_TRUE(back.has_value()) << back.error().message;
      EXPECT_TRUE(*back == m);
    }
    EchoMessage unordered{session_id(3), curve, {KeyEventDigest{1}}, {8, 4}};
    EXPECT_FALSE(encode_key_event_message(unordered).has_value());
    CommitmentsMessage with_identity{session_id(3), curve, {c.identity(), c.base_mul(c.from_u64(3))}, std::nullopt};
    EXPECT_FALSE(encode_key_event_message(with_identity).has_value());
  }
  auto signing = encode_message(make_abort(session_id(1), "x"));
  ASSERT_TRUE(signing.has_value());
  EXPECT_FALSE(is_key_event_message(*signing));
  EXPECT_FALSE(key_event_session_of(*signing).has_value());
  EXPECT_FALSE(is_key_event_message(Bytes{}));
}

TEST(KeyEventCurve, KnownGeneratorsAndArithmetic) {
  // Ed25519's base point and secp256k1's G (SEC 2), compressed.
  const Curve& ed = Curve::of(KeyCurve::kEd25519);
  EXPECT_EQ(core::hex_encode(ed.base_mul(ed.from_u64(1))),
            "5866666666666666666666666666666666666666666666666666666666666666");
  const Curve& k1 = Curve::of(KeyCurve::kSecp256k1);
  EXPECT_EQ(core::hex_encode(k1.base_mul(k1.from_u64(1))),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  // 2G (SEC 2 / well-known).
  EXPECT_EQ(core::hex_encode(k1.base_mul(k1.from_u64(2))),
            "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5");
  for (KeyCurve curve : kCurves) {
    const Curve& c = Curve::of(curve);
    SCOPED_TRACE(c.name());
    const CurveScalar a = c.from_u64(1234567), b = c.from_u64(7654321);
    EXPECT_EQ(c.add(c.base_mul(a), c.base_mul(b)), c.base_mul(c.add(a, b)));
    EXPECT_EQ(c.mul(b, c.base_mul(a)), c.base_mul(c.mul(a, b)));
    EXPECT_EQ(c.mul(c.invert(a), a), c.from_u64(1));
    EXPECT_EQ(c.add(c.sub(a, b), b), a);
    EXPECT_TRUE(c.is_identity(c.base_mul(CurveScalar{})));
    EXPECT_TRUE(c.is_identity(c.add(c.base_mul(a), c.base_mul(c.sub(CurveScalar{}, a)))));
    EXPECT_EQ(c.add(c.identity(), c.base_mul(a)), c.base_mul(a));
    EXPECT_FALSE(c.decode_point(c.identity()).has_value());
    EXPECT_TRUE(c.decode_point(c.base_mul(a)).has_value());
    Bytes wrong = c.base_mul(a);
    wrong.pop_back();
    EXPECT_FALSE(c.decode_point(wrong).has_value());
    EXPECT_FALSE(c.decode_scalar(Bytes(32, 0xff)).has_value());
    // x = id + 1, with 2^64 for the largest id: (2^64 - 1) + 1.
    EXPECT_EQ(c.participant_x(UINT64_MAX), c.add(c.from_u64(UINT64_MAX), c.from_u64(1)));
    // Lagrange at 0 over {1, 2}: 2 and -1.
    std::vector<CurveScalar> xs{c.from_u64(1), c.from_u64(2)};
    EXPECT_EQ(*c.lagrange_at_zero(xs, xs[0]), c.from_u64(2));
    EXPECT_EQ(*c.lagrange_at_zero(xs, xs[1]), c.sub(CurveScalar{}, c.from_u64(1)));
    EXPECT_FALSE(c.lagrange_at_zero(xs, c.from_u64(3)).has_value());
  }
  // secp256k1: the point x = 0 is not on the curve; an uncompressed form is refused.
  Bytes off(33, 0);
  off[0] = 0x02;
  EXPECT_FALSE(k1.decode_point(off).has_value());
  // Ed25519: a small-order point is refused.
  Bytes small(32, 0);  // (0, -1)? y = 0 encodes a point of order 4
  EXPECT_FALSE(ed.decode_point(small).has_value());
}

}  // namespace
}  // namespace mpc::threshold
