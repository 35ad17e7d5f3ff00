// backup-cli's subcommands from flag values, with no chain and no node: what
// each checks before any traffic (and so which exit class it reports), and
// what it prints.
#include "backup/commands.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/near_key.h"

namespace mpc::backup {
namespace {

namespace fs = std::filesystem;
using Kind = CommandError::Kind;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpc-commands-" + core::hex_encode(core::random_bytes(6)));
    o_.home_dir = dir_.string();
    o_.progress = [this](const std::string& what) { progress_.push_back(what); };
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Asserts a failure of `kind` whose message holds `text`.
  static void expect_error(const CommandResult& r, Kind kind, const std::string& text) {
    ASSERT_FALSE(r) << *r;
    EXPECT_EQ(r.error().kind, kind) << r.error().error.message;
    EXPECT_NE(r.error().error.message.find(text), std::string::npos) << r.error().error.message;
  }

  fs::path dir_;
  CommandOptions o_;
  std::vector<std::string> progress_;
};

TEST_F(CommandsTest, CommonOptionsAreCheckedBeforeAnything) {
  EXPECT_TRUE(check_common_options(o_, false));
  auto o = o_;
  o.home_dir.clear();
  EXPECT_NE(check_common_options(o, false).error().message.find("--home-dir"), std::string::npos);
  o = o_;
  o.request_timeout_seconds = 0;
  EXPECT_NE(check_common_options(o, false).error().message.find("--request-timeout-seconds"), std::string::npos);
  o = o_;
  o.destination_migration_port = 70000;
  EXPECT_NE(check_common_options(o, false).error().message.find("--destination-migration-port"), std::string::npos);
  o = o_;
  EXPECT_NE(check_common_options(o, true).error().message.find("--mpc-contract-account-id"), std::string::npos);
  o.contract_id = "v1.signer";
  o.signer_account_id = "NOT valid";
  EXPECT_NE(check_common_options(o, true).error().message.find("--signer-account-id"), std::string::npos);
}

TEST_F(CommandsTest, GenerateKeysPrintsThePublicKeysAndNeverOverwrites) {
  auto first = generate_keys_command(o_);
  ASSERT_TRUE(first) << first.error().error.message;
  EXPECT_NE(first->find("p2p public key:    ed25519:"), std::string::npos) << *first;
  EXPECT_NE(first->find("signer public key: ed25519:"), std::string::npos) << *first;
  expect_error(generate_keys_command(o_), Kind::kOther, "--force keeps a timestamped copy");
}

TEST_F(CommandsTest, RegisterPrintsTheNearCliCommandWithoutAnRpcUrl) {
  o_.contract_id = "v1.signer";
  expect_error(register_command(o_), Kind::kOther, "generate-keys");  // no secrets yet
  ASSERT_TRUE(generate_keys_command(o_));
  expect_error(register_command(o_), Kind::kUsage, "--signer-account-id");
  o_.signer_account_id = "alice.near";
  expect_error(register_command(o_), Kind::kUsage, "--near-network");
  o_.near_network = "mainnet";
  auto r = register_command(o_);
  ASSERT_TRUE(r) << r.error().error.message;
  EXPECT_NE(r->find("register_backup_service"), std::string::npos) << *r;
  EXPECT_NE(r->find("alice.near"), std::string::npos) << *r;
}

TEST_F(CommandsTest, NodeFlagsAreUsageErrorsNamingTheFlag) {
  o_.node_address = "https://node.example:8079";
  expect_error(get_keyshares_command(o_), Kind::kUsage, "--mpc-node-address: expected HOST:PORT with no scheme");
  expect_error(put_keyshares_command(o_), Kind::kUsage, "--mpc-node-address");
  expect_error(run_command(o_, [] {}), Kind::kUsage, "--mpc-node-address");
  o_.node_address = "node.example:8079";
  o_.node_p2p_key = "ed25519:short";
  expect_error(get_keyshares_command(o_), Kind::kUsage, "--mpc-node-p2p-key");
  o_.node_p2p_key = core::ed25519_public_key_to_string(core::Ed25519SecretKey::generate().public_key());
  o_.encryption_key_hex = "00";
  expect_error(get_keyshares_command(o_), Kind::kUsage, "BACKUP_ENCRYPTION_KEY_HEX");
  o_.encryption_key_hex = std::string(64, 'a');
  o_.metrics_addr = "node.example:9102";
  expect_error(run_command(o_, [] {}), Kind::kUsage, "--metrics-addr");
  EXPECT_TRUE(progress_.empty());  // nothing was attempted
}

TEST_F(CommandsTest, WithoutTheChainTheContractStateFileMustBeAContractState) {
  ASSERT_TRUE(generate_keys_command(o_));
  o_.node_address = "node.example:8079";
  o_.node_p2p_key = core::ed25519_public_key_to_string(core::Ed25519SecretKey::generate().public_key());
  o_.encryption_key_hex = std::string(64, 'a');
  expect_error(get_keyshares_command(o_), Kind::kUsage, "contract_state.json");
  std::ofstream(dir_ / "contract_state.json") << "not json";
  expect_error(get_keyshares_command(o_), Kind::kUsage, "is not JSON");
  expect_error(verify_command(o_), Kind::kUsage, "is not JSON");
  std::ofstream(dir_ / "contract_state.json") << R"("NotInitialized")";
  expect_error(verify_command(o_), Kind::kClassified, "");  // a state, but no keyset to verify against
}

TEST_F(CommandsTest, TransactionsNeedASignerKeyFileForTheGivenAccount) {
  o_.contract_id = "v1.signer";
  o_.rpc_url = "http://127.0.0.1:1";
  expect_error(cancel_migration_command(o_), Kind::kUsage, "--signer-key-file is required");
  o_.signer_key_file = (dir_ / "missing.json").string();
  expect_error(cancel_migration_command(o_), Kind::kUsage, "--signer-key-file: ");
  o_.destination_url = "not a url";
  expect_error(start_migration_command(o_), Kind::kUsage, "");
  EXPECT_TRUE(progress_.empty());
}

}  // namespace
}  // namespace mpc::backup
