// `backup-cli run` against a whole local network: backups and restores with
// no operator command.
#include <gtest/gtest.h>

#include <unistd.h>

#include <thread>

#include "core/file_util.h"
#include "e2e_support.h"
#include "operator_steps.h"
#include "net/http_client.h"

namespace mpc::e2e {
namespace {

using namespace std::chrono_literals;

std::string metrics(const Daemon& d) { return fetch_metrics(d.metrics_addr); }

bool backup_file(Network& net, std::size_t i, const std::string& name) {
  return fs::exists(net.backup_home(i) / "permanent_keys" / name);
}

std::string log_of(const Daemon& d) { return d.text(); }

// The nodes run key events themselves (node/key_event_service: the leader
// starts each attempt, every participant runs the protocol, stores its share
// and votes): the protocol state reaches Running with `epoch` and `domains`.
bool nodes_reach(Network& net, std::uint64_t epoch, std::size_t domains) {
  return wait_for(
      [&] {
        const model::ProtocolState s = net.state();
        return s.running() != nullptr && s.running()->keyset.epoch_id == epoch && s.running()->keyset.domains.size() == domains;
      },
      std::chrono::seconds(60));
}

TEST(BackupDaemon, BacksUpEveryKeysetAndSurvivesOutages) {
  Network net;
  auto daemon = start_daemon(net, 0);
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_0_with_2_domains"); })) << log_of(daemon);

  // Resharing to epoch 1, run by the nodes.
  const auto before = net.state();
  const json params = {{"prospective_epoch_id", 1}, {"proposal", to_json(before.running()->parameters)}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_new_parameters", params, false));
  // The chain is down for a while: the daemon keeps running and recovers.
  const double chain_failures = metric_value(metrics(daemon), "backup_failures_total{kind=\"chain\"}");
  net.stop_devnet_process("sandbox", true);
  ASSERT_TRUE(wait_for([&] {
    return metric_value(metrics(daemon), "backup_failures_total{kind=\"chain\"}") >= std::max(0.0, chain_failures) + 2;
  })) << log_of(daemon);  // it noticed the outage twice, and is still there
  ASSERT_TRUE(daemon.process->running()) << log_of(daemon);
  net.restart_devnet();
  ASSERT_TRUE(nodes_reach(net, 1, 2)) << net.state().name();
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_1_with_2_domains"); })) << log_of(daemon);
  EXPECT_TRUE(backup_file(net, 0, "epoch_0_with_2_domains"));  // old epochs kept

  // A domain added in the same epoch: the nodes generate its key.
  const json add = {{"domains", json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_add_domains", add, false));
  ASSERT_TRUE(nodes_reach(net, 1, 3)) << net.state().name();
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_1_with_3_domains"); })) << log_of(daemon);
  EXPECT_TRUE(backup_file(net, 0, "epoch_1_with_2_domains"));

  // The daemon sets its gauges just after it stored the file.
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_last_domains") == 3; })) << metrics(daemon);
  const auto m = metrics(daemon);
  EXPECT_EQ(metric_value(m, "backup_last_epoch"), 1) << m;
  EXPECT_GT(metric_value(m, "backup_failures_total{kind=\"chain\"}"), 0) << m;
  EXPECT_EQ(daemon.process->terminate(), 0);
}

TEST(BackupDaemon, RestoresAMigrationWithNoOperatorActionButStartMigration) {
  Network net;
  auto dest = net.new_node(0);  // the new machine, ready before the migration starts
  auto daemon = start_daemon(net, 0, dest.migration_port());
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_0_with_2_domains"); })) << log_of(daemon);
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                                  "--destination-access-key", dest.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key, 30s)) << log_of(daemon);
  // Then the daemon backs up the new node (its key now from the contract).
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_backups_total") >= 2; })) << log_of(daemon);
  EXPECT_NE(log_of(daemon).find("fetching from " + dest.addr), std::string::npos) << log_of(daemon);
  EXPECT_EQ(metric_value(metrics(daemon), "backup_restores_total{outcome=\"accepted\"}"), 1);
  EXPECT_EQ(daemon.process->terminate(), 0);
}

TEST(BackupDaemon, StopsTryingWhenAMigrationToAnUnreachableNodeIsCancelled) {
  Network net;
  testsupport::ClosedPort closed_migration, closed_p2p;  // connections are refused there
  auto daemon = start_daemon(net, 0, closed_migration.port());
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_0_with_2_domains"); })) << log_of(daemon);
  const auto nowhere = "https://" + closed_p2p.addr();
  const auto key = core::Ed25519SecretKey::generate().public_key();
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", nowhere, "--destination-tls-key", key_text(key),
                                  "--destination-access-key", key_text(key)});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_restores_total{outcome=\"failed\"}") >= 2; }))
      << log_of(daemon);
  ASSERT_EQ(net.backup_cli(0, {"cancel-migration"}).exit_code, 0);
  // Once the daemon has seen the cancellation, three more steps send nothing.
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_migration_pending") == 0; })) << log_of(daemon);
  const double failed = metric_value(metrics(daemon), "backup_restores_total{outcome=\"failed\"}");
  const double steps = metric_value(metrics(daemon), "backup_steps_total");
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_steps_total") >= steps + 3; })) << log_of(daemon);
  EXPECT_EQ(metric_value(metrics(daemon), "backup_restores_total{outcome=\"failed\"}"), failed) << log_of(daemon);
  EXPECT_EQ(daemon.process->terminate(), 0);
}

