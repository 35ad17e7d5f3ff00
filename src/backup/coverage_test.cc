#include "backup/coverage.h"

#include <gtest/gtest.h>

#include "devnet/dealer.h"

namespace mpc::backup {
namespace {

using model::CurveKind;

// A keyset of `count` domains (0..count-1) at `epoch`, and participant 0's shares.
struct World {
  model::Keyset keyset;
  std::vector<model::Keyshare> shares;
};

World make_world(std::uint64_t epoch, std::size_t count) {
  std::vector<devnet::DomainToDeal> domains;
  for (std::size_t d = 0; d < count; ++d) domains.push_back({d, d % 2 ? CurveKind::kEd25519 : CurveKind::kSecp256k1, 0});
  const std::vector<std::uint64_t> ids = {0, 1, 2};
  auto dealt = devnet::deal_keyset(domains, ids, 2, epoch);
  EXPECT_TRUE(dealt);
  return World{dealt->keyset, std::move(dealt->shares[0])};
}

// A stored backup of the given shares (optionally only some domains, at another epoch).
StoredBackup backup_of(const std::vector<model::Keyshare>& shares, std::uint64_t epoch, std::size_t first_n = SIZE_MAX) {
  StoredBackup b;
  b.epoch_id = epoch;
  for (std::size_t i = 0; i < shares.size() && i < first_n; ++i) {
    b.keyshares.push_back(shares[i].clone());
    b.keyshares.back().key_id.epoch_id = epoch;
  }
  return b;
}

TEST(BackupCoverage, NoBackup) {
  auto w = make_world(1, 2);
  auto c = backup_coverage(std::nullopt, w.keyset);
  EXPECT_EQ(c.verdict, CoverageVerdict::kNoBackup);
  EXPECT_EQ(c.summary, "no backup");
  EXPECT_TRUE(c.needs_backup());
  EXPECT_FALSE(c.up_to_date());
}

TEST(BackupCoverage, NothingToBackUpForAnEmptyKeyset) {
  auto c = backup_coverage(std::nullopt, model::Keyset{0, {}});
  EXPECT_EQ(c.verdict, CoverageVerdict::kNothingToBackUp);
  EXPECT_TRUE(c.up_to_date());
  EXPECT_FALSE(c.needs_backup());
}

TEST(BackupCoverage, UpToDateWhenEveryDomainHasAConsistentShare) {
  auto w = make_world(4, 3);
  auto c = backup_coverage(backup_of(w.shares, 4), w.keyset);
  EXPECT_EQ(c.verdict, CoverageVerdict::kUpToDate);
  EXPECT_EQ(c.summary, "up to date");
  EXPECT_TRUE(c.up_to_date());
  EXPECT_EQ(c.stored_epoch, 4u);
}

TEST(BackupCoverage, BehindByNEpochsWhenTheKeysMatchAnOlderEpoch) {
  auto w = make_world(7, 2);
  auto two = backup_coverage(backup_of(w.shares, 5), w.keyset);
  EXPECT_EQ(two.verdict, CoverageVerdict::kBehind);
  EXPECT_EQ(two.summary, "behind by 2 epochs");
  EXPECT_EQ(two.epochs_behind, 2u);
  EXPECT_TRUE(two.needs_backup());
  EXPECT_EQ(backup_coverage(backup_of(w.shares, 6), w.keyset).summary, "behind by 1 epoch");
  EXPECT_EQ(backup_coverage(backup_of(w.shares, 6, 1), w.keyset).summary, "behind by 1 epoch; missing domain 1");
}

TEST(BackupCoverage, MissingDomainsInTheSameEpoch) {
  auto w = make_world(3, 5);
  auto c = backup_coverage(backup_of(w.shares, 3, 3), w.keyset);
  EXPECT_EQ(c.verdict, CoverageVerdict::kMissingDomains);
  EXPECT_EQ(c.summary, "missing domains 3, 4");
  EXPECT_EQ(c.missing_domains, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_TRUE(c.needs_backup());
}

TEST(BackupCoverage, ADifferentGroupKeyIsAMismatchNotAMissingBackup) {
  auto w = make_world(2, 2);
  auto other = make_world(2, 2);
  std::vector<model::Keyshare> mixed;
  mixed.push_back(w.shares[0].clone());
  mixed.push_back(other.shares[1].clone());  // domain 1 from another key
  auto c = backup_coverage(backup_of(mixed, 1), w.keyset);
  EXPECT_EQ(c.verdict, CoverageVerdict::kMismatch);
  EXPECT_EQ(c.mismatched_domains, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(c.summary, "group key mismatch for domain 1: the backup holds keys the contract does not");
  EXPECT_FALSE(c.needs_backup());
  EXPECT_FALSE(c.up_to_date());
}

TEST(BackupCoverage, ADifferentAttemptInTheSameEpochIsAMismatch) {
  auto w = make_world(2, 2);
  auto b = backup_of(w.shares, 2);
  b.keyshares[1].key_id.attempt_id = 9;
  auto c = backup_coverage(b, w.keyset);
  EXPECT_EQ(c.verdict, CoverageVerdict::kMismatch);
  EXPECT_EQ(c.summary, "key id mismatch: domain 1 is from attempt 9, the contract has attempt 0");
}

TEST(BackupCoverage, ExtraDomainsOrANewerEpochAreMismatches) {
  auto w = make_world(2, 3);
  model::Keyset smaller = w.keyset;
  smaller.domains.pop_back();
  auto extra = backup_coverage(backup_of(w.shares, 2), smaller);
  EXPECT_EQ(extra.verdict, CoverageVerdict::kMismatch);
  EXPECT_EQ(extra.summary, "backup holds domain 2 that the contract's keyset does not");

  auto ahead = backup_coverage(backup_of(w.shares, 3), w.keyset);
  EXPECT_EQ(ahead.verdict, CoverageVerdict::kMismatch);
  EXPECT_EQ(ahead.summary, "backup is ahead of the contract: epoch 3 stored, the contract's keyset is epoch 2");
}

}  // namespace
}  // namespace mpc::backup
