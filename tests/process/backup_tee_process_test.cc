// backup-cli run --tee and provision-key as an operator runs them, against a
// real mpc-sandbox chain and real mpc-node processes (mock attestations): the
// service prints its signer key, registers itself with a Mock attestation
// once the operator adds that key, takes the AES key sealed by provision-key
// exactly once (refusing a mock attestation unless allowed), then backs the
// node up with the registered TLS key, holding nothing on disk.
#include <gtest/gtest.h>

#include <regex>

#include "backup/service.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "core/near_key.h"
#include "e2e/e2e_support.h"
#include "near/rpc_client.h"
#include "net/http_client.h"

namespace mpc {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;
using e2e::Network;
using testsupport::RunResult;

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

std::string read_log(const fs::path& log) { return core::read_file(log, 16 << 20).value_or(""); }

// The first match of `pattern`'s group 1 in the log, waiting for it.
std::optional<std::string> wait_log_match(const fs::path& log, const std::string& pattern, std::chrono::milliseconds timeout = 20s) {
  const std::regex re(pattern);
  std::optional<std::string> found;
  e2e::wait_for(
      [&] {
        std::smatch m;
        const std::string text = read_log(log);
        if (!std::regex_search(text, m, re)) return false;
        found = m[1].str();
        return true;
      },
      timeout);
  return found;
}

// Replaces (or adds) `key` on operator i's account as a full-access key.
core::Status add_full_access_key(Network& net, std::size_t i, const core::Ed25519PublicKey& key, bool replace) {
  MPC_ASSIGN(auto creds, core::read_credentials_file(net.operator_credentials(i)));
  MPC_ASSIGN(auto rpc, near::RpcClient::create(net.rpc_url(), near::RpcClientOptions{10s}));
  near::Signer signer(*rpc, creds.account_id, std::move(creds.secret_key));
  std::vector<near::Action> actions;
  if (replace) actions.push_back(near::DeleteKeyAction{core::NearPublicKey{key}});
  actions.push_back(near::AddKeyAction{core::NearPublicKey{key}, near::AccessKey{}});  // FullAccess by default
  MPC_TRY(signer.send(creds.account_id, std::move(actions)));
  return {};
}

class BackupTee : public ::testing::Test {
 protected:
  void SetUp() override {
    net_ = std::make_unique<Network>();
    home_ = net_->dir() / "tee-home";
    log_ = net_->dir() / "tee.log";
    // The operator's environment, as for every backup-cli command, but the
    // TEE service gets no AES key: it comes sealed from provision-key.
    net_->backup_cli(0, {"--help"});
    ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
    ::unsetenv("SIGNER_KEY_FILE");
    service_ = std::make_unique<testsupport::Child>(
        std::vector<std::string>{testsupport::binary("apps/backup-cli").string(), "--home-dir", home_.string(), "run", "--tee",
                                 "--mock-attestation", "--provision-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
                                 "--mpc-node-address", net_->node(0).migration_addr, "--mpc-node-p2p-key",
                                 key_text(net_->node_tls_key(0)), "--poll-interval-seconds", "1", "--request-timeout-seconds", "5"},
        log_);
    auto signer = wait_log_match(log_, R"(signer public key: (ed25519:[1-9A-HJ-NP-Za-km-z]+))");
    ASSERT_TRUE(signer) << read_log(log_);
    signer_key_ = core::parse_ed25519_public_key(*signer).value();
    auto addr = testsupport::wait_for_file(backup::provision_addr_file(home_), 20s);
    ASSERT_TRUE(addr) << read_log(log_);
    provision_url_ = "http://" + *addr;
    auto metrics = wait_log_match(log_, R"(metrics on http://([0-9.]+:[0-9]+)/metrics)");
    ASSERT_TRUE(metrics) << read_log(log_);
    metrics_addr_ = *metrics;
  }
  void TearDown() override {
    if (service_ && service_->running()) {
      EXPECT_EQ(service_->terminate(), 0) << read_log(log_);
      EXPECT_FALSE(fs::exists(backup::provision_addr_file(home_)));
    }
  }

  // GET /public_data of the running service.
  json public_data() {
    auto url = net::Url::parse(provision_url_ + "/public_data").value();
    auto r = net::HttpClient(url, {5s, 1 << 20}).get();
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body) : json();
  }
  RunResult provision(std::vector<std::string> extra, const std::string& key_hex) {
    ::setenv("BACKUP_ENCRYPTION_KEY_HEX", key_hex.c_str(), 1);
    std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "provision-key", "--backup-service-url",
                                     provision_url_, "--request-timeout-seconds", "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = testsupport::run(argv, 30s);
    ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
    return r;
  }
  double metric(const std::string& series) { return e2e::metric_value(e2e::fetch_metrics(metrics_addr_), series); }

