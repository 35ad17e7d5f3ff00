#include "backup/daemon.h"

#include <gtest/gtest.h>

#include "devnet/dealer.h"
#include "support/backup/world.h"
#include "support/manual_clock.h"

#include <thread>

namespace mpc::backup {
namespace {

using mpc::testing::clone_all;
using mpc::testing::key;

NodeTarget target(std::uint16_t port, std::uint8_t tag) { return NodeTarget{net::HostPort{"127.0.0.1", port}, key(tag)}; }

struct Dealt {
  model::Keyset keyset;
  std::vector<model::Keyshare> shares;  // participant 0's
};

Dealt deal(std::uint64_t epoch, std::size_t domains) {
  std::vector<devnet::DomainToDeal> to_deal;
  for (std::size_t d = 0; d < domains; ++d) to_deal.push_back({d, d % 2 ? model::CurveKind::kEd25519 : model::CurveKind::kSecp256k1, 0});
  const std::vector<std::uint64_t> ids = {0, 1};
  auto dealt = devnet::deal_keyset(to_deal, ids, 2, epoch);
  EXPECT_TRUE(dealt);
  return Dealt{dealt->keyset, std::move(dealt->shares[0])};
}

near::ContractView running(const model::Keyset& keyset, core::Ed25519PublicKey op_tls, const std::string& op_url = "https://127.0.0.1:1000") {
  model::RunningState r;
  r.keyset = keyset;
  r.parameters.threshold = 2;
  r.parameters.participants.next_id = 2;
  r.parameters.participants.participants = {{"op.test", 0, {op_url, op_tls}}, {"b.test", 1, {"https://127.0.0.1:1001", key(2)}}};
  near::ContractView c;
  c.state.state = r;
  return c;
}

StoredBackup stored(const Dealt& d) { return mpc::testing::stored(d.shares); }

TEST(PlanStep, BacksUpWhenNothingIsStored) {
  auto d = deal(3, 2);
  DaemonMemory m{target(1000, 1), {}};
  auto a = plan_step(running(d.keyset, key(1)), "op.test", std::nullopt, m);
  EXPECT_EQ(a.kind, ActionKind::kBackup);
  EXPECT_EQ(*a.target, target(1000, 1));
  EXPECT_EQ(a.keyset->epoch_id, 3u);
}

TEST(PlanStep, IdleWhenUpToDateAndBacksUpANewEpochOrDomain) {
  auto d = deal(3, 2);
  DaemonMemory m{target(1000, 1), {}};
  EXPECT_EQ(plan_step(running(d.keyset, key(1)), "op.test", stored(d), m).kind, ActionKind::kIdle);
  auto more = deal(3, 3);  // fresh keys: different group keys -> mismatch, needs an operator
  EXPECT_EQ(plan_step(running(more.keyset, key(1)), "op.test", stored(d), m).kind, ActionKind::kBlocked);
  auto added = d.keyset;  // same epoch, one more domain
  auto extra = deal(3, 3);
  added.domains.push_back(extra.keyset.domains[2]);
  auto a = plan_step(running(added, key(1)), "op.test", stored(d), m);
  EXPECT_EQ(a.kind, ActionKind::kBackup) << a.reason;
}

TEST(PlanStep, HoldsThePreviousKeysetWhileResharing) {
  auto d = deal(3, 2);
  auto c = running(d.keyset, key(1));
  model::ResharingState rs;
  rs.previous_running_state = *c.state.running();
  c.state.state = rs;
  DaemonMemory m{target(1000, 1), {}};
  EXPECT_EQ(plan_step(c, "op.test", stored(d), m).kind, ActionKind::kIdle);
  auto a = plan_step(c, "op.test", std::nullopt, m);
  EXPECT_EQ(a.kind, ActionKind::kBackup);
  EXPECT_EQ(a.keyset->epoch_id, 3u);
}

TEST(PlanStep, PushesToTheContractsDestinationThenAwaitsConclusion) {
  auto d = deal(3, 2);
  auto c = running(d.keyset, key(1));
  // The url is the P2P address (port 3000); the migration endpoint is on the
  // migration port (2000) of the same host.
  model::DestinationNodeInfo dest{key(7), {"https://127.0.0.1:3000", key(9)}};
  c.migrations["op.test"].migration = dest;
  DaemonMemory m{target(1000, 1), {}};
  auto a = plan_step(c, "op.test", stored(d), m, 2000);
  ASSERT_EQ(a.kind, ActionKind::kPush) << a.reason;
  EXPECT_EQ(*a.target, target(2000, 9));  // the contract's destination, not the flag's node
  EXPECT_EQ(plan_step(c, "op.test", stored(d), m).target->address.port, kDefaultMigrationPort);
  m.pushed_to = dest;
  EXPECT_EQ(plan_step(c, "op.test", stored(d), m, 2000).kind, ActionKind::kAwaitConclusion);
  // A new destination (the operator restarted the migration) is pushed again.
  c.migrations["op.test"].migration->destination_node_info.tls_public_key = key(10);
  EXPECT_EQ(plan_step(c, "op.test", stored(d), m, 2000).kind, ActionKind::kPush);
}

TEST(PlanStep, NeverPushesABackupThatDoesNotCoverTheKeyset) {
  auto d = deal(3, 2);
  auto c = running(d.keyset, key(1));
  c.migrations["op.test"].migration = model::DestinationNodeInfo{key(7), {"https://127.0.0.1:2000", key(9)}};
  DaemonMemory m{target(1000, 1), {}};
  // No backup at all: try the current node first (it may still be alive).
  EXPECT_EQ(plan_step(c, "op.test", std::nullopt, m).kind, ActionKind::kBackup);
  // A stale backup whose keys differ: blocked, loudly.
  auto other = deal(3, 2);
  auto a = plan_step(c, "op.test", stored(other), m);
  EXPECT_EQ(a.kind, ActionKind::kBlocked);
  EXPECT_NE(a.reason.find("NOT restoring"), std::string::npos);
}

TEST(PlanStep, AfterConclusionAdoptsTheContractsNodeAndBacksItUp) {
  auto d = deal(3, 2);
  DaemonMemory m{target(1000, 1), model::DestinationNodeInfo{key(7), {"https://127.0.0.1:2000", key(9)}}};
  auto c = running(d.keyset, key(9), "https://127.0.0.1:3000");  // concluded: the participant is the new node
  auto a = plan_step(c, "op.test", stored(d), m, 2000);
  EXPECT_TRUE(a.forget_push);
  ASSERT_TRUE(a.adopt_node);
  EXPECT_EQ(*a.adopt_node, target(2000, 9));
  EXPECT_EQ(a.kind, ActionKind::kBackup);
  EXPECT_EQ(*a.target, target(2000, 9));
}

TEST(PlanStep, CancelledMigrationStopsPushing) {
  auto d = deal(3, 2);
  DaemonMemory m{target(1000, 1), model::DestinationNodeInfo{key(7), {"https://127.0.0.1:2000", key(9)}}};
  auto a = plan_step(running(d.keyset, key(1)), "op.test", stored(d), m);
  EXPECT_TRUE(a.forget_push);
  EXPECT_FALSE(a.adopt_node);
  EXPECT_EQ(a.kind, ActionKind::kIdle);
}

TEST(BackupDaemon, BacksUpRestoresAndSurvivesOutages) {
  auto d = deal(3, 2);
  near::ContractView chain = running(d.keyset, key(1));
  bool chain_down = false, node_down = false;
  MemoryBackupStore store;
  std::vector<NodeTarget> fetched_from, pushed_to;
  DaemonPorts ports;
  ports.read_chain = [&]() -> core::Result<near::ContractView> {
    if (chain_down) return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable");
    return near::ContractView{chain.state, chain.migrations};
  };
  ports.load_newest = [&] { return store.load_newest(); };
  ports.store = [&](const std::vector<model::Keyshare>& s) { return store.store(s); };
  ports.fetch = [&](const NodeTarget& t, const model::Keyset&) -> core::Result<std::vector<model::Keyshare>> {
    fetched_from.push_back(t);
    if (node_down) return core::fail(core::ErrorCode::kUnavailable, "connection refused");
    return clone_all(d.shares);
  };
  ports.push = [&](const NodeTarget& t, const std::vector<model::Keyshare>&) -> core::Status {
    pushed_to.push_back(t);
    if (node_down) return core::fail(core::ErrorCode::kUnavailable, "connection refused");
    return {};
  };
  net::MetricsRegistry metrics;
  DaemonOptions options;
  options.account_id = "op.test";
  options.initial_node = target(1000, 1);
  options.poll_interval = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(20);
  options.migration_port = 2000;
  BackupDaemon daemon(options, std::move(ports), metrics);

  // Node down at start: a failure, then a backup once it is back.
  node_down = true;
  EXPECT_EQ(daemon.step().kind, ActionKind::kBackup);
  EXPECT_FALSE(*store.load_newest());
  node_down = false;
  EXPECT_EQ(daemon.step().kind, ActionKind::kBackup);
  ASSERT_TRUE(*store.load_newest());
  EXPECT_EQ(daemon.step().kind, ActionKind::kIdle);

  // Chain down: keeps the last state, no crash.
  chain_down = true;
  EXPECT_EQ(daemon.step().kind, ActionKind::kIdle);
  chain_down = false;

  // A migration: pushed once to the destination, then awaited.
  model::DestinationNodeInfo dest{key(7), {"https://127.0.0.1:3000", key(9)}};
  chain.migrations["op.test"].migration = dest;
  node_down = true;
  EXPECT_EQ(daemon.step().kind, ActionKind::kPush);  // destination unreachable: retried
  node_down = false;
  EXPECT_EQ(daemon.step().kind, ActionKind::kPush);
  EXPECT_EQ(daemon.step().kind, ActionKind::kAwaitConclusion);
  ASSERT_EQ(pushed_to.size(), 2u);
  EXPECT_EQ(pushed_to.back(), target(2000, 9));

  // Concluded: the daemon adopts the new node and backs it up.
  chain = running(d.keyset, key(9), "https://127.0.0.1:3000");
  EXPECT_EQ(daemon.step().kind, ActionKind::kBackup);
  EXPECT_EQ(fetched_from.back(), target(2000, 9));
  EXPECT_EQ(daemon.memory().node, target(2000, 9));
  EXPECT_EQ(daemon.step().kind, ActionKind::kIdle);
  EXPECT_NE(metrics.render().find("backup_restores_total{outcome=\"accepted\"} 1"), std::string::npos) << metrics.render();
}

TEST(MigrationAddress, IsTheUrlsHostOnTheMigrationPort) {
  auto a = migration_address("https://node.example.com:80/ignored", 8079);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "node.example.com:8079");
  auto v6 = migration_address("http://[::1]:3000", 9000);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[::1]:9000");
  auto no_port = migration_address("https://node.example.com", 8079);
  ASSERT_TRUE(no_port);
  EXPECT_EQ(no_port->to_string(), "node.example.com:8079");
  EXPECT_FALSE(migration_address("node.example.com:80", 8079));
}

TEST(AccountWithTlsKey, FindsTheParticipantInEveryState) {
  auto d = deal(3, 2);
  auto c = running(d.keyset, key(1));
  EXPECT_EQ(account_with_tls_key(c.state, key(1)), "op.test");
  EXPECT_EQ(account_with_tls_key(c.state, key(2)), "b.test");
  EXPECT_EQ(account_with_tls_key(c.state, key(5)), std::nullopt);
  model::ResharingState rs;
  rs.previous_running_state = *c.state.running();
  model::ProtocolState resharing;
  resharing.state = rs;
  EXPECT_EQ(account_with_tls_key(resharing, key(2)), "b.test");
  EXPECT_EQ(account_with_tls_key(model::ProtocolState{}, key(1)), std::nullopt);
}

TEST(BackupDaemon, FindsTheOperatorsAccountByTheNodeKeyOrSaysItCannot) {
  auto d = deal(3, 2);
  near::ContractView chain = running(d.keyset, key(1));
  MemoryBackupStore store;
  auto make_ports = [&] {
    DaemonPorts ports;
    ports.read_chain = [&]() -> core::Result<near::ContractView> { return near::ContractView{chain.state, chain.migrations}; };
    ports.load_newest = [&] { return store.load_newest(); };
    ports.store = [&](const std::vector<model::Keyshare>& s) { return store.store(s); };
    ports.fetch = [&](const NodeTarget&, const model::Keyset&) -> core::Result<std::vector<model::Keyshare>> { return clone_all(d.shares); };
    ports.push = [&](const NodeTarget&, const std::vector<model::Keyshare>&) -> core::Status { return {}; };
    return ports;
  };
  net::MetricsRegistry metrics;
  DaemonOptions options;
  options.initial_node = target(1000, 5);  // no participant has key 5
  BackupDaemon lost(options, make_ports(), metrics);
  EXPECT_EQ(lost.step().kind, ActionKind::kBlocked);
  EXPECT_EQ(lost.account_id(), "");
  EXPECT_FALSE(*store.load_newest());
  EXPECT_NE(metrics.render().find("backup_failures_total{kind=\"account\"} 1"), std::string::npos) << metrics.render();

  options.initial_node = target(1000, 1);
  BackupDaemon found(options, make_ports(), metrics);
  EXPECT_EQ(found.step().kind, ActionKind::kBackup);
  EXPECT_EQ(found.account_id(), "op.test");
  EXPECT_TRUE(*store.load_newest());
}

// The run loop on a manual clock: it steps every poll interval, retries
// sooner after a failure (1 s, doubling, capped), and stop() ends it at once.
TEST(BackupDaemon, RunStepsOnTheClockAndBacksOffAfterFailures) {
  using namespace std::chrono_literals;
  auto d = deal(3, 2);
  near::ContractView chain = running(d.keyset, key(1));
  std::atomic<bool> chain_down{false};
  std::atomic<int> reads{0};
  MemoryBackupStore store;
  DaemonPorts ports;
  ports.read_chain = [&]() -> core::Result<near::ContractView> {
    ++reads;
    if (chain_down) return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable");
    return near::ContractView{chain.state, chain.migrations};
  };
  ports.load_newest = [&] { return store.load_newest(); };
  ports.store = [&](const std::vector<model::Keyshare>& s) { return store.store(s); };
  ports.fetch = [&](const NodeTarget&, const model::Keyset&) -> core::Result<std::vector<model::Keyshare>> { return clone_all(d.shares); };
  ports.push = [&](const NodeTarget&, const std::vector<model::Keyshare>&) -> core::Status { return {}; };
  testing::ManualClock clock;
  net::MetricsRegistry metrics;
  DaemonOptions options;
  options.account_id = "op.test";
  options.initial_node = target(1000, 1);
  options.poll_interval = 5000ms;
  options.max_backoff = 4000ms;
  options.clock = &clock;
  BackupDaemon daemon(options, std::move(ports), metrics);
  std::thread loop([&] { daemon.run(); });
  std::size_t waits = clock.await_parked(0);
  EXPECT_EQ(reads.load(), 1);
  EXPECT_TRUE(*store.load_newest());  // backed up on the first step
  clock.advance(4999ms);
  EXPECT_EQ(reads.load(), 1);  // parked until the poll interval has passed
  clock.advance(1ms);
  waits = clock.await_parked(waits);
  EXPECT_EQ(reads.load(), 2);

  chain_down = true;
  clock.advance(5000ms);
  waits = clock.await_parked(waits);  // failed: retry in 1 s
  EXPECT_EQ(reads.load(), 3);
  clock.advance(1000ms);
  waits = clock.await_parked(waits);  // failed: retry in 2 s
  EXPECT_EQ(reads.load(), 4);
  clock.advance(1999ms);
  EXPECT_EQ(reads.load(), 4);
  clock.advance(1ms);
  waits = clock.await_parked(waits);  // failed: retry in 4 s (the cap)
  clock.advance(4000ms);
  waits = clock.await_parked(waits);
  EXPECT_EQ(reads.load(), 6);
  chain_down = false;
  clock.advance(4000ms);
  waits = clock.await_parked(waits);  // recovered: back to the poll interval
  EXPECT_EQ(reads.load(), 7);
  clock.advance(4999ms);
  EXPECT_EQ(reads.load(), 7);

  daemon.stop();  // wakes the parked loop: no clock movement needed
  loop.join();
}

TEST(MemoryBackupStore, RefusesOlderEpochs) {
  auto newer = deal(5, 1);
  auto older = deal(4, 1);
  MemoryBackupStore store;
  ASSERT_TRUE(store.store(newer.shares));
  EXPECT_FALSE(store.store(older.shares));
  EXPECT_EQ((*store.load_newest())->epoch_id, 5u);
}

}  // namespace
}  // namespace mpc::backup
