#include "operator_steps.h"

#include <gtest/gtest.h>

#include "core/file_util.h"

namespace mpc::e2e {

using namespace std::chrono_literals;

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

void back_up(Network& net, std::size_t i) {
  auto gen = net.backup_cli(i, {"generate-keys"});
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  auto reg = net.backup_cli(i, {"register"});
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  auto get = net.backup_cli(i, {"get-keyshares", "--mpc-node-address", net.node(i).migration_addr, "--mpc-node-p2p-key",
                                key_text(net.node_tls_key(i))});
  ASSERT_EQ(get.exit_code, 0) << get.output;
}

void migrate_manually(Network& net, std::size_t i, const NewNode& dest) {
  auto start = net.backup_cli(i, {"start-migration", "--destination-url", dest.url(), "--destination-tls-key", dest.tls_text(),
                                  "--destination-access-key", dest.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  auto put = net.backup_cli(i, {"put-keyshares", "--mpc-node-address", dest.addr, "--mpc-node-p2p-key", dest.tls_text(),
                                "--request-timeout-seconds", "5"});
  ASSERT_EQ(put.exit_code, 0) << put.output;
  ASSERT_TRUE(net.wait_participant_key(dest.account_id, dest.tls_key, 30s)) << "the migration of operator " << i << " did not conclude";
}

std::string bound_metrics_addr(const fs::path& log) {
  const std::string marker = "metrics on http://";
  std::string addr;
  const bool found = wait_for([&] {
    const auto text = core::read_file(log).value_or("");
    const auto at = text.find(marker);
    if (at == std::string::npos) return false;
    const auto end = text.find("/metrics", at + marker.size());
    if (end == std::string::npos) return false;
    addr = text.substr(at + marker.size(), end - at - marker.size());
    return true;
  });
  if (!found) throw std::runtime_error("the daemon did not report its metrics address; see " + log.string());
  return addr;
}

std::string Daemon::text() const { return core::read_file(log).value_or(""); }

Daemon start_daemon(Network& net, std::size_t i, std::uint16_t migration_port) {
  auto gen = net.backup_cli(i, {"generate-keys"});
  EXPECT_EQ(gen.exit_code, 0) << gen.output;
  auto reg = net.backup_cli(i, {"register"});
  EXPECT_EQ(reg.exit_code, 0) << reg.output;
  Daemon d;
  d.log = net.dir() / ("daemon-" + std::to_string(i) + ".log");
  // backup_cli() exported the operator's environment; the daemon inherits it.
  d.process = std::make_unique<testsupport::Child>(
      std::vector<std::string>{testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(i).string(), "run",
                               "--mpc-node-address", net.node(i).migration_addr, "--mpc-node-p2p-key",
                               key_text(net.node_tls_key(i)), "--poll-interval-seconds", "1", "--request-timeout-seconds", "3",
                               "--metrics-addr", "127.0.0.1:0", "--destination-migration-port", std::to_string(migration_port)},
      d.log);
  d.metrics_addr = bound_metrics_addr(d.log);
  return d;
}

}  // namespace mpc::e2e
