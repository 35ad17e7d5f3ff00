// backup-cli as an operator runs it, against real mpc-node and mpc-sandbox
// processes: exit codes, refusals before any traffic, secrets never echoed,
// the reference home format, and crash safety of the backup store.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <thread>

#include "support/fixtures.h"
#include "backup/home.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "e2e/e2e_support.h"

namespace mpc {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;
using e2e::Network;
using testsupport::RunResult;

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

class BackupCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    net_ = new Network();
    ASSERT_EQ(net_->backup_cli(0, {"generate-keys"}).exit_code, 0);
    auto reg = net_->backup_cli(0, {"register"});
    ASSERT_EQ(reg.exit_code, 0) << reg.output;
    ASSERT_TRUE(net_->wait_node_metric(0, "mpc_backup_service_registered", [](double v) { return v == 1; }))
        << "node0 never saw the registration";
  }
  static void TearDownTestSuite() { delete net_; }

  // backup-cli with operator 0's environment and the given home.
  static RunResult cli(std::vector<std::string> args, const fs::path& home = {}) {
    if (!home.empty()) {
      args.insert(args.begin(), {"--home-dir", home.string()});
      std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string()};
      net_->backup_cli(0, {"--help"});  // exports operator 0's environment
      argv.insert(argv.end(), args.begin(), args.end());
      return testsupport::run(argv, 60s);
    }
    return net_->backup_cli(0, args);
  }
  static std::vector<std::string> node0(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"--mpc-node-address", net_->node(0).migration_addr, "--mpc-node-p2p-key",
                                  key_text(net_->node_tls_key(0)), "--request-timeout-seconds", "3"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::vector<std::string> with(std::string cmd, std::vector<std::string> args) {
    args.insert(args.begin(), cmd);
    return args;
  }
  static std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out[e.path().filename().string()] = *core::read_file(e.path());
    return out;
  }

  static Network* net_;
};
Network* BackupCli::net_ = nullptr;