  std::unique_ptr<Network> net_;
  fs::path home_, log_;
  std::unique_ptr<testsupport::Child> service_;
  core::Ed25519PublicKey signer_key_{};
  std::string provision_url_, metrics_addr_;
};

TEST_F(BackupTee, RegistersWithAMockAttestationTakesTheKeyOnceAndBacksUp) {
  const json pd = public_data();
  ASSERT_EQ(pd.value("signer_public_key", ""), key_text(signer_key_)) << pd.dump();
  const auto tls = core::parse_ed25519_public_key(pd.value("tls_public_key", "")).value();
  EXPECT_EQ(pd.value("x25519_public_key", "").size(), 64u) << pd.dump();
  EXPECT_TRUE(wait_log_match(log_, R"((waiting for the signer key))")) << read_log(log_);
  EXPECT_EQ(metric("backup_tee_registered"), 0);

  // The operator adds the signer key: first as the function-call key a node's
  // access key is. A contract that still asks a deposit of
  // register_backup_service refuses that (no deposit can be attached with a
  // function-call key) and the service says to add a full-access key.
  ASSERT_TRUE(net_->add_access_key(0, signer_key_));
  const std::string registered_line = "registered this backup service (TLS key " + key_text(tls) + ")";
  std::string outcome;
  ASSERT_TRUE(e2e::wait_for([&] {
    const std::string text = read_log(log_);
    if (text.find(registered_line) != std::string::npos) outcome = "registered";
    else if (text.find("as a full-access key)") != std::string::npos) outcome = "needs full access";
    return !outcome.empty();
  })) << read_log(log_);
  GTEST_LOG_(INFO) << "with a function-call signer key: " << outcome;
  if (outcome == "needs full access") {
    EXPECT_NE(read_log(log_).find("Attached deposit is lower than required"), std::string::npos) << read_log(log_);
    ASSERT_TRUE(add_full_access_key(*net_, 0, signer_key_, /*replace=*/true));
    ASSERT_TRUE(e2e::wait_for([&] { return read_log(log_).find(registered_line) != std::string::npos; })) << read_log(log_);
  }
  ASSERT_TRUE(e2e::wait_for([&] { return metric("backup_tee_registered") == 1; })) << read_log(log_);
  EXPECT_NE(read_log(log_).find("with a mock attestation"), std::string::npos) << read_log(log_);

  // The contract lists the service's TLS key for the account ...
  auto rpc = near::RpcClient::create(net_->rpc_url(), near::RpcClientOptions{10s}).value();
  auto info = rpc->view(net_->contract(), "migration_info");
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_TRUE((*info).contains(net_->node(0).account_id)) << info->dump();
  EXPECT_EQ((*info)[net_->node(0).account_id][0]["public_key"], key_text(tls)) << info->dump();
  // ... and, on a contract with the attestation view, as attested (Mock).
  auto attested = rpc->view(net_->contract(), "backup_service_attestation", {{"account_id", net_->node(0).account_id}});
  if (attested) {
    EXPECT_EQ((*attested)["tls_public_key"], key_text(tls)) << attested->dump();
    EXPECT_EQ((*attested)["attested"], true) << attested->dump();
    EXPECT_EQ((*attested)["kind"], "Mock") << attested->dump();
  } else {
    EXPECT_NE(attested.error().message.find("not found"), std::string::npos) << attested.error().message;
    GTEST_LOG_(INFO) << "the contract has no backup_service_attestation view yet: " << attested.error().message;
  }

  // No AES key yet: the daemon waits for it.
  EXPECT_NE(read_log(log_).find("waiting for the AES key"), std::string::npos) << read_log(log_);
  EXPECT_EQ(metric("backup_aes_key_provisioned"), 0);
  const std::string aes = net_->encryption_key_hex(0);

  // provision-key refuses a mock attestation unless told, a service whose
  // keys are not the expected ones, and a malformed key: nothing is sent.
  auto refused = provision({}, aes);
  EXPECT_EQ(refused.exit_code, 5) << refused.output;
  EXPECT_NE(refused.output.find("mock attestation"), std::string::npos) << refused.output;
  const auto other = core::Ed25519SecretKey::generate().public_key();
  auto wrong_tls = provision({"--allow-mock-attestation", "--expected-tls-key", key_text(other)}, aes);
  EXPECT_EQ(wrong_tls.exit_code, 4) << wrong_tls.output;
  EXPECT_NE(wrong_tls.output.find(key_text(other)), std::string::npos) << wrong_tls.output;
  auto wrong_signer = provision({"--allow-mock-attestation", "--expected-signer-key", key_text(other)}, aes);
  EXPECT_EQ(wrong_signer.exit_code, 4) << wrong_signer.output;
  auto bad_key = provision({"--allow-mock-attestation"}, aes.substr(0, 62));
  EXPECT_EQ(bad_key.exit_code, 2) << bad_key.output;
  EXPECT_NE(bad_key.output.find("BACKUP_ENCRYPTION_KEY_HEX"), std::string::npos) << bad_key.output;
  EXPECT_EQ(bad_key.output.find(aes.substr(0, 20)), std::string::npos) << bad_key.output;
  EXPECT_EQ(metric("backup_aes_key_provisioned"), 0);

  // The operator's key, once; a second provisioning is refused.
  auto ok = provision({"--allow-mock-attestation", "--expected-tls-key", key_text(tls), "--expected-signer-key", key_text(signer_key_)}, aes);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("provisioned the AES key"), std::string::npos) << ok.output;
  auto again = provision({"--allow-mock-attestation"}, aes);
  EXPECT_EQ(again.exit_code, 5) << again.output;
  EXPECT_NE(again.output.find("already has an AES key"), std::string::npos) << again.output;

  // With the key, the daemon backs the node up over mutual TLS with the
  // registered TLS key (the node serves only the registered backup service).
  ASSERT_TRUE(e2e::wait_for([&] { return metric("backup_backups_total") >= 1; }, 30s)) << read_log(log_);
  EXPECT_EQ(metric("backup_aes_key_provisioned"), 1);
  EXPECT_EQ(metric("backup_last_epoch"), static_cast<double>(net_->keyset().epoch_id));

  // Nothing secret on disk: the home holds only the provisioning address.
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(home_)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"provision.addr"});
  const std::string log = read_log(log_);
  EXPECT_EQ(log.find(aes), std::string::npos);
}

