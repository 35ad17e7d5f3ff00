// Threshold ECDSA in the node: the presigning service and the signing
// service's DamgardEtAl path together, N nodes wired by an in-memory mesh,
// with a manual clock and real pool files.
#include "node/presign_service.h"
#include "node/signing_service.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <deque>

#include "core/crypto.h"
#include "core/key_derivation.h"
#include "devnet/dealer.h"
#include "model/types.h"
#include "support/manual_clock.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/messages.h"

namespace mpc::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kDomain = 2;

class EcdsaNetwork {
 public:
  EcdsaNetwork(std::size_t n, std::size_t threshold, std::size_t pool_target = 3) : threshold_(threshold), pool_target_(pool_target) {
    dir_ = fs::temp_directory_path() /
           ("mpc-presign-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < n; ++i) ids.push_back(i);
    auto dealt = devnet::deal(model::CurveKind::kSecp256k1, kDomain, ids, threshold, epoch_, 0);
    EXPECT_TRUE(dealt) << dealt.error().message;
    auto group = model::keyshare_group_key(dealt->key.key);
    EXPECT_TRUE(group) << group.error().message;
    group_ = *group;
    for (std::size_t i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<Node>());
      nodes_[i]->share = dealt->shares[i].clone();
      nodes_[i]->key = core::SecretBytes(32);
      core::random_fill(nodes_[i]->key.mutable_view());
      start(i);
    }
  }
  ~EcdsaNetwork() { fs::remove_all(dir_); }

  // Node i on a new machine: its services start without any pool file.
  void new_machine(std::size_t i) {
    nodes_[i]->signing.reset();
    nodes_[i]->presign.reset();
    fs::remove_all(dir_ / ("node" + std::to_string(i)));
    start(i);
  }

  // (Re)creates node i's services from its pool files, as a restart does.
  void start(std::size_t i) {
    Node& node = *nodes_[i];
    node.signing.reset();
    node.presign.reset();
    PresignPorts pp;
    pp.send = [this, i](std::uint64_t to, core::Bytes bytes) { return post(i, to, std::move(bytes)); };
    pp.reachable = [this, i] { return reachable(i); };
    pp.key_share = [&node](std::uint64_t domain) -> core::Result<core::SecretBytes> {
      if (domain != kDomain) return core::invalid("no share of domain " + std::to_string(domain));
      auto bytes = core::hex_decode(node.share.private_share.reveal());
      return core::SecretBytes::take(*bytes);
    };
    PresignOptions po;
    po.pool_target = pool_target_;
    po.max_pool_per_owner = 8;
    node.presign = std::make_unique<PresignService>(std::move(pp), po, dir_ / ("node" + std::to_string(i)), node.key.clone(), clock_,
                                                    node.metrics, seeded_random(i, node.restarts));
    SigningPorts sp;
    sp.send = [this, i](std::uint64_t to, core::Bytes bytes) { return post(i, to, std::move(bytes)); };
    sp.reachable = [this, i] { return reachable(i); };
    sp.key_package = [](std::uint64_t) -> core::Result<threshold::KeyPackage> { return core::invalid("no Ed25519 domain here"); };
    PresignService* presign = node.presign.get();
    sp.take_own_presignature = [presign](std::uint64_t d, const std::set<std::uint64_t>& r) { return presign->take_own(d, r); };
    sp.take_presignature = [presign](std::uint64_t d, const threshold::SessionId& id, std::uint64_t owner,
                                     const std::vector<std::uint64_t>& signers) { return presign->take_for(d, id, owner, signers); };
    sp.respond = [this, i](const PendingSignature& request, const core::SignatureResponse& response) {
      ASSERT_TRUE(std::holds_alternative<core::Secp256k1SignatureResponse>(response));
      responses_.push_back({i, request, std::get<core::Secp256k1SignatureResponse>(response)});
    };
    sp.refresh_chain = [] {};
    SigningOptions so;
    so.retry_delay = 500ms;
    node.signing = std::make_unique<SigningService>(std::move(sp), so, clock_, node.metrics, seeded_random(i + 1000, node.restarts));
    ++node.restarts;
  }

