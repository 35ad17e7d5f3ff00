#include "operator_steps.h"

#include <gtest/gtest.h>

#include <regex>

#include "backup/service.h"
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

TeeDaemon start_tee_daemon(Network& net, std::size_t i, std::uint16_t migration_port) {
  TeeDaemon t;
  t.home = net.dir() / ("tee-home-" + std::to_string(i));
  t.daemon.log = net.dir() / ("tee-daemon-" + std::to_string(i) + ".log");
  // The operator's environment (backup_cli exports it), minus the secrets a
  // TEE service must not get from outside: its AES key comes sealed.
  net.backup_cli(i, {"--help"});
  ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
  ::unsetenv("SIGNER_KEY_FILE");
  t.daemon.process = std::make_unique<testsupport::Child>(
      std::vector<std::string>{testsupport::binary("apps/backup-cli").string(), "--home-dir", t.home.string(), "run", "--tee",
                               "--mock-attestation", "--provision-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
                               "--mpc-node-address", net.node(i).migration_addr, "--mpc-node-p2p-key", key_text(net.node_tls_key(i)),
                               "--poll-interval-seconds", "1", "--request-timeout-seconds", "3", "--destination-migration-port",
                               std::to_string(migration_port)},
      t.daemon.log);
  const std::regex signer_re(R"(signer public key: (ed25519:[1-9A-HJ-NP-Za-km-z]+))");
  std::string signer;
  const bool found = wait_for([&] {
    std::smatch m;
    const std::string text = t.daemon.text();
    if (!std::regex_search(text, m, signer_re)) return false;
    signer = m[1].str();
    return true;
  });
  if (!found) throw std::runtime_error("backup-cli run --tee did not print its signer key; see " + t.daemon.log.string());
  t.signer_key = core::parse_ed25519_public_key(signer).value();
  auto addr = testsupport::wait_for_file(backup::provision_addr_file(t.home), 20s);
  if (!addr) throw std::runtime_error("backup-cli run --tee wrote no provision.addr; see " + t.daemon.log.string());
  t.provision_url = "http://" + *addr;
  t.daemon.metrics_addr = bound_metrics_addr(t.daemon.log);
  return t;
}

void admit_tee_daemon(Network& net, std::size_t i, const TeeDaemon& t) {
  ASSERT_TRUE(net.add_access_key(i, t.signer_key));
  ::setenv("BACKUP_ENCRYPTION_KEY_HEX", net.encryption_key_hex(i).c_str(), 1);
  auto r = testsupport::run({testsupport::binary("apps/backup-cli").string(), "provision-key", "--backup-service-url", t.provision_url,
                             "--allow-mock-attestation", "--request-timeout-seconds", "5"},
                            30s);
  ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace mpc::e2e