TEST_F(BackupCli, BacksUpVerifiesAndReportsStatus) {
  auto get = cli(with("get-keyshares", node0()));
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("fetching key shares of epoch 0"), std::string::npos) << get.output;  // says what it does
  auto verify = cli({"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  auto status = cli({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("matches this home's key"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("coverage:        up to date"), std::string::npos) << status.output;
  struct stat st {};
  ASSERT_EQ(::stat(net_->backup_home(0).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((net_->backup_home(0) / "secrets.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((net_->backup_home(0) / "permanent_keys" / "epoch_0_with_2_domains").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(BackupCli, BadFlagsFailBeforeAnyTrafficNamingTheFlagNeverTheSecret) {
  const std::string secret_url = "http://127.0.0.1:1/apikey-SECRET123?key=SECRET456";
  ::setenv("BACKUP_RPC_URL", secret_url.c_str(), 1);
  const std::string good_key = net_->encryption_key_hex(0);
  struct Case {
    std::vector<std::string> args;
    std::string env_key;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--mpc-node-address", "127.0.0.1", "--mpc-node-p2p-key", key_text(net_->node_tls_key(0))}, good_key, "--mpc-node-address"},
      {{"--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key", "4nRvSHtSJqEAGf77n22nU5PF1uspPsS7uNwkPDfuQVY8"}, good_key,
       "--mpc-node-p2p-key"},
      {{"--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key", key_text(net_->node_tls_key(0))}, good_key.substr(0, 62),
       "BACKUP_ENCRYPTION_KEY_HEX"},
      {{"--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key", key_text(net_->node_tls_key(0))}, good_key + "\n",
       "BACKUP_ENCRYPTION_KEY_HEX"},
      {{"--mpc-node-address", "127.0.0.1:1", "--mpc-node-p2p-key", key_text(net_->node_tls_key(0)), "--request-timeout-seconds", "0"},
       good_key, "--request-timeout-seconds"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "--home-dir", net_->backup_home(0).string(),
                                     "get-keyshares", "--rpc-url", secret_url, "--mpc-contract-account-id", net_->contract()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ::setenv("BACKUP_ENCRYPTION_KEY_HEX", c.env_key.c_str(), 1);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = testsupport::run(argv, 20s);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.names), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("SECRET"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(good_key.substr(0, 20)), std::string::npos) << r.output;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "validation must not wait for the network";
  }
  ::setenv("BACKUP_ENCRYPTION_KEY_HEX", good_key.c_str(), 1);
  for (const char* sub : {"get-keyshares", "put-keyshares", "run", "register", "status"}) {
    auto help = testsupport::run({testsupport::binary("apps/backup-cli").string(), sub, "--help"});
    EXPECT_EQ(help.output.find("SECRET"), std::string::npos) << help.output;
    EXPECT_EQ(help.output.find(good_key.substr(0, 20)), std::string::npos) << help.output;
  }
  ::unsetenv("BACKUP_RPC_URL");
}

// Bad inputs map to the README's exit-code table; the chain is read only
// when both an RPC endpoint and a contract are given.
TEST_F(BackupCli, EveryBadInputIsAUsageErrorAndTheRpcUrlAloneChangesNothing) {
  const fs::path dir = net_->dir() / "inputs";
  fs::create_directories(dir);
  ASSERT_TRUE(core::write_file_atomic(dir / "not-json.json", core::as_bytes(std::string("{not json")), 0600));
  ASSERT_TRUE(core::write_file_atomic(dir / "wrong-shape.json", core::as_bytes(std::string("{\"Running\":{\"keyset\":7}}")), 0600));
  const std::string state = to_json(net_->state()).dump();
  ASSERT_TRUE(core::write_file_atomic(dir / "state.json", core::as_bytes(state), 0600));
  net_->backup_cli(0, {"--help"});  // exports operator 0's environment
  const auto bin = testsupport::binary("apps/backup-cli").string();
  const auto home = net_->backup_home(0).string();
  auto get = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin, "--home-dir", home, "get-keyshares"};
    for (const auto& a : node0()) argv.push_back(a);
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testsupport::run(argv, 30s);
  };
  ::unsetenv("MPC_CONTRACT_ACCOUNT_ID");
  ::unsetenv("BACKUP_RPC_URL");
  struct Case {
    std::vector<std::string> extra;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--rpc-url", "not a url", "--mpc-contract-account-id", net_->contract()}, "--rpc-url"},
      {{"--contract-state-file", (dir / "not-json.json").string()}, "is not JSON"},
      {{"--contract-state-file", (dir / "wrong-shape.json").string()}, "is not a contract state"},
      {{"--contract-state-file", (dir / "missing.json").string()}, "cannot read the contract state"},
      {{}, "contract_state.json"},  // neither a file nor the chain: HOME/contract_state.json is missing
  };
  for (const auto& c : cases) {
    auto r = get(c.extra);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
  }
  // An exported BACKUP_RPC_URL alone (here unreachable) is not used: the
  // keyset comes from the file and the backup succeeds.
  ::setenv("BACKUP_RPC_URL", "http://127.0.0.1:1", 1);
  auto file_only = get({"--contract-state-file", (dir / "state.json").string()});
  EXPECT_EQ(file_only.exit_code, 0) << file_only.output;
  EXPECT_EQ(file_only.output.find("reading the contract state"), std::string::npos) << file_only.output;
  ::unsetenv("BACKUP_RPC_URL");
  // A scheme in --mpc-node-address is named as such.
  auto scheme = testsupport::run({bin, "--home-dir", home, "get-keyshares", "--mpc-node-address", "http://node.example:8079",
                                  "--mpc-node-p2p-key", key_text(net_->node_tls_key(0))});
  EXPECT_EQ(scheme.exit_code, 2) << scheme.output;
  EXPECT_NE(scheme.output.find("no scheme"), std::string::npos) << scheme.output;
  EXPECT_EQ(scheme.output.find("IPv6"), std::string::npos) << scheme.output;
}

// With the chain, a home whose key the contract does not register for the
// node's account is refused before any connection: exit 4, both keys named.
TEST_F(BackupCli, AnUnregisteredHomeIsRefusedBeforeConnecting) {
  const fs::path home = net_->dir() / "unregistered-home";
  ASSERT_EQ(cli({"generate-keys"}, home).exit_code, 0);
  auto r = cli(with("get-keyshares", node0()), home);
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("registers the backup service key"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("fetching key shares"), std::string::npos) << r.output;  // no connection was made
}

TEST(Binaries, EveryBinaryPrintsItsVersion) {
  for (const char* name : {"backup-cli", "mpc-node", "mpc-sandbox", "mpc-devnet"}) {
    auto r = testsupport::run({testsupport::binary(std::string("apps/") + name).string(), "--version"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.output;
    EXPECT_EQ(r.output.rfind(std::string(name) + " ", 0), 0u) << r.output;
  }
}

TEST_F(BackupCli, ExitCodesSayWhatWentWrong) {
  ASSERT_EQ(cli(with("get-keyshares", node0())).exit_code, 0);
  const auto before = snapshot(net_->backup_home(0) / "permanent_keys");
  // The node's key is not the one given: authentication, both keys named.
  const auto wrong = core::Ed25519SecretKey::generate().public_key();
  auto auth = cli({"get-keyshares", "--mpc-node-address", net_->node(0).migration_addr, "--mpc-node-p2p-key", key_text(wrong)});
  EXPECT_EQ(auth.exit_code, 4) << auth.output;
  EXPECT_NE(auth.output.find(key_text(wrong)), std::string::npos) << auth.output;
  EXPECT_NE(auth.output.find(key_text(net_->node_tls_key(0))), std::string::npos) << auth.output;
  // Node down: network, within the deadline.
  testsupport::ClosedPort down_port;
  const auto t0 = std::chrono::steady_clock::now();
  auto down = cli({"get-keyshares", "--mpc-node-address",
                   down_port.addr(), "--mpc-node-p2p-key",
                   key_text(net_->node_tls_key(0)), "--request-timeout-seconds", "2"});
  EXPECT_EQ(down.exit_code, 3) << down.output;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // Wrong AES key: the node's answer does not decrypt.
  core::SecretBytes other(32);
  core::random_fill(other.mutable_view());
  ::setenv("BACKUP_ENCRYPTION_KEY_HEX", core::hex_encode(other.view()).c_str(), 1);
  std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "--home-dir", net_->backup_home(0).string(),
                                   "get-keyshares"};
  for (const auto& a : node0()) argv.push_back(a);
  auto aes = testsupport::run(argv, 30s);
  EXPECT_EQ(aes.exit_code, 4) << aes.output;
  EXPECT_NE(aes.output.find("do not decrypt"), std::string::npos) << aes.output;
  // A keyset the node's shares do not match (the real mainnet state as HOME/contract_state.json).
  ASSERT_TRUE(core::write_file_atomic(
      net_->backup_home(0) / "contract_state.json",
      core::as_bytes(*core::read_file(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"))),
      0600));
  ::unsetenv("BACKUP_RPC_URL");
  auto mismatch = testsupport::run([&] {
    std::vector<std::string> v = {testsupport::binary("apps/backup-cli").string(), "--home-dir", net_->backup_home(0).string(),
                                  "get-keyshares"};
    for (const auto& a : node0()) v.push_back(a);
    return v;
  }(), 30s);
  ::setenv("BACKUP_ENCRYPTION_KEY_HEX", net_->encryption_key_hex(0).c_str(), 1);
  EXPECT_EQ(mismatch.exit_code, 5) << mismatch.output;
  fs::remove(net_->backup_home(0) / "contract_state.json");
  // None of this touched the backup.
  EXPECT_EQ(snapshot(net_->backup_home(0) / "permanent_keys"), before);
  EXPECT_EQ(cli({"verify"}).exit_code, 0);
}

TEST_F(BackupCli, PutWithoutABackupAndGenerateKeysTwiceAreRefused) {
  const auto home = net_->dir() / "empty-home";
  ASSERT_EQ(cli({"generate-keys"}, home).exit_code, 0);
  auto put = cli(with("put-keyshares", node0()), home);
  EXPECT_EQ(put.exit_code, 5) << put.output;
  EXPECT_NE(put.output.find("no backup stored"), std::string::npos) << put.output;
  const auto secrets = *core::read_file(home / "secrets.json");
  auto again = cli({"generate-keys"}, home);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
  EXPECT_EQ(*core::read_file(home / "secrets.json"), secrets);
  auto forced = cli({"generate-keys", "--force"}, home);
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  bool copy_found = false;
  for (const auto& e : fs::directory_iterator(home))
    if (e.path().filename().string().rfind("secrets.json.bak-", 0) == 0) {
      copy_found = true;
      EXPECT_EQ(*core::read_file(e.path()), secrets);
      struct stat st {};
      ::stat(e.path().c_str(), &st);
      EXPECT_EQ(st.st_mode & 0777, 0600u);
    }
  EXPECT_TRUE(copy_found);
}

// A home in the reference backup-cli's format, written by hand from interop §6.
TEST_F(BackupCli, ReadsAReferenceFormatHome) {
  ASSERT_EQ(cli(with("get-keyshares", node0())).exit_code, 0);
  auto mine = backup::BackupStore(net_->backup_home(0), backup::BackupHome(net_->backup_home(0)).load_secrets()->local_storage_aes_key.clone())
                  .load_newest();
  ASSERT_TRUE(mine && *mine);
  const auto home = net_->dir() / "reference-home";
  fs::create_directories(home / "permanent_keys");
  auto ints = [](std::size_t n) {
    json a = json::array();
    auto b = core::random_bytes(n);
    for (auto x : b) a.push_back(static_cast<int>(x));
    return a;
  };
  // Same p2p key as the registered one, so the node would accept this home too.
  json p2p = json::array();
  auto registered = backup::BackupHome(net_->backup_home(0)).load_secrets();
  ASSERT_TRUE(registered);
  for (auto x : registered->p2p_private_key.seed().view()) p2p.push_back(static_cast<int>(x));
  json aes = ints(16);
  ASSERT_TRUE(core::write_file_exclusive(
      home / "secrets.json", core::as_bytes(json{{"p2p_private_key", p2p}, {"near_signer_key", ints(32)}, {"local_storage_aes_key", aes}}.dump())));
  core::SecretBytes aes_key(16);
  for (std::size_t i = 0; i < 16; ++i) aes_key.data()[i] = static_cast<std::uint8_t>(aes[i].get<int>());
  json plain = {{"epoch_id", 0}, {"keyshares", json::array()}};
  for (const auto& s : (*mine)->keyshares) plain["keyshares"].push_back(to_json(s));
  auto sealed = core::aes_gcm_encrypt(aes_key, core::as_bytes(plain.dump()));
  ASSERT_TRUE(core::write_file_exclusive(home / "permanent_keys" / "epoch_0_with_2_domains", *sealed));
  fs::create_hard_link(home / "permanent_keys" / "epoch_0_with_2_domains", home / "key");

  auto verify = cli({"verify"}, home);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  auto status = cli({"status"}, home);
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("up to date"), std::string::npos) << status.output;
  // And it continues the home in the same format (identical content: already stored).
  auto get = cli(with("get-keyshares", node0()), home);
  EXPECT_EQ(get.exit_code, 0) << get.output;
  EXPECT_NE(get.output.find("already stored"), std::string::npos) << get.output;
}

TEST_F(BackupCli, KillDuringAStoreLeavesTheBackupLoadable) {
  // The registered backup service's secrets, in a home of their own.
  const auto home = net_->dir() / "kill-home";
  fs::create_directories(home);
  fs::permissions(home, fs::perms::owner_all);
  ASSERT_TRUE(core::write_file_exclusive(home / "secrets.json", core::as_bytes(*core::read_file(net_->backup_home(0) / "secrets.json"))));
  ASSERT_EQ(cli(with("get-keyshares", node0()), home).exit_code, 0);
  std::mt19937 rng(11);
  for (int round = 0; round < 8; ++round) {
    fs::remove(home / "key");  // force a real store each round (re-links `key`)
    for (const auto& e : fs::directory_iterator(home / "permanent_keys")) fs::remove(e.path());
    ASSERT_EQ(cli(with("get-keyshares", node0()), home).exit_code, 0);
    std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "--home-dir", home.string(), "get-keyshares"};
    for (const auto& a : node0()) argv.push_back(a);
    testsupport::Child p(argv, net_->dir() / "kill.log");
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)));
    p.kill_hard();
    auto verify = cli({"verify"}, home);
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
  }
}

TEST_F(BackupCli, HelpDocumentsTheExitCodes) {
  auto help = testsupport::run({testsupport::binary("apps/backup-cli").string(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* code : {"0 success", "1 other", "2 usage", "3 network", "4 authentication", "5 validation", "6 the chain"})
    EXPECT_NE(help.output.find(code), std::string::npos) << code;
  auto usage = testsupport::run({testsupport::binary("apps/backup-cli").string(), "--home-dir", "/tmp", "nope"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace mpc