TEST(BackupDaemon, NeverSendsSharesToADestinationWhoseKeyDiffersFromTheContracts) {
  Network net;
  auto impostor = net.new_node(0);
  auto daemon = start_daemon(net, 0, impostor.migration_port());
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_0_with_2_domains"); })) << log_of(daemon);
  const auto contract_key = core::Ed25519SecretKey::generate().public_key();
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", impostor.url(), "--destination-tls-key",
                                  key_text(contract_key), "--destination-access-key", impostor.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(daemon), "backup_restores_total{outcome=\"failed\"}") >= 1; }))
      << log_of(daemon);
  EXPECT_NE(log_of(daemon).find("authentication failed"), std::string::npos) << log_of(daemon);
  EXPECT_FALSE(fs::exists(impostor.home / "keyshares.enc"));  // nothing was ever imported
  EXPECT_EQ(daemon.process->terminate(), 0);
}

// The reference's own command line (docs/node-migration-guide.md): no
// signer account (found by the node's key), the migration endpoint on 8079
// of the host the contract names. The new machine listens on 8079 of a
// loopback address of its own; its P2P url has another port.
TEST(BackupDaemon, AReferenceCommandLineBacksUpAndRestores) {
  Network net;
  ASSERT_NE(net.node(0).p2p_addr, net.node(0).migration_addr);
  // 127.0.0.X: distinct per test process, so that two checkouts testing at
  // once do not both want X:8079.
  const std::string host = "127.0.0." + std::to_string(100 + ::getpid() % 100);
  NewNode dest;
  try {
    dest = net.new_node_at(0, host, 8079);
  } catch (const std::exception& e) {
    FAIL() << "the new machine could not listen on " << host << ":8079: " << e.what();
  }
  ASSERT_EQ(dest.addr, host + ":8079");
  ASSERT_EQ(net.backup_cli(0, {"generate-keys"}).exit_code, 0);
  ASSERT_EQ(net.backup_cli(0, {"register"}).exit_code, 0);
  ::unsetenv("SIGNER_ACCOUNT_ID");
  ::unsetenv("SIGNER_KEY_FILE");
  const auto log = net.dir() / "daemon-reference.log";
  testsupport::Child d({testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(0).string(), "run",
                        "--near-chain-id", "mainnet", "--mpc-contract-account-id", net.contract(), "--mpc-node-address",
                        net.node(0).migration_addr, "--mpc-node-p2p-key", key_text(net.node_tls_key(0)), "--poll-interval-seconds", "1"},
                       log);
  Daemon view{nullptr, "", log};
  ASSERT_TRUE(wait_for([&] { return backup_file(net, 0, "epoch_0_with_2_domains"); })) << log_of(view);
  EXPECT_NE(log_of(view).find("the contract lists TLS key " + key_text(net.node_tls_key(0)) + " for " + net.node(0).account_id),
            std::string::npos)
      << log_of(view);
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                                  "--destination-access-key", dest.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key, 30s)) << log_of(view);
  // Then the moved node is backed up, at the contract's host on 8079.
  ASSERT_TRUE(wait_for([&] { return log_of(view).find("fetching from " + host + ":8079") != std::string::npos; })) << log_of(view);
  EXPECT_EQ(d.terminate(), 0);
}

TEST(BackupDaemon, SaysClearlyWhenNoParticipantHasTheNodeKey) {
  Network net;
  ASSERT_EQ(net.backup_cli(0, {"generate-keys"}).exit_code, 0);
  ::unsetenv("SIGNER_ACCOUNT_ID");
  const auto stranger = key_text(core::Ed25519SecretKey::generate().public_key());
  const auto log = net.dir() / "daemon-stranger.log";
  testsupport::Child d({testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(0).string(), "run",
                        "--mpc-node-address", net.node(0).migration_addr, "--mpc-node-p2p-key", stranger, "--poll-interval-seconds", "1"},
                       log);
  Daemon view{nullptr, "", log};
  ASSERT_TRUE(wait_for([&] { return log_of(view).find("no participant of the contract has the TLS key " + stranger) != std::string::npos; }))
      << log_of(view);
  EXPECT_FALSE(fs::exists(net.backup_home(0) / "permanent_keys" / "epoch_0_with_2_domains"));
  EXPECT_EQ(d.terminate(), 0);
}

TEST(BackupDaemon, MemoryOnlyWritesNothing) {
  Network net;
  auto gen = net.backup_cli(0, {"generate-keys"});
  ASSERT_EQ(gen.exit_code, 0);
  ASSERT_EQ(net.backup_cli(0, {"register"}).exit_code, 0);
  testsupport::Child d({testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(0).string(), "run",
                        "--mpc-node-address", net.node(0).migration_addr, "--mpc-node-p2p-key", key_text(net.node_tls_key(0)),
                        "--poll-interval-seconds", "1", "--metrics-addr", "127.0.0.1:0", "--memory-only"},
                       net.dir() / "daemon-memory.log");
  Daemon view{nullptr, bound_metrics_addr(net.dir() / "daemon-memory.log"), net.dir() / "daemon-memory.log"};
  ASSERT_TRUE(wait_for([&] { return metric_value(metrics(view), "backup_last_epoch") == 0; })) << log_of(view);
  EXPECT_FALSE(fs::exists(net.backup_home(0) / "permanent_keys"));
  EXPECT_EQ(d.terminate(), 0);
}

}  // namespace
}  // namespace mpc::e2e
