#include "node/chain_view.h"

#include <gtest/gtest.h>

#include "support/manual_clock.h"

#include <atomic>
#include <thread>

#include "node/chain_watcher.h"

namespace mpc::node {
namespace {

using core::Ed25519SecretKey;

core::Ed25519PublicKey key(std::uint8_t tag) {
  core::Ed25519PublicKey k;
  k.bytes.fill(tag);
  return k;
}

model::Keyset keyset(std::uint64_t epoch) {
  model::Keyset ks;
  ks.epoch_id = epoch;
  model::KeyForDomain d;
  d.domain_id = 0;
  d.attempt = 0;
  d.key.kind = model::CurveKind::kEd25519;
  d.key.near_public_key = core::NearPublicKey{key(9)};
  d.key.edwards_point = key(9).bytes;
  ks.domains.push_back(d);
  return ks;
}

near::ContractView running(std::uint64_t epoch, core::Ed25519PublicKey node0_tls) {
  model::RunningState r;
  r.keyset = keyset(epoch);
  r.parameters.threshold = 2;
  r.parameters.participants.next_id = 2;
  r.parameters.participants.participants = {{"node0.test", 0, {"https://a:1", node0_tls}},
                                            {"node1.test", 1, {"https://b:1", key(2)}}};
  near::ContractView s;
  s.state.state = r;
  return s;
}

void add_migration(near::ContractView& s, const std::string& account, core::Ed25519PublicKey dest_tls) {
  model::DestinationNodeInfo d;
  d.signer_account_pk = key(7);
  d.destination_node_info = {"https://new:1", dest_tls};
  s.migrations[account].migration = d;
}

TEST(NodeView, ActiveParticipantWithRegisteredBackupKey) {
  auto s = running(3, key(1));
  s.migrations["node0.test"].backup_service = model::BackupServiceInfo{key(5)};
  auto v = derive_node_view(s, "node0.test", key(1));
  EXPECT_TRUE(v.running);
  EXPECT_TRUE(v.is_active_participant);
  EXPECT_EQ(v.participant_id, 0u);
  ASSERT_TRUE(v.backup_service_key);
  EXPECT_EQ(*v.backup_service_key, key(5));
  EXPECT_FALSE(v.is_migration_destination);
  EXPECT_EQ(decide_onboarding(v, true).step, OnboardingStep::kDone);
}

TEST(NodeView, AnotherAccountsBackupKeyIsNotOurs) {
  auto s = running(3, key(1));
  s.migrations["node1.test"].backup_service = model::BackupServiceInfo{key(5)};
  auto v = derive_node_view(s, "node0.test", key(1));
  EXPECT_FALSE(v.backup_service_key);
}

TEST(NodeView, DestinationAwaitsSharesThenConcludesWithTheRunningKeyset) {
  auto s = running(3, key(1));
  add_migration(s, "node0.test", key(8));
  auto v = derive_node_view(s, "node0.test", key(8));
  EXPECT_TRUE(v.is_migration_destination);
  EXPECT_FALSE(v.is_active_participant);
  EXPECT_TRUE(may_accept_shares(v));
  EXPECT_EQ(decide_onboarding(v, false).step, OnboardingStep::kAwaitingShares);
  auto d = decide_onboarding(v, true);
  EXPECT_EQ(d.step, OnboardingStep::kConcluding);
  ASSERT_TRUE(d.conclude_with);
  EXPECT_EQ(*d.conclude_with, keyset(3));
}

TEST(NodeView, MigrationToAnotherNodeIsNotOurs) {
  auto s = running(3, key(1));
  add_migration(s, "node0.test", key(8));
  auto v = derive_node_view(s, "node0.test", key(9));
  EXPECT_FALSE(v.is_migration_destination);
  auto refusal = may_accept_shares(v);
  ASSERT_FALSE(refusal);
  EXPECT_NE(refusal.error().message.find("not the destination"), std::string::npos);
  EXPECT_NE(refusal.error().message.find(core::ed25519_public_key_to_string(key(8))), std::string::npos);
  EXPECT_EQ(decide_onboarding(v, true).step, OnboardingStep::kIdle);
}

TEST(NodeView, NoMigrationRefusesShares) {
  auto v = derive_node_view(running(3, key(1)), "node0.test", key(8));
  auto refusal = may_accept_shares(v);
  ASSERT_FALSE(refusal);
  EXPECT_NE(refusal.error().message.find("shows none"), std::string::npos);
}

TEST(NodeView, NotRunningRefusesSharesAndSuspendsOnboarding) {
  auto s = running(3, key(1));
  model::ResharingState rs;
  rs.previous_running_state = *s.state.running();
  s.state.state = rs;
  add_migration(s, "node0.test", key(8));
  auto v = derive_node_view(s, "node0.test", key(8));
  EXPECT_FALSE(v.running);
  EXPECT_FALSE(v.running_keyset);
  auto refusal = may_accept_shares(v);
  ASSERT_FALSE(refusal);
  EXPECT_NE(refusal.error().message.find("not Running"), std::string::npos);
  EXPECT_EQ(decide_onboarding(v, true).step, OnboardingStep::kIdle);
}

TEST(NodeView, AuthorizationChangesOnlyWithTheRegisteredBackupKey) {
  auto s = running(3, key(1));
  auto before = derive_node_view(s, "node0.test", key(1));
  s.migrations["node0.test"].backup_service = model::BackupServiceInfo{key(5)};
  auto registered = derive_node_view(s, "node0.test", key(1));
  EXPECT_TRUE(authorization_changed(before, registered));
  // Becoming (or ceasing to be) a migration destination keeps the peer:
  // migration status is checked per request, not per connection.
  add_migration(s, "node0.test", key(1));
  auto destination = derive_node_view(s, "node0.test", key(1));
  ASSERT_TRUE(destination.is_migration_destination);
  EXPECT_FALSE(authorization_changed(registered, destination));
  EXPECT_FALSE(authorization_changed(destination, registered));
  // A change elsewhere (another account's registration) does not count.
  s.migrations["node1.test"].backup_service = model::BackupServiceInfo{key(6)};
  EXPECT_FALSE(authorization_changed(destination, derive_node_view(s, "node0.test", key(1))));
  // A new key for this account, or none, does.
  s.migrations["node0.test"].backup_service = model::BackupServiceInfo{key(7)};
  auto rotated = derive_node_view(s, "node0.test", key(1));
  EXPECT_TRUE(authorization_changed(destination, rotated));
  s.migrations["node0.test"].backup_service.reset();
  EXPECT_TRUE(authorization_changed(rotated, derive_node_view(s, "node0.test", key(1))));
}

class FakeSource : public ChainSource {
 public:
  core::Result<near::ContractView> fetch() override {
    ++calls;
    if (fail.load()) return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable: fake");
    std::lock_guard lock(mu);
    return snapshot;
  }
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  std::mutex mu;
  near::ContractView snapshot;
};

// The watcher on a manual clock: each poll happens when the clock reaches
// it, and "no poll yet" is checked while the loop is parked.
TEST(ChainWatcher, ReportsChangesOnlyBacksOffOnOutagesAndKeepsTheLastState) {
  using namespace std::chrono_literals;
  testing::ManualClock clock;
  FakeSource source;
  source.snapshot = running(1, key(1));
  std::atomic<int> changes{0};
  std::atomic<int> heights{0};  // reports of a new block with the same contents
  ChainWatcherOptions options{5ms, 20ms};
  options.clock = &clock;
  ChainWatcher watcher(source, options, [&](const near::ContractView&, bool contents_changed) { ++(contents_changed ? changes : heights); });
  ASSERT_TRUE(watcher.start());
  EXPECT_EQ(changes.load(), 1);
  std::size_t waits = clock.await_parked(0);
  for (int i = 0; i < 4; ++i) {
    clock.advance(5ms);
    waits = clock.await_parked(waits);
  }
  EXPECT_EQ(source.calls.load(), 5);
  EXPECT_EQ(changes.load(), 1);  // unchanged snapshots are not reported
  EXPECT_EQ(heights.load(), 0);

  // A later block with the same contents is reported as such, once, and
  // becomes the latest height.
  {
    std::lock_guard lock(source.mu);
    source.snapshot.block_height += 7;
  }
  clock.advance(5ms);
  waits = clock.await_parked(waits);
  clock.advance(5ms);
  waits = clock.await_parked(waits);
  EXPECT_EQ(heights.load(), 1);
  EXPECT_EQ(changes.load(), 1);
  EXPECT_EQ(watcher.latest()->block_height, source.snapshot.block_height);

  source.fail = true;
  const int before = source.calls.load();
  clock.advance(5ms);   // fails: next try in 10 ms
  waits = clock.await_parked(waits);
  clock.advance(9ms);  // short of the deadline: the loop stays parked in the same wait
  EXPECT_EQ(source.calls.load(), before + 1);  // not before the backoff
  clock.advance(1ms);  // fails: next try in 20 ms (the cap)
  waits = clock.await_parked(waits);
  clock.advance(20ms);
  waits = clock.await_parked(waits);
  EXPECT_EQ(source.calls.load(), before + 3);
  EXPECT_EQ(watcher.failures(), 3u);
  ASSERT_TRUE(watcher.latest());  // the last known state is kept
  EXPECT_EQ(watcher.latest()->state.running()->keyset.epoch_id, 1u);

  {
    std::lock_guard lock(source.mu);
    source.snapshot = running(2, key(1));
  }
  source.fail = false;
  watcher.poke();  // polls at once, whatever the clock
  waits = clock.await_parked(waits);
  EXPECT_EQ(changes.load(), 2);
  EXPECT_EQ(watcher.latest()->state.running()->keyset.epoch_id, 2u);
  watcher.stop();
}

TEST(ChainWatcher, FirstPollFailureIsReportedButNotFatal) {
  using namespace std::chrono_literals;
  testing::ManualClock clock;
  FakeSource source;
  source.fail = true;
  ChainWatcherOptions options{5ms, 10ms};
  options.clock = &clock;
  ChainWatcher watcher(source, options, nullptr);
  auto first = watcher.start();
  EXPECT_FALSE(first);
  EXPECT_FALSE(watcher.latest());
  const std::size_t waits = clock.await_parked(0);
  {
    std::lock_guard lock(source.mu);
    source.snapshot = running(1, key(1));
  }
  source.fail = false;
  clock.advance(5ms);
  clock.await_parked(waits);
  EXPECT_TRUE(watcher.latest());
}

}  // namespace
}  // namespace mpc::node
