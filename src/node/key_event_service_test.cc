// The key event service of several nodes against the real contract logic
// (contract::MpcContract) and the real protocols (threshold/key_event.h),
// with an in-memory message bus and a manual clock: key generation by votes,
// resharing to a new participant and threshold, a node restarted in the
// middle of an attempt, an attempt that expires, and hostile messages.
// No sockets, threads or sleeps: the test moves messages, transactions,
// blocks and time itself.
#include "node/key_event_service.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "contract/contract.h"
#include "core/crypto.h"
#include "support/devnet/shamir_test_util.h"
#include "support/manual_clock.h"

namespace mpc::node {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kContract = "mpc.test";

struct TestNode {
  std::string account;
  std::uint64_t id = 0;
  core::Ed25519SecretKey tls = core::Ed25519SecretKey::generate();
  fs::path dir;
  std::unique_ptr<KeyshareStore> store;
  std::unique_ptr<KeyEventService> service;
  bool silent = false;  // sends nothing, submits nothing (a node that never answers)
};

class KeyEventWorld : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = std::random_device{}();
    std::printf("KeyEventWorld seed %u\n", seed_);
    rng_.seed(seed_);
    root_ = fs::temp_directory_path() / ("mpc-key-events-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    for (auto& n : nodes_) n->service.reset();
    fs::remove_all(root_);
  }

  threshold::RandomSource random() {
    auto* rng = &rng_;
    return [rng](std::span<std::uint8_t, 32> out) {
      for (auto& b : out) b = static_cast<std::uint8_t>((*rng)());
    };
  }

  TestNode& add_node() {
    auto n = std::make_unique<TestNode>();
    n->id = nodes_.size();
    n->account = "node" + std::to_string(n->id) + ".near";
    n->dir = root_ / n->account;
    fs::create_directories(n->dir);
    core::SecretBytes key(32);
    core::random_fill(key.mutable_view());
    local_keys_.push_back(key.clone());
    n->store = std::move(*KeyshareStore::open(n->dir / "keyshares.enc", std::move(key)));
    nodes_.push_back(std::move(n));
    start_service(*nodes_.back());
    return *nodes_.back();
  }

  // (Re)creates a node's service, as a restarted process would: same store
  // and journal, nothing in memory.
  void start_service(TestNode& n) {
    n.service.reset();
    KeyEventPorts ports;
    TestNode* np = &n;
    ports.send = [this, np](std::uint64_t to, core::Bytes message) {
      if (np->silent) return true;
      bytes_sent_[np->id] += message.size();
      bus_.push_back({np->id, to, std::move(message)});
      return true;
    };
    ports.submit = [this, np](KeyEventTx tx) {
      if (np->silent) return;
      txs_.push_back({np->account, std::move(tx)});
    };
    ports.reachable = [this]() {
      std::set<std::uint64_t> all;
      for (const auto& other : nodes_) all.insert(other->id);
      return all;
    };
    ports.refresh_chain = [] {};
    KeyEventOptions options;
    options.complaint_timeout = std::chrono::milliseconds(1000);
    options.resubmit_interval = std::chrono::milliseconds(500);
    n.service = std::make_unique<KeyEventService>(std::move(ports), options, *n.store, n.dir / "key_event.journal", clock_,
                                                  metrics_, random());
  }

  json participants_json(std::size_t count) const {
    json list = json::array();
    for (std::size_t i = 0; i < count; ++i) {
      const auto& n = *nodes_[i];
      list.push_back(json::array({n.account, n.id, {{"url", "https://" + n.account}, {"tls_public_key", core::ed25519_public_key_to_string(n.tls.public_key())}}}));
    }
    return list;
  }
  json parameters_json(std::size_t count, std::size_t threshold) const {
    return json{{"participants", {{"next_id", count}, {"participants", participants_json(count)}}}, {"threshold", threshold}};
  }

  core::Result<contract::CallOutcome> call(const std::string& account, const std::string& method, const json& args) {
    contract::CallContext ctx{account, account, kContract, core::NearPublicKey{access_.public_key()}, 0, height_};
    const std::string text = args.dump();
    return contract_.call(ctx, method, core::as_bytes(text));
  }
  void must_call(const std::string& account, const std::string& method, const json& args) {
    auto r = call(account, method, args);
    ASSERT_TRUE(r) << account << " " << method << ": " << r.error().message;
  }