  static threshold::RandomSource seeded_random(std::size_t i, std::size_t generation) {
    auto counter = std::make_shared<std::uint64_t>(0);
    return [=](std::span<std::uint8_t, 32> out) {
      const auto h = core::sha256(core::as_bytes("presign-service-test-" + std::to_string(i) + "-" + std::to_string(generation) + "-" +
                                                 std::to_string((*counter)++)));
      std::copy(h.begin(), h.end(), out.begin());
    };
  }

  PresignChainView presign_view(std::size_t i) const {
    PresignChainView v;
    v.running = true;
    v.self = i;
    v.epoch_id = epoch_;
    for (std::size_t j = 0; j < nodes_.size(); ++j) v.participants.push_back(j);
    v.members = members_;
    v.threshold = threshold_;
    v.ecdsa_domains = {kDomain};
    return v;
  }

  SigningChainView signing_view(std::size_t i) const {
    SigningChainView v;
    v.running = true;
    v.self = i;
    for (std::size_t j = 0; j < nodes_.size(); ++j) v.participants.push_back(j);
    v.threshold = threshold_;
    v.ecdsa_domains = {{kDomain, group_}};
    v.pending = pending_;
    return v;
  }

  void chain() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!up(i)) continue;
      nodes_[i]->presign->on_chain(presign_view(i));
      nodes_[i]->signing->on_chain(signing_view(i));
    }
  }

  bool post(std::size_t from, std::uint64_t to, core::Bytes bytes) {
    if (!up(from) || to >= nodes_.size() || !up(to)) return false;
    queue_.push_back({from, static_cast<std::size_t>(to), std::move(bytes)});
    return true;
  }

  std::set<std::uint64_t> reachable(std::size_t i) const {
    std::set<std::uint64_t> out;
    for (std::size_t j = 0; j < nodes_.size(); ++j)
      if (j != i && up(i) && up(j)) out.insert(j);
    return out;
  }

  // Delivers queued messages until none is left (bounded), routing as the
  // runtime does; remembers every presignature a SignRequest names.
  void pump() {
    for (int n = 0; !queue_.empty(); ++n) {
      ASSERT_LT(n, 100'000) << "messages keep flowing";
      auto m = std::move(queue_.front());
      queue_.pop_front();
      if (!up(m.to)) continue;
      if (threshold::is_ecdsa_message(m.bytes) && m.bytes[1] != static_cast<std::uint8_t>(threshold::EcdsaMessageType::kSignShare)) {
        nodes_[m.to]->presign->on_message(m.from, m.bytes);
        continue;
      }
      if (!threshold::is_ecdsa_message(m.bytes)) {
        if (auto decoded = threshold::decode_message(m.bytes)) {
          if (auto* request = std::get_if<threshold::SignRequest>(&*decoded)) sign_requests_.push_back({m.from, m.to, *request});
        }
      }
      nodes_[m.to]->signing->on_message(m.from, m.bytes);
    }
  }

  void tick_all() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!up(i)) continue;
      nodes_[i]->presign->tick();
      nodes_[i]->signing->tick();
    }
  }

  // Ticks and delivers until every pool is full and nothing runs (bounded).
  void fill_pools() {
    for (int round = 0; round < 200; ++round) {
      tick_all();
      pump();
      bool full = true;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (!up(i)) continue;
        full = full && nodes_[i]->presign->owned(kDomain) >= pool_target_ && nodes_[i]->presign->running_sessions() == 0;
      }
      if (full) return;
      clock_.advance(10ms);
    }
    FAIL() << "the pools did not fill";
  }

  void advance(std::chrono::milliseconds by) {
    clock_.advance(by);
    tick_all();
    pump();
  }

  bool up(std::size_t i) const { return !down_.contains(i); }
  void take_down(std::size_t i) { down_.insert(i); }
  void bring_up(std::size_t i) { down_.erase(i); }
  void inject(std::size_t from, std::size_t to, core::Bytes bytes) { queue_.push_back({from, to, std::move(bytes)}); }

  PresignService& presign(std::size_t i) { return *nodes_[i]->presign; }
  SigningService& signing(std::size_t i) { return *nodes_[i]->signing; }
  double counter(std::size_t i, const std::string& name, const net::Labels& labels = {}) {
    return nodes_[i]->metrics.counter(name, "", labels).value();
  }
  const threshold::CurvePoint& group() const { return group_; }
  std::size_t size() const { return nodes_.size(); }
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  void set_members(std::string members) { members_ = std::move(members); }

  struct Response {
    std::size_t by;
    PendingSignature request;
    core::Secp256k1SignatureResponse signature;
  };
  struct SeenSignRequest {
    std::size_t from, to;
    threshold::SignRequest request;
  };
  std::vector<Response> responses_;
  std::vector<SeenSignRequest> sign_requests_;
  std::vector<PendingSignature> pending_;

 private:
  struct Node {
    model::Keyshare share;
    core::SecretBytes key;
    net::MetricsRegistry metrics;
    std::unique_ptr<PresignService> presign;
    std::unique_ptr<SigningService> signing;
    std::size_t restarts = 0;
  };
  struct Queued {
    std::size_t from, to;
    core::Bytes bytes;
  };
  std::size_t threshold_;
  std::size_t pool_target_;
  std::uint64_t epoch_ = 5;
  std::string members_ = "the first machines";
  fs::path dir_;
  threshold::CurvePoint group_;
  testing::ManualClock clock_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<Queued> queue_;
  std::set<std::size_t> down_;
};

