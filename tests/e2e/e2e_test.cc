// End-to-end stories over real processes: mpc-sandbox, mpc-node, backup-cli.
#include <gtest/gtest.h>

#include <thread>

#include "e2e_support.h"
#include "operator_steps.h"

namespace mpc::e2e {
namespace {

using namespace std::chrono_literals;

testsupport::RunResult start_migration(Network& net, std::size_t i, const NewNode& dest) {
  return net.backup_cli(i, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                            "--destination-access-key", dest.access_text()});
}

testsupport::RunResult put(Network& net, std::size_t i, const NewNode& dest, bool check_chain = true) {
  std::vector<std::string> args = {"put-keyshares", "--mpc-node-address", dest.addr, "--mpc-node-p2p-key", dest.tls_text(),
                                   "--request-timeout-seconds", check_chain ? "5" : "2"};
  if (!check_chain) {
    ::unsetenv("BACKUP_RPC_URL");
    auto r = testsupport::run([&] {
      std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(i).string()};
      argv.insert(argv.end(), args.begin(), args.end());
      return argv;
    }());
    return r;
  }
  return net.backup_cli(i, args);
}

TEST(EndToEnd, MigrateEveryNodeOneAfterAnother) {
  Network net;
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < 3; ++i) {
    back_up(net, i);
    auto dest = net.new_node(i);
    auto start = start_migration(net, i, dest);
    ASSERT_EQ(start.exit_code, 0) << start.output;
    auto p = put(net, i, dest);
    ASSERT_EQ(p.exit_code, 0) << p.output;
    ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key)) << "node " << i << " did not conclude";
    dest.process->terminate();
  }
  const auto state = net.state();
  auto* running = state.running();
  ASSERT_NE(running, nullptr);
  for (std::size_t i = 0; i < 3; ++i) {
    auto* e = running->parameters.participants.find(net.node(i).account_id);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->id, i);  // same participant id
  }
  const auto migrations = net.migrations();
  EXPECT_TRUE(std::all_of(migrations.begin(), migrations.end(), [](const auto& kv) { return !kv.second.migration; }));
}

// With the chain, put-keyshares needs no node flags: the contract names the
// destination (its TLS key; its host with --destination-migration-port).
TEST(EndToEnd, PutKeysharesFindsTheDestinationInTheContract) {
  Network net;
  back_up(net, 0);
  auto dest = net.new_node(0);
  ASSERT_NE(dest.p2p_addr, dest.addr);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  // The P2P port is not the migration endpoint: sending there fails.
  auto p2p_port = std::to_string(net::HostPort::parse(dest.p2p_addr).value().port);
  auto wrong = net.backup_cli(0, {"put-keyshares", "--destination-migration-port", p2p_port, "--request-timeout-seconds", "2"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.output;
  ::unsetenv("SIGNER_ACCOUNT_ID");  // found by the destination's key instead
  auto p = testsupport::run({testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(0).string(), "put-keyshares",
                             "--mpc-node-p2p-key", dest.tls_text(), "--destination-migration-port",
                             std::to_string(dest.migration_port())});
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("migration of " + net.node(0).account_id + " goes to TLS key " + dest.tls_text() + " at " + dest.addr),
            std::string::npos)
      << p.output;
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key));
}