  model::ProtocolState state() {
    auto bytes = contract_.view("state", core::as_bytes(std::string("{}")));
    EXPECT_TRUE(bytes);
    auto parsed = model::parse_protocol_state(json::parse(bytes->begin(), bytes->end()));
    EXPECT_TRUE(parsed) << parsed.error().message;
    return *parsed;
  }

  // One round: every node sees the chain, messages are delivered, the
  // submitted transactions land (one block), time moves.
  void round() {
    observe();
    deliver_and_land();
  }
  // Every node sees the chain (and starts what it starts: messages queue).
  void observe() {
    const auto s = state();
    for (auto& n : nodes_) {
      auto view = key_event_view_of(s, height_, n->account, n->tls.public_key());
      ASSERT_TRUE(view) << view.error().message;
      n->service->on_chain(*view);
    }
  }
  void deliver_and_land() {
    for (std::size_t guard = 0; !bus_.empty() && guard < 100000; ++guard) {
      auto m = std::move(bus_.front());
      bus_.pop_front();
      if (m.to < nodes_.size() && !nodes_[m.to]->silent) nodes_[m.to]->service->on_message(m.from, m.bytes);
    }
    auto txs = std::move(txs_);
    txs_.clear();
    for (auto& [account, tx] : txs) {
      auto r = call(account, tx.method, tx.args);
      tx_log_.push_back(account + " " + tx.method + (r ? "" : " refused: " + r.error().message));
    }
    ++height_;
    clock_.advance(std::chrono::milliseconds(200));
    for (auto& n : nodes_) n->service->tick();
  }

  // Rounds until `done` holds; fails loudly (with the transaction log) after `max`.
  void run_until(const std::function<bool()>& done, std::size_t max = 400) {
    for (std::size_t i = 0; i < max; ++i) {
      if (done()) return;
      round();
      if (::testing::Test::HasFatalFailure()) return;
    }
    std::string log;
    for (std::size_t i = tx_log_.size() > 40 ? tx_log_.size() - 40 : 0; i < tx_log_.size(); ++i) log += "\n  " + tx_log_[i];
    FAIL() << "not done after " << max << " rounds; state " << state().name() << "; last transactions:" << log;
  }

  bool running_with_keys(std::uint64_t epoch, std::size_t domains) {
    const auto s = state();
    const auto* r = s.running();
    return r != nullptr && r->keyset.epoch_id == epoch && r->keyset.domains.size() == domains;
  }
  bool all_hold(const std::vector<std::size_t>& which) {
    const auto s = state();
    const auto* r = s.running();
    if (r == nullptr) return false;
    for (auto i : which) {
      if (!nodes_[i]->store->holds(r->keyset)) return false;
    }
    return true;
  }

  // Every `threshold`-subset of the holders' shares reconstructs the key the
  // contract holds, for every domain (test helper: never done by a node).
  void expect_shares_reconstruct(const std::vector<std::size_t>& holders, std::size_t threshold) {
    const auto s = state();
    const auto* r = s.running();
    ASSERT_NE(r, nullptr);
    std::vector<std::vector<model::Keyshare>> shares;
    for (auto i : holders) {
      auto held = nodes_[i]->store->shares_for(r->keyset);
      ASSERT_TRUE(held) << "node " << i << ": " << held.error().message;
      shares.push_back(std::move(*held));
    }
    for (std::size_t d = 0; d < r->keyset.domains.size(); ++d) {
      const auto& entry = r->keyset.domains[d];
      for (std::uint32_t mask = 0; mask < (1u << holders.size()); ++mask) {
        if (static_cast<std::size_t>(__builtin_popcount(mask)) != threshold) continue;
        std::vector<std::pair<std::uint64_t, const model::Keyshare*>> subset;
        for (std::size_t k = 0; k < holders.size(); ++k)
          if (mask & (1u << k)) subset.push_back({nodes_[holders[k]]->id, &shares[k][d]});
        auto secret = devnet::testing::reconstruct_secret(entry.key.kind, subset);
        ASSERT_TRUE(secret) << secret.error().message;
        auto pk = devnet::testing::public_key_hex_of(entry.key.kind, secret->reveal());
        ASSERT_TRUE(pk);
        EXPECT_EQ(*pk, shares[0][d].public_key) << "domain " << entry.domain_id << ", subset mask " << mask;
        auto raw = core::hex_decode(*pk);
        ASSERT_TRUE(raw);
        auto extended = group_key_extended(entry.key.kind, *raw);
        ASSERT_TRUE(extended);
        EXPECT_EQ(*extended, entry.key) << "the contract holds the reconstructed key";
      }
    }
  }