PendingSignature ecdsa_request(std::string_view text, std::string_view path = "eth/0") {
  PendingSignature p;
  p.domain_id = kDomain;
  const auto hash = core::sha256(core::as_bytes(text));
  p.payload = core::Bytes(hash.begin(), hash.end());
  p.tweak = core::derive_tweak("alice.near", path);
  p.request.domain_id = kDomain;
  p.request.payload = core::SignPayload{core::SignPayload::Kind::kEcdsa, p.payload};
  p.request.tweak = p.tweak;
  p.request_json = to_json(p.request).dump();
  return p;
}

void expect_valid(const EcdsaNetwork& net, const EcdsaNetwork::Response& r) {
  auto group = core::secp256k1_decompress(net.group());
  ASSERT_TRUE(group) << group.error().message;
  auto derived = core::derive_secp256k1_public_key(*group, r.request.tweak);
  ASSERT_TRUE(derived) << derived.error().message;
  threshold::CurvePoint compressed(33);
  compressed[0] = (derived->bytes.back() & 1) ? 0x03 : 0x02;
  std::copy(derived->bytes.begin(), derived->bytes.begin() + 32, compressed.begin() + 1);
  std::array<std::uint8_t, 32> hash{}, r_bytes{};
  std::copy(r.request.payload.begin(), r.request.payload.end(), hash.begin());
  std::copy(r.signature.big_r.begin() + 1, r.signature.big_r.end(), r_bytes.begin());
  EXPECT_TRUE(threshold::ecdsa_verify(compressed, hash, r_bytes, r.signature.s)) << "the signature does not verify under the derived key";
  EXPECT_LE(r.signature.recovery_id, 3);
}

TEST(PresignService, PoolsFillInTheBackgroundAndEveryMemberHoldsItsPartOfEachPresignature) {
  EcdsaNetwork net(3, 2, /*pool_target=*/4);
  net.chain();
  net.fill_pools();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.presign(i).owned(kDomain), 4u) << "node " << i;
    EXPECT_EQ(net.presign(i).available(kDomain), 12u) << "node " << i << ": its own 4 and its part of the others' 8";
    EXPECT_EQ(net.counter(i, "mpc_presign_sessions_failed_total"), 0);
  }
  // Full pools start nothing more.
  net.advance(5s);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.presign(i).available(kDomain), 12u);
}

