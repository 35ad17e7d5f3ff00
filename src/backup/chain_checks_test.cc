#include "backup/chain_checks.h"

#include <gtest/gtest.h>

#include "support/backup/world.h"

namespace mpc::backup {
namespace {

using testing::key;
using testing::running_world;
using testing::stored;
using testing::World;

void migrate(World& w, core::Ed25519PublicKey dest) {
  w.view.migrations["op.test"].migration = model::DestinationNodeInfo{key(7), {"https://new:2", dest}};
}

TEST(MigrationDestination, AcceptsTheContractsDestination) {
  auto w = running_world(3);
  migrate(w, key(8));
  EXPECT_TRUE(check_migration_destination(w.view.state, w.view.migrations, "op.test", key(8)));
}

TEST(MigrationDestination, NamesTheDestinationWhenTheKeyDiffers) {
  auto w = running_world(3);
  migrate(w, key(8));
  auto st = check_migration_destination(w.view.state, w.view.migrations, "op.test", key(9));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find(core::ed25519_public_key_to_string(key(8))), std::string::npos);
  EXPECT_NE(st.error().message.find(core::ed25519_public_key_to_string(key(9))), std::string::npos);
  EXPECT_NE(st.error().message.find("https://new:2"), std::string::npos);
}

TEST(MigrationDestination, RefusesWithoutAnOngoingMigration) {
  auto w = running_world(3);
  w.view.migrations["op.test"].backup_service = model::BackupServiceInfo{key(5)};
  auto st = check_migration_destination(w.view.state, w.view.migrations, "op.test", key(8));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("no ongoing migration for op.test"), std::string::npos);
  // Another account's migration is not ours.
  w.view.migrations["other.test"].migration = model::DestinationNodeInfo{key(7), {"https://x:1", key(8)}};
  EXPECT_FALSE(check_migration_destination(w.view.state, w.view.migrations, "op.test", key(8)));
}

TEST(MigrationDestination, RefusesWhenNotRunning) {
  auto w = running_world(3);
  migrate(w, key(8));
  model::ResharingState rs;
  rs.previous_running_state = *w.view.state.running();
  w.view.state.state = rs;
  auto st = check_migration_destination(w.view.state, w.view.migrations, "op.test", key(8));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("not Running"), std::string::npos);
}

TEST(StatusReport, SummarisesRegistrationMigrationAndCoverage) {
  auto w = running_world(3);
  w.view.migrations["op.test"].backup_service = model::BackupServiceInfo{key(5)};
  migrate(w, key(8));
  auto r = build_status_report(w.view.state, w.view.migrations, "op.test", key(5), stored(w.shares));
  EXPECT_TRUE(r.backup_key_matches);
  EXPECT_TRUE(r.backup_up_to_date);
  std::string all;
  for (const auto& l : r.lines) all += l + "\n";
  EXPECT_NE(all.find("Running (epoch 3)"), std::string::npos) << all;
  EXPECT_NE(all.find("participant 0"), std::string::npos) << all;
  EXPECT_NE(all.find("matches this home's key"), std::string::npos) << all;
  EXPECT_NE(all.find("ongoing, to https://new:2"), std::string::npos) << all;
  EXPECT_NE(all.find("up to date"), std::string::npos) << all;
}

TEST(StatusReport, FlagsAForeignBackupKeyAndAStaleBackup) {
  auto w = running_world(3);
  auto old = stored(w.shares);
  w.view.migrations["op.test"].backup_service = model::BackupServiceInfo{key(5)};
  auto newer = running_world(5);
  newer.view.migrations = w.view.migrations;
  // The old backup has other group keys: a mismatch, not "behind".
  auto r = build_status_report(newer.view.state, newer.view.migrations, "op.test", key(6), std::move(old));
  EXPECT_FALSE(r.backup_key_matches);
  EXPECT_FALSE(r.backup_up_to_date);
  std::string all;
  for (const auto& l : r.lines) all += l + "\n";
  EXPECT_NE(all.find("does NOT match"), std::string::npos) << all;
  EXPECT_NE(all.find("migration:       none"), std::string::npos) << all;

  auto none = build_status_report(newer.view.state, {}, "op.test", key(6), std::nullopt);
  std::string none_text;
  for (const auto& l : none.lines) none_text += l + "\n";
  EXPECT_NE(none_text.find("none registered"), std::string::npos) << none_text;
  EXPECT_NE(none_text.find("no backup"), std::string::npos) << none_text;
}

TEST(MigrationTarget, FindsTheMigrationByAccountOrByTheDestinationKey) {
  auto w = running_world(3);
  migrate(w, key(8));
  auto by_account = find_migration_target(w.view.state, w.view.migrations, std::string("op.test"), std::nullopt);
  ASSERT_TRUE(by_account) << by_account.error().message;
  EXPECT_EQ(by_account->destination.destination_node_info.tls_public_key, key(8));
  auto by_key = find_migration_target(w.view.state, w.view.migrations, std::nullopt, key(8));
  ASSERT_TRUE(by_key) << by_key.error().message;
  EXPECT_EQ(by_key->account_id, "op.test");
  auto both = find_migration_target(w.view.state, w.view.migrations, std::string("op.test"), key(8));
  EXPECT_TRUE(both);
}

TEST(MigrationTarget, SaysWhatIsMissing) {
  auto w = running_world(3);
  migrate(w, key(8));
  auto neither = find_migration_target(w.view.state, w.view.migrations, std::nullopt, std::nullopt);
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().message.find("--signer-account-id"), std::string::npos);
  auto unknown_key = find_migration_target(w.view.state, w.view.migrations, std::nullopt, key(9));
  ASSERT_FALSE(unknown_key);
  EXPECT_NE(unknown_key.error().message.find("no ongoing migration to the node with TLS key"), std::string::npos);
  auto other_account = find_migration_target(w.view.state, w.view.migrations, std::string("other.test"), std::nullopt);
  ASSERT_FALSE(other_account);
  EXPECT_NE(other_account.error().message.find("no ongoing migration for other.test"), std::string::npos);
  auto wrong_key = find_migration_target(w.view.state, w.view.migrations, std::string("op.test"), key(9));
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message.find("goes to the node with TLS key"), std::string::npos);
}

TEST(BackupRegistration, TheNodesAccountMustRegisterThisHomesKey) {
  auto w = running_world(3);
  auto none = check_backup_registration(w.view.state, w.view.migrations, key(1), key(5));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_NE(none.error().message.find("no backup service is registered for op.test"), std::string::npos);
  w.view.migrations["op.test"].backup_service = model::BackupServiceInfo{key(6)};
  auto other = check_backup_registration(w.view.state, w.view.migrations, key(1), key(5));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_NE(other.error().message.find(core::ed25519_public_key_to_string(key(6))), std::string::npos);
  EXPECT_NE(other.error().message.find(core::ed25519_public_key_to_string(key(5))), std::string::npos);
  EXPECT_TRUE(check_backup_registration(w.view.state, w.view.migrations, key(1), key(6)));
  EXPECT_TRUE(check_backup_registration(w.view.state, w.view.migrations, key(9), key(5)));  // not a participant: nothing to check
}

}  // namespace
}  // namespace mpc::backup