  void init_running(std::size_t n, std::size_t threshold) {
    for (std::size_t i = 0; i < n; ++i) add_node();
    must_call(kContract, "init", json{{"parameters", parameters_json(n, threshold)}});
  }
  void add_domains_by_votes(std::size_t participants, const json& domains) {
    for (std::size_t i = 0; i < participants; ++i) must_call(nodes_[i]->account, "vote_add_domains", json{{"domains", domains}});
  }

  struct Message {
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    core::Bytes bytes;
  };
  unsigned seed_ = 0;
  std::mt19937_64 rng_;
  fs::path root_;
  testing::ManualClock clock_;
  net::MetricsRegistry metrics_;
  contract::MpcContract contract_;
  core::Ed25519SecretKey access_ = core::Ed25519SecretKey::generate();
  std::uint64_t height_ = 1;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<core::SecretBytes> local_keys_;
  std::deque<Message> bus_;
  std::vector<std::pair<std::string, KeyEventTx>> txs_;
  std::vector<std::string> tx_log_;
  std::map<std::uint64_t, std::size_t> bytes_sent_;
};

const json kTwoDomains = json::array({{{"id", 0}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                                      {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});

TEST_F(KeyEventWorld, NodesGenerateEveryDomainsKeyByVotesAndEveryThresholdSubsetReconstructsIt) {
  init_running(3, 2);
  add_domains_by_votes(3, kTwoDomains);
  ASSERT_TRUE(std::holds_alternative<model::InitializingState>(state().state));
  run_until([&] { return running_with_keys(0, 2) && all_hold({0, 1, 2}); });
  expect_shares_reconstruct({0, 1, 2}, 2);
  for (auto& n : nodes_) EXPECT_EQ(n->store->pending_count(), 0u) << n->account << ": promoted shares leave the pending list";
}

TEST_F(KeyEventWorld, ResharingToANewParticipantAndThresholdKeepsTheKeysAndDeletesTheOldShares) {
  init_running(3, 2);
  add_domains_by_votes(3, kTwoDomains);
  run_until([&] { return running_with_keys(0, 2) && all_hold({0, 1, 2}); });
  const auto before = *state().running();
  add_node();  // node3, not a participant yet
  const json proposal = parameters_json(4, 3);
  for (std::size_t i = 0; i < 4; ++i) {
    must_call(nodes_[i]->account, "vote_new_parameters", json{{"prospective_epoch_id", 1}, {"proposal", proposal}});
  }
  ASSERT_TRUE(std::holds_alternative<model::ResharingState>(state().state));
  run_until([&] { return running_with_keys(1, 2) && all_hold({0, 1, 2, 3}); });
  const auto after = *state().running();
  for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(after.keyset.domains[d].key, before.keyset.domains[d].key) << "the same group key";
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(nodes_[i]->store->holds(before.keyset)) << "node " << i << " still holds epoch 0";
    EXPECT_EQ(nodes_[i]->store->summary().epoch_id, 1u);
  }
  expect_shares_reconstruct({0, 1, 2, 3}, 3);
}

TEST_F(KeyEventWorld, AParticipantRemovedByAResharingDeletesItsOldShares) {
  init_running(4, 3);
  add_domains_by_votes(4, kTwoDomains);
  run_until([&] { return running_with_keys(0, 2) && all_hold({0, 1, 2, 3}); });
  const auto before = *state().running();
  const json proposal = parameters_json(3, 2);  // node3 leaves
  for (std::size_t i = 0; i < 3; ++i) {
    must_call(nodes_[i]->account, "vote_new_parameters", json{{"prospective_epoch_id", 1}, {"proposal", proposal}});
  }
  run_until([&] { return running_with_keys(1, 2) && all_hold({0, 1, 2}) && nodes_[3]->store->summary().domains.empty(); });
  EXPECT_FALSE(nodes_[3]->store->holds(before.keyset));
  EXPECT_EQ(nodes_[3]->store->pending_count(), 0u);
  expect_shares_reconstruct({0, 1, 2}, 2);
}

TEST_F(KeyEventWorld, ARefreshGivesNewSharesOfTheSameKeys) {
  init_running(3, 2);
  add_domains_by_votes(3, kTwoDomains);
  run_until([&] { return running_with_keys(0, 2) && all_hold({0, 1, 2}); });
  const auto before = *state().running();
  const auto digest = nodes_[0]->store->summary().digest;
  for (std::size_t i = 0; i < 3; ++i) {
    must_call(nodes_[i]->account, "vote_new_parameters", json{{"prospective_epoch_id", 1}, {"proposal", parameters_json(3, 2)}});
  }
  run_until([&] { return running_with_keys(1, 2) && all_hold({0, 1, 2}); });
  EXPECT_NE(nodes_[0]->store->summary().digest, digest) << "new shares";
  for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(state().running()->keyset.domains[d].key, before.keyset.domains[d].key);
  expect_shares_reconstruct({0, 1, 2}, 2);
}

TEST_F(KeyEventWorld, ANodeRestartedInTheMiddleOfAnAttemptAbortsItAndTheNextAttemptSucceeds) {
  init_running(3, 2);
  add_domains_by_votes(3, json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}}));
  // Until the leader's start has landed: then, in one step, every node sees
  // the attempt and sends its first messages.
  run_until([&] {
    const auto s = state();
    auto event = model::parse_key_event(std::get<model::InitializingState>(s.state).generating_key);
    return event && event->active_id(height_).has_value();
  });
  observe();
  ASSERT_TRUE(nodes_[2]->service->running_attempt().has_value());
  const auto first = *nodes_[2]->service->running_attempt();
  EXPECT_FALSE(nodes_[2]->store->pending(first)) << "nothing delivered yet: the attempt cannot be done";
  // Node 2's process dies: its messages in flight are lost, it restarts.
  std::erase_if(bus_, [](const Message& m) { return m.to == 2 || m.from == 2; });
  start_service(*nodes_[2]);
  run_until([&] { return running_with_keys(0, 1) && all_hold({0, 1, 2}); });
  const auto keyset = state().running()->keyset;
  EXPECT_GT(keyset.domains[0].attempt, first.attempt_id) << "the interrupted attempt was aborted and a later one succeeded";
  EXPECT_TRUE(std::any_of(tx_log_.begin(), tx_log_.end(),
                          [](const std::string& t) { return t.starts_with("node2.near vote_abort_key_event_instance") && t.find("refused") == std::string::npos; }));
  expect_shares_reconstruct({0, 1, 2}, 2);
}