TEST(PresignService, AnEcdsaRequestIsSignedOnceVerifiesAndUsesOnePresignatureAtEveryMember) {
  EcdsaNetwork net(3, 2, /*pool_target=*/2);
  net.chain();
  net.fill_pools();
  net.pending_ = {ecdsa_request("transfer 1 ETH")};
  net.chain();
  net.pump();
  ASSERT_EQ(net.responses_.size(), 1u);
  expect_valid(net, net.responses_[0]);
  ASSERT_FALSE(net.sign_requests_.empty());
  const auto& used = net.sign_requests_.front().request.session;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.counter(i, "mpc_presignatures_used_total"), 1) << "node " << i;
    // Used means gone: asking for it again is refused with "used already".
    auto again = net.presign(i).take_for(kDomain, used, net.sign_requests_.front().from, {0, 1, 2});
    ASSERT_FALSE(again.has_value());
    EXPECT_NE(again.error().message.find("used already"), std::string::npos) << again.error().message;
  }
  // Several requests: each signed, each with its own presignature.
  net.pending_ = {ecdsa_request("a"), ecdsa_request("b", "btc/1"), ecdsa_request("c")};
  net.responses_.clear();
  net.chain();
  for (int i = 0; i < 20 && net.responses_.size() < 3; ++i) net.advance(600ms);
  ASSERT_EQ(net.responses_.size(), 3u);
  for (const auto& r : net.responses_) expect_valid(net, r);
  std::set<std::pair<std::size_t, threshold::SessionId>> named;
  for (const auto& s : net.sign_requests_) EXPECT_TRUE(named.insert({s.to, s.request.session}).second) << "a presignature named twice";
}

TEST(PresignService, SevenNodesSignWithTheWholeSetAndFiveNodesRotateSetsOfThree) {
  {
    EcdsaNetwork net(7, 4, /*pool_target=*/1);
    net.chain();
    net.fill_pools();
    net.pending_ = {ecdsa_request("seven")};
    net.chain();
    net.pump();
    ASSERT_EQ(net.responses_.size(), 1u);
    expect_valid(net, net.responses_[0]);
    EXPECT_EQ(net.sign_requests_.front().request.signers.size(), 7u);
  }
  {
    EcdsaNetwork net(5, 2, /*pool_target=*/4);
    net.chain();
    net.fill_pools();
    std::set<std::vector<std::uint64_t>> sets;
    net.pending_ = {ecdsa_request("1"), ecdsa_request("2"), ecdsa_request("3"), ecdsa_request("4")};
    net.chain();
    for (int i = 0; i < 20 && net.responses_.size() < 4; ++i) net.advance(600ms);
    ASSERT_EQ(net.responses_.size(), 4u);
    for (const auto& r : net.responses_) expect_valid(net, r);
    for (const auto& s : net.sign_requests_) {
      EXPECT_EQ(s.request.signers.size(), 3u);
      sets.insert(s.request.signers);
    }
    EXPECT_GT(sets.size(), 1u) << "presigning sets rotate among the participants";
  }
}

TEST(PresignService, ARestartNeverUsesAPresignatureTwiceAndSigningGoesOn) {
  EcdsaNetwork net(3, 2, /*pool_target=*/3);
  net.chain();
  net.fill_pools();
  net.pending_ = {ecdsa_request("before")};
  net.chain();
  net.pump();
  ASSERT_EQ(net.responses_.size(), 1u);
  // Every node restarts from its pool files.
  for (std::size_t i = 0; i < 3; ++i) net.start(i);
  net.pending_ = {ecdsa_request("after 1"), ecdsa_request("after 2"), ecdsa_request("after 3"), ecdsa_request("after 4")};
  net.chain();
  for (int i = 0; i < 40 && net.responses_.size() < 5; ++i) net.advance(600ms);
  ASSERT_EQ(net.responses_.size(), 5u);
  for (const auto& r : net.responses_) expect_valid(net, r);
  // Per member, a presignature is named by at most one SignRequest ever.
  std::set<std::pair<std::size_t, threshold::SessionId>> named;
  for (const auto& s : net.sign_requests_) EXPECT_TRUE(named.insert({s.to, s.request.session}).second) << "a presignature named twice";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.counter(i, "mpc_sign_sessions_refused_total", {{"reason", "presignature"}}), 0);
}

