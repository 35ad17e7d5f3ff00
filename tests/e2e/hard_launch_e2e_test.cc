// Hard launch end to end (issue 15), with mock attestations on a contract
// configured for development: nodes run --require-attested-backup-service
// and attest themselves; the backup service runs `backup-cli run --tee` with
// its keys in memory and its AES key sealed to it by the operator.
//   - the whole migration works with only start_node_migration from the operator;
//   - a backup service with no attestation, or an expired one, gets nothing
//     (the node says why); a destination that has not attested cannot conclude.
#include <gtest/gtest.h>

#include <chrono>

#include "core/file_util.h"
#include "e2e_support.h"
#include "operator_steps.h"

namespace mpc::e2e {
namespace {

using namespace std::chrono_literals;

devnet::DevnetSpec hard_launch_spec() {
  devnet::DevnetSpec spec = dealt_spec();
  spec.hard_launch = true;
  return spec;
}

double node_metric(Network& net, std::size_t i, const std::string& series) {
  return metric_value(fetch_metrics(net.node(i).metrics_addr), series);
}

std::string node_log(Network& net, std::size_t i) {
  return core::read_file(net.devnet().run_dir() / ("node" + std::to_string(i) + ".log"), 16 << 20).value_or("");
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(HardLaunch, TheWholeMigrationTakesOnlyStartNodeMigrationFromTheOperator) {
  Network net(hard_launch_spec());
  auto dest = net.new_node(0);  // the new machine: attests itself before it concludes
  auto tee = start_tee_daemon(net, 0, dest.migration_port());
  ASSERT_NO_FATAL_FAILURE(admit_tee_daemon(net, 0, tee));
  // Registered with its attestation, provisioned: it backs node0 up.
  ASSERT_TRUE(wait_for([&] { return metric_value(fetch_metrics(tee.daemon.metrics_addr), "backup_backups_total") >= 1; }, 60s))
      << tee.daemon.text();
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                                  "--destination-access-key", dest.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  // The service pushes the shares; the new node checks the service's
  // attestation, stores them, attests itself and concludes.
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key, 60s)) << tee.daemon.text();
  EXPECT_GE(metric_value(fetch_metrics(dest.metrics_addr), "mpc_attestation_submissions_total{outcome=\"accepted\"}"), 1);
  EXPECT_LE(node_metric(net, 0, "mpc_connections_refused_total{reason=\"backup_service_not_attested\"}"), 0);
  EXPECT_EQ(tee.daemon.process->terminate(), 0);
}

TEST(HardLaunch, AnUnattestedOrExpiredBackupServiceGetsNothingAndTheNodeSaysWhy) {
  Network net(hard_launch_spec());
  // A soft-launch backup service: registered without an attestation.
  ASSERT_EQ(net.backup_cli(0, {"generate-keys"}).exit_code, 0);
  ASSERT_EQ(net.backup_cli(0, {"register"}).exit_code, 0);
  auto get = [&] {
    return net.backup_cli(0, {"get-keyshares", "--mpc-node-address", net.node(0).migration_addr, "--mpc-node-p2p-key",
                              key_text(net.node_tls_key(0)), "--request-timeout-seconds", "3"});
  };
  auto refused = get();
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  ASSERT_TRUE(wait_for([&] { return node_metric(net, 0, "mpc_connections_refused_total{reason=\"backup_service_not_attested\"}") >= 1; }))
      << node_log(net, 0);
  EXPECT_NE(node_log(net, 0).find("holds no attestation for this account's backup service"), std::string::npos) << node_log(net, 0);

  // Attested (a mock that expires in a few seconds): served, then refused.
  const auto registered = net.migrations().at(net.node(0).account_id).backup_service;
  ASSERT_TRUE(registered);
  const std::int64_t expiry = unix_now() + 8;
  auto r = net.operator_call(0, "register_backup_service",
                             {{"backup_service_info",
                               {{"public_key", key_text(registered->public_key)},
                                {"attestation", {{"Mock", {{"WithConstraints", {{"expiry_timestamp_seconds", expiry}}}}}}}}}},
                             false);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(wait_for([&] { return get().exit_code == 0; }, 20s)) << node_log(net, 0);
  ASSERT_TRUE(wait_for([&] { return get().exit_code != 0; }, 30s)) << "still served after the attestation expired";
  EXPECT_GE(unix_now(), expiry);
  EXPECT_GE(node_metric(net, 0, "mpc_connections_refused_total{reason=\"backup_service_attestation_expired\"}"), 1) << node_log(net, 0);
  EXPECT_NE(node_log(net, 0).find("attestation expired"), std::string::npos);
}

TEST(HardLaunch, ADestinationThatHasNotAttestedCannotConclude) {
  Network net(hard_launch_spec());
  auto dest = net.new_node(0, true, false);  // not started: it never attests
  auto start = net.backup_cli(0, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                                  "--destination-access-key", dest.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  auto r = net.call_with(dest.home / "access_key.json", "conclude_node_migration", {{"keyset", to_json(net.keyset())}}, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no attestation has been submitted"), std::string::npos) << r.error().message;
  EXPECT_NE(net.participant(dest.account_id)->tls_public_key, dest.tls_key) << "the contract is unchanged";
}

}  // namespace
}  // namespace mpc::e2e