TEST_F(KeyEventWorld, AnAttemptWithANodeThatNeverAnswersExpiresAndIsRetried) {
  init_running(3, 2);
  add_domains_by_votes(3, json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}}));
  nodes_[1]->silent = true;
  std::uint64_t first_expires = 0;
  run_until([&] {
    const auto s = state();
    const auto* init = std::get_if<model::InitializingState>(&s.state);
    if (init == nullptr) return false;
    auto event = model::parse_key_event(init->generating_key);
    if (!event || !event->instance) return false;
    if (first_expires == 0) first_expires = event->instance->expires_on;
    return event->instance->attempt_id >= 1;  // a second attempt was started
  });
  EXPECT_GE(height_, first_expires) << "the second attempt started only once the first expired";
  nodes_[1]->silent = false;  // it comes back
  run_until([&] { return running_with_keys(0, 1) && all_hold({0, 1, 2}); });
  expect_shares_reconstruct({0, 1, 2}, 2);
}

TEST_F(KeyEventWorld, MessagesFromNonPartiesAndGarbageChangeNothingAndTheBufferIsBounded) {
  init_running(3, 2);
  add_domains_by_votes(3, json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}}));
  // Garbage and messages for sessions nobody runs: buffered at most to the bound, never crash.
  for (std::size_t i = 0; i < KeyEventService::kMaxBufferedMessages + 100; ++i) {
    core::Bytes junk(40 + (i % 50), static_cast<std::uint8_t>(i));
    nodes_[0]->service->on_message(7, junk);
  }
  EXPECT_LE(nodes_[0]->service->buffered_messages(), KeyEventService::kMaxBufferedMessages);
  run_until([&] { return running_with_keys(0, 1) && all_hold({0, 1, 2}); });
  EXPECT_EQ(nodes_[0]->service->buffered_messages(), 0u) << "dropped once the chain showed they belong to no attempt";
  expect_shares_reconstruct({0, 1, 2}, 2);
}

}  // namespace
}  // namespace mpc::node