TEST(PresignService, HostileSignRequestsTakeNothingTheyMayNotTake) {
  EcdsaNetwork net(3, 2, /*pool_target=*/2);
  net.chain();
  net.fill_pools();
  net.pending_ = {ecdsa_request("target")};
  // Node 2 asks node 1 to sign with a presignature owned by node 0 (which
  // node 2 knows: it is in its set).
  const auto before = net.presign(1).available(kDomain);
  auto own = net.presign(0).take_own(kDomain, {1, 2});
  ASSERT_TRUE(own && *own);
  // (Node 0 took one of its own: its parts at nodes 1 and 2 stay unused.)
  threshold::SignRequest forged;
  forged.session = (*own)->id;
  forged.request_context = core::Bytes(net.pending_[0].request_json.begin(), net.pending_[0].request_json.end());
  forged.domain_id = kDomain;
  forged.message = net.pending_[0].payload;
  forged.tweak = net.pending_[0].tweak;
  forged.signers = {0, 1, 2};
  auto refused = net.presign(1).take_for(kDomain, forged.session, 2, forged.signers);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("belongs to participant 0"), std::string::npos) << refused.error().message;
  refused = net.presign(1).take_for(kDomain, forged.session, 0, {0, 1});
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not by the session's signers"), std::string::npos) << refused.error().message;
  threshold::SessionId unknown{};
  unknown.fill(7);
  refused = net.presign(1).take_for(kDomain, unknown, 0, {0, 1, 2});
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("holds no presignature"), std::string::npos) << refused.error().message;
  EXPECT_EQ(net.presign(1).available(kDomain), before) << "nothing was taken";
  // Over the mesh: the forged request is refused with an Abort, nothing taken.
  net.chain();
  net.inject(2, 1, *threshold::encode_message(forged));
  net.pump();
  EXPECT_GE(net.counter(1, "mpc_sign_sessions_refused_total", {{"reason", "presignature"}}), 1);
  // A PresignRequest for another epoch, a wrong set size or an unknown domain starts nothing.
  for (auto [epoch, domain, set] : std::vector<std::tuple<std::uint64_t, std::uint64_t, std::vector<std::uint64_t>>>{
           {4, kDomain, {0, 1, 2}}, {5, 9, {0, 1, 2}}, {5, kDomain, {0, 1, 2, 3}}}) {
    threshold::PresignRequestMessage r;
    r.session.fill(9);
    r.epoch_id = epoch;
    r.domain_id = domain;
    r.participants = set;
    net.inject(2, 1, *threshold::encode_ecdsa_message(r));
  }
  const auto refused_before = net.counter(1, "mpc_presign_sessions_refused_total");
  net.pump();
  EXPECT_EQ(net.counter(1, "mpc_presign_sessions_refused_total") - refused_before, 3);
  EXPECT_EQ(net.presign(1).running_sessions(), 0u);
}

TEST(PresignService, ANewEpochDiscardsEveryPoolAndEndsRunningSessions) {
  EcdsaNetwork net(3, 2, /*pool_target=*/2);
  net.chain();
  net.fill_pools();
  ASSERT_EQ(net.presign(0).available(kDomain), 6u);
  net.tick_all();  // nothing to start: pools are full
  net.set_epoch(6);
  // Pools of the old key are void: discarded before anything else happens.
  for (std::size_t i = 0; i < 3; ++i) net.presign(i).on_chain(net.presign_view(i));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.presign(i).available(kDomain), 0u) << "node " << i;
    EXPECT_EQ(net.presign(i).running_sessions(), 2u) << "node " << i << ": its own new sessions only";
  }
  net.pump();
  net.fill_pools();  // refilled with presignatures of the new epoch
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.presign(i).available(kDomain), 6u);
}

