// The operator's commands over fake ports: what is read, checked, fetched,
// stored and pushed, with no chain, node or socket.
#include "backup/operator.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "support/backup/world.h"

namespace mpc::backup {
namespace {

namespace fs = std::filesystem;

using testing::clone_all;
using testing::key;
using testing::World;

// The running contract with op.test's backup service (key(5)) registered.
World world(std::uint64_t epoch) {
  World w = testing::running_world(epoch);
  w.view.migrations["op.test"].backup_service = model::BackupServiceInfo{key(5)};
  return w;
}

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::temp_directory_path() / ("mpc-operator-" + core::hex_encode(core::random_bytes(6))); }
  void TearDown() override { fs::remove_all(dir_); }
  BackupStore store() { return BackupStore(dir_, aes_.clone()); }

  // Fakes: the chain answers `world`, the node `shares`; calls are recorded.
  OperatorPorts ports(const World& w, bool with_chain = true) {
    OperatorPorts p;
    if (with_chain) p.read_chain = [&w]() -> core::Result<near::ContractView> { return w.view; };
    p.fetch = [this, &w](const NodeTarget& t, const model::Keyset&) -> core::Result<std::vector<model::Keyshare>> {
      fetched.push_back(t);
      return clone_all(w.shares);
    };
    p.push = [this](const NodeTarget& t, const std::vector<model::Keyshare>& s) -> core::Status {
      pushed.push_back(t);
      pushed_epoch = s.front().key_id.epoch_id;
      return {};
    };
    return p;
  }

  fs::path dir_;
  core::SecretBytes aes_{core::ByteView(core::random_bytes(16))};
  std::vector<NodeTarget> fetched, pushed;
  std::uint64_t pushed_epoch = 0;
};

const NodeTarget kNode{net::HostPort{"node.example", 8079}, key(1)};

TEST_F(OperatorTest, GetKeysharesBacksUpTheRunningKeysetFromTheNode) {
  auto w = world(3);
  auto s = store();
  auto out = get_keyshares(kNode, key(5), std::nullopt, s, ports(w));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->keyset.epoch_id, 3u);
  EXPECT_EQ(out->outcome, StoreOutcome::kStored);
  EXPECT_EQ(out->file.filename(), "epoch_3_with_2_domains");
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0], kNode);
  EXPECT_EQ((*s.load_newest())->epoch_id, 3u);
}

TEST_F(OperatorTest, GetKeysharesRefusesAnUnregisteredHomeBeforeConnecting) {
  auto w = world(3);
  auto s = store();
  auto out = get_keyshares(kNode, key(6), std::nullopt, s, ports(w));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_TRUE(fetched.empty());
}

TEST_F(OperatorTest, GetKeysharesNeverFetchesWhenANewerEpochIsStored) {
  auto newer = world(4);
  auto s = store();
  ASSERT_TRUE(get_keyshares(kNode, key(5), std::nullopt, s, ports(newer)));
  fetched.clear();
  auto older = world(3);
  auto out = get_keyshares(kNode, key(5), std::nullopt, s, ports(older));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(fetched.empty());
}

TEST_F(OperatorTest, GetKeysharesWithoutTheChainUsesTheStateFileAndChecksNoRegistration) {
  auto w = world(3);
  auto s = store();
  auto out = get_keyshares(kNode, key(6), w.view.state, s, ports(w, false));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(fetched.size(), 1u);
}

TEST_F(OperatorTest, PutKeysharesSendsToTheContractsDestinationOnTheMigrationPort) {
  auto w = world(3);
  auto s = store();
  ASSERT_TRUE(get_keyshares(kNode, key(5), std::nullopt, s, ports(w)));
  w.view.migrations["op.test"].migration = model::DestinationNodeInfo{key(7), {"https://new.example:3000", key(9)}};
  RestoreRequest request;
  request.account_id = "op.test";
  request.migration_port = 8079;
  auto out = put_keyshares(request, s, ports(w));
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0], (NodeTarget{net::HostPort{"new.example", 8079}, key(9)}));  // not the url's P2P port
  EXPECT_EQ(pushed_epoch, 3u);
  // Found by the destination's key instead of the account; the address flag wins.
  RestoreRequest by_key;
  by_key.node_key = key(9);
  by_key.address = net::HostPort{"10.0.0.9", 9999};
  ASSERT_TRUE(put_keyshares(by_key, s, ports(w)));
  EXPECT_EQ(pushed[1], (NodeTarget{net::HostPort{"10.0.0.9", 9999}, key(9)}));
}

TEST_F(OperatorTest, PutKeysharesRefusesWithoutABackupAMigrationOrCoverage) {
  auto w = world(3);
  auto s = store();
  RestoreRequest request;
  request.account_id = "op.test";
  auto none = put_keyshares(request, s, ports(w));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no backup stored"), std::string::npos);
  ASSERT_TRUE(get_keyshares(kNode, key(5), std::nullopt, s, ports(w)));
  auto no_migration = put_keyshares(request, s, ports(w));
  ASSERT_FALSE(no_migration);
  EXPECT_NE(no_migration.error().message.find("no ongoing migration"), std::string::npos);
  // The contract moved on to a keyset the backup does not hold.
  auto newer = world(4);
  newer.view.migrations["op.test"].migration = model::DestinationNodeInfo{key(7), {"https://new.example:3000", key(9)}};
  auto stale = put_keyshares(request, s, ports(newer));
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.error().message.find("does not cover"), std::string::npos);
  EXPECT_TRUE(pushed.empty());
}

TEST_F(OperatorTest, VerifyBackupSaysWhetherTheBackupRestoresTheKeyset) {
  auto w = world(3);
  auto s = store();
  EXPECT_FALSE(verify_backup(w.view.state, s));
  ASSERT_TRUE(get_keyshares(kNode, key(5), std::nullopt, s, ports(w)));
  auto ok = verify_backup(w.view.state, s);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_NE(ok->find("restores the keyset of epoch 3"), std::string::npos);
  auto other = world(3);  // other group keys
  auto bad = verify_backup(other.view.state, s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kFailedPrecondition);
}

TEST(OperatorArgs, StartMigrationArgsNameTheFlagThatIsWrong) {
  const auto k = core::ed25519_public_key_to_string(key(3));
  EXPECT_TRUE(start_migration_args("https://n:3000", k, k));
  auto bad_url = start_migration_args("n:3000", k, k);
  ASSERT_FALSE(bad_url);
  EXPECT_NE(bad_url.error().message.find("--destination-url"), std::string::npos);
  auto bad_tls = start_migration_args("https://n:3000", "ed25519:xyz", k);
  ASSERT_FALSE(bad_tls);
  EXPECT_NE(bad_tls.error().message.find("--destination-tls-key"), std::string::npos);
  EXPECT_NE(near_cli_register_command("v1.signer", register_args(key(3)), "alice.near", "mainnet").find("register_backup_service"),
            std::string::npos);
}

}  // namespace
}  // namespace mpc::backup