TEST(EndToEnd, CancelledMigrationIsRefusedByTheDestinationAndNeverConcludes) {
  Network net;
  back_up(net, 0);
  auto dest = net.new_node(0);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  auto cancel = net.backup_cli(0, {"cancel-migration"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  // With the chain check: refused before sending anything.
  auto checked = put(net, 0, dest);
  EXPECT_EQ(checked.exit_code, 5) << checked.output;
  EXPECT_NE(checked.output.find("no ongoing migration"), std::string::npos) << checked.output;
  // Without it, the destination itself refuses (409) once it has seen the cancellation.
  ASSERT_TRUE(wait_for([&] { return metric_value(fetch_metrics(dest.metrics_addr), "mpc_migration_destination") == 0; }));
  auto direct = put(net, 0, dest, false);
  EXPECT_EQ(direct.exit_code, 5) << direct.output;
  EXPECT_NE(direct.output.find("not the destination"), std::string::npos) << direct.output;
  // It holds no shares, so it has nothing to conclude with; the contract is unchanged.
  EXPECT_FALSE(fs::exists(dest.home / "keyshares.enc"));
  EXPECT_NE(net.participant(dest.account_id)->tls_public_key, dest.tls_key);
}

TEST(EndToEnd, ResharingStartedDuringAMigrationCancelsIt) {
  Network net;
  back_up(net, 0);
  auto dest = net.new_node(0);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  ASSERT_TRUE(net.migrations()[net.node(0).account_id].migration);
  const auto state = net.state();
  auto* running = state.running();
  ASSERT_NE(running, nullptr);
  const json args = {{"prospective_epoch_id", running->keyset.epoch_id + 1}, {"proposal", to_json(running->parameters)}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_new_parameters", args, false));
  // The nodes run the resharing themselves: Resharing now, Running at the next epoch soon.
  auto m = net.migrations();
  EXPECT_TRUE(m.find(net.node(0).account_id) == m.end() || !m[net.node(0).account_id].migration);
  ASSERT_TRUE(wait_for([&] { return metric_value(fetch_metrics(dest.metrics_addr), "mpc_migration_destination") == 0; }));
  auto direct = put(net, 0, dest, false);
  EXPECT_EQ(direct.exit_code, 5) << direct.output;
  // Refused either way: while Resharing ("not Running"), or after it, as the
  // migration is gone ("not the destination").
  EXPECT_TRUE(direct.output.find("not Running") != std::string::npos || direct.output.find("not the destination") != std::string::npos)
      << direct.output;
  ASSERT_TRUE(wait_for([&] {
    const auto s = net.state();
    return s.running() != nullptr && s.running()->keyset.epoch_id == running->keyset.epoch_id + 1;
  }, 60s)) << net.state().name();
  m = net.migrations();
  EXPECT_TRUE(m.find(net.node(0).account_id) == m.end() || !m[net.node(0).account_id].migration) << "the migration stays cancelled";
}

TEST(EndToEnd, ConcludeWithAStaleKeysetOrAnotherKeyIsRejected) {
  Network net;
  auto dest = net.new_node(0, true, false);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  auto stale = net.keyset();
  stale.epoch_id += 1;
  auto r = net.call_with(dest.home / "access_key.json", "conclude_node_migration", {{"keyset", to_json(stale)}}, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("keyset differs"), std::string::npos) << r.error().message;
  // The operator's own key is not the registered destination access key.
  r = net.operator_call(0, "conclude_node_migration", {{"keyset", to_json(net.keyset())}}, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("different public key"), std::string::npos) << r.error().message;
  EXPECT_TRUE(net.migrations()[net.node(0).account_id].migration);  // nothing changed
}

TEST(EndToEnd, BackMigrationAToBToA) {
  Network net;
  back_up(net, 0);
  const auto a_key = net.node_tls_key(0);
  auto b = net.new_node(0);
  ASSERT_EQ(start_migration(net, 0, b).exit_code, 0);
  ASSERT_EQ(put(net, 0, b).exit_code, 0);
  ASSERT_TRUE(net.wait_participant_key(b.account_id, b.tls_key));
  // Back to A: the original node, still running, whose access key the account holds.
  NewNode a;
  a.account_id = net.node(0).account_id;
  a.addr = net.node(0).migration_addr;
  a.p2p_addr = net.node(0).p2p_addr;
  a.tls_key = a_key;
  {
    auto creds = core::read_credentials_file(net.devnet().path(net.node(0).home) / "access_key.json");
    ASSERT_TRUE(creds);
    a.access_key = creds->secret_key.public_key();
  }
  // A still holds the shares of the running keyset: it concludes by itself,
  // without a put-keyshares.
  ASSERT_EQ(start_migration(net, 0, a).exit_code, 0);
  ASSERT_TRUE(net.wait_participant_key(a.account_id, a_key));
}

TEST(EndToEnd, SandboxRestartedMidMigration) {
  Network net;
  back_up(net, 0);
  auto dest = net.new_node(0);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  net.stop_devnet_process("sandbox", true);  // kill -9
  net.restart_devnet();
  ASSERT_TRUE(net.migrations()[net.node(0).account_id].migration);  // durable
  auto p = put(net, 0, dest);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key));
}

TEST(EndToEnd, NodeRestartedAfterImportBeforeConcludeStillConcludes) {
  Network net;
  back_up(net, 0);
  // The new node's access key is not on the account yet: it imports but cannot conclude.
  auto dest = net.new_node(0, false);
  ASSERT_EQ(start_migration(net, 0, dest).exit_code, 0);
  auto p = put(net, 0, dest);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  // It tried to conclude and the chain refused its key.
  ASSERT_TRUE(wait_for([&] {
    return metric_value(fetch_metrics(dest.metrics_addr), "mpc_onboarding_conclude_calls_total{outcome=\"failed\"}") >= 1;
  }));
  EXPECT_NE(net.participant(dest.account_id)->tls_public_key, dest.tls_key);
  dest.process->kill_hard();
  ASSERT_TRUE(net.add_access_key(0, dest.access_key));
  net.start(dest);
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key));
}

}  // namespace
}  // namespace mpc::e2e