TEST(PresignService, AMigratedParticipantVoidsThePoolsAndSigningGoesOnWithNewOnes) {
  EcdsaNetwork net(3, 2, /*pool_target=*/2);
  net.chain();
  net.fill_pools();
  ASSERT_EQ(net.presign(0).available(kDomain), 6u);
  // Node 1 moves to a new machine: same id, a new TLS key, no pool at all.
  net.new_machine(1);
  net.set_members("node 1 migrated");
  for (std::size_t i = 0; i < 3; ++i) net.presign(i).on_chain(net.presign_view(i));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.presign(i).available(kDomain), 0u) << "node " << i << ": parts shared with the old machine are void";
  net.fill_pools();
  net.pending_ = {ecdsa_request("after the migration")};
  net.chain();
  for (int i = 0; i < 10 && net.responses_.empty(); ++i) net.advance(600ms);
  ASSERT_EQ(net.responses_.size(), 1u);
  expect_valid(net, net.responses_[0]);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.counter(i, "mpc_sign_sessions_refused_total", {{"reason", "presignature"}}), 0) << "node " << i;
}

TEST(PresignService, AMemberThatHasNotSeenTheNetworkRunningYetHoldsTheRequestAndJoinsOnItsNextRead) {
  EcdsaNetwork net(3, 2, /*pool_target=*/2);
  // Node 0 reads Running first and asks at once; 1 and 2 are a read behind.
  net.presign(0).on_chain(net.presign_view(0));
  net.pump();
  EXPECT_EQ(net.presign(0).owned(kDomain), 0u);
  EXPECT_EQ(net.counter(1, "mpc_presign_sessions_refused_total"), 0) << "held, not refused";
  for (std::size_t i : {1, 2}) net.presign(i).on_chain(net.presign_view(i));
  net.pump();
  net.tick_all();
  net.pump();
  EXPECT_EQ(net.presign(0).owned(kDomain), 2u) << "node 0's first sessions completed without waiting for a timeout";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(net.counter(i, "mpc_presign_sessions_failed_total"), 0) << "node " << i;
}

TEST(PresignService, AHeldRequestThatNeverBecomesValidIsRefusedAtItsDeadline) {
  EcdsaNetwork net(3, 2, /*pool_target=*/1);
  threshold::PresignRequestMessage r;
  r.session.fill(3);
  r.epoch_id = 99;  // an epoch node 1 may not have read yet
  r.domain_id = kDomain;
  r.participants = {0, 1, 2};
  net.presign(1).on_chain(net.presign_view(1));
  net.inject(0, 1, *threshold::encode_ecdsa_message(r));
  net.pump();
  EXPECT_EQ(net.counter(1, "mpc_presign_sessions_refused_total"), 0);
  EXPECT_TRUE(net.presign(1).next_wakeup().has_value());
  net.advance(11s);
  EXPECT_EQ(net.counter(1, "mpc_presign_sessions_refused_total"), 1) << "refused once its wait ran out";
}

TEST(PresignService, ANetworkTooSmallForItsThresholdPresignsNothingAndSaysSo) {
  EcdsaNetwork net(4, 3, /*pool_target=*/2);  // 2T - 1 = 5 > 4
  net.chain();
  net.advance(1s);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(net.presign(i).available(kDomain), 0u);
    EXPECT_EQ(net.presign(i).running_sessions(), 0u);
  }
  net.pending_ = {ecdsa_request("never")};
  net.chain();
  net.advance(10s);
  EXPECT_TRUE(net.responses_.empty());
}

TEST(PresignService, ALeaderWithoutPresignaturesWaitsForThePoolAndThenSigns) {
  EcdsaNetwork net(3, 2, /*pool_target=*/1);
  net.pending_ = {ecdsa_request("early")};
  // The request is seen before any presignature exists.
  for (std::size_t i = 0; i < 3; ++i) net.signing(i).on_chain(net.signing_view(i));
  EXPECT_TRUE(net.responses_.empty());
  net.chain();
  for (int i = 0; i < 20 && net.responses_.empty(); ++i) net.advance(600ms);
  ASSERT_EQ(net.responses_.size(), 1u);
  expect_valid(net, net.responses_[0]);
}

}  // namespace
}  // namespace mpc::node