// Without --signer-account-id, or with a reattest interval the contract's
// 7-day expiry would outrun, run --tee refuses before any traffic.
TEST(BackupTeeFlags, RunTeeRefusesBadFlagsBeforeAnyTraffic) {
  const auto bin = testsupport::binary("apps/backup-cli").string();
  const std::vector<std::string> base = {bin, "--home-dir", "/nonexistent/hG", "run", "--tee", "--mock-attestation",
                                         "--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key",
                                         key_text(core::Ed25519SecretKey::generate().public_key()), "--rpc-url", "http://127.0.0.1:1",
                                         "--mpc-contract-account-id", "mpc.test.near"};
  ::unsetenv("SIGNER_ACCOUNT_ID");
  struct Case {
    std::vector<std::string> extra;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "--signer-account-id"},
      {{"--signer-account-id", "op.test.near", "--reattest-interval-hours", "168"}, "--reattest-interval-hours"},
      {{"--signer-account-id", "op.test.near", "--reattest-interval-hours", "0"}, "--reattest-interval-hours"},
      {{"--signer-account-id", "op.test.near", "--provision-addr", "nowhere"}, "--provision-addr"},
      {{"--signer-account-id", "op.test.near", "--dstack-socket", "/tmp/x.sock"}, "--mock-attestation excludes"},
  };
  for (const auto& c : cases) {
    auto argv = base;
    argv.insert(argv.end(), c.extra.begin(), c.extra.end());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = testsupport::run(argv, 20s);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  }
  // --mock-attestation is a --tee flag.
  auto no_tee = testsupport::run({bin, "--home-dir", "/nonexistent/hG", "run", "--mock-attestation", "--mpc-node-address", "127.0.0.1:1",
                                  "--mpc-node-p2p-key", key_text(core::Ed25519SecretKey::generate().public_key()), "--rpc-url",
                                  "http://127.0.0.1:1", "--mpc-contract-account-id", "mpc.test.near"});
  EXPECT_EQ(no_tee.exit_code, 2) << no_tee.output;
  EXPECT_NE(no_tee.output.find("go with --tee"), std::string::npos) << no_tee.output;
  // Without --tee, run still needs the AES key from the environment.
  ::unsetenv("BACKUP_ENCRYPTION_KEY_HEX");
  auto no_key = testsupport::run({bin, "--home-dir", "/nonexistent/hG", "run", "--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key",
                                  key_text(core::Ed25519SecretKey::generate().public_key()), "--rpc-url", "http://127.0.0.1:1",
                                  "--mpc-contract-account-id", "mpc.test.near"});
  EXPECT_EQ(no_key.exit_code, 2) << no_key.output;
  EXPECT_NE(no_key.output.find("BACKUP_ENCRYPTION_KEY_HEX"), std::string::npos) << no_key.output;
}

}  // namespace
}  // namespace mpc
