// The chain store keeps committing blocks whatever one transaction's outcome holds.
#include "sandbox/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/sandbox/test_chain.h"

namespace mpc::sandbox {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("mpc-store-test-");
    auto s = Store::open(dir_ / "chain.sqlite");
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  BlockCommit block(std::uint64_t height) {
    BlockCommit c;
    c.block.height = height;
    c.block.hash.fill(static_cast<std::uint8_t>(height));
    c.block.timestamp_ns = height;
    return c;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, AnOutcomeWithTextThatIsNotUtf8IsRecordedAndLaterBlocksCommit) {
  ASSERT_TRUE(store_->commit(block(1)));
  BlockCommit b2 = block(2);
  TxRecord tx;
  tx.hash.fill(0xAB);
  tx.signer_id = "node0.sandbox";
  tx.block_height = 2;
  tx.outcome = json{{"status", {{"SuccessValue", ""}}}, {"receipts_outcome", {{{"outcome", {{"logs", {"bad \xff\xfe log"}}}}}}}};
  b2.txs.push_back(tx);
  b2.block.tx_hashes.push_back(tx.hash);
  auto st = store_->commit(b2);
  ASSERT_TRUE(st) << st.error().message;
  auto found = store_->find_tx(tx.hash);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->outcome["receipts_outcome"][0]["outcome"]["logs"][0], "bad \xEF\xBF\xBD\xEF\xBF\xBD log");  // U+FFFD
  EXPECT_TRUE(store_->commit(block(3)));
  auto head = store_->block_by_height(3);
  ASSERT_TRUE(head && head->has_value());
}

TEST_F(StoreTest, AFailedCommitLeavesNoTransactionOpen) {
  ASSERT_TRUE(store_->commit(block(1)));
  EXPECT_FALSE(store_->commit(block(1)));  // the same height again: refused by the database
  EXPECT_TRUE(store_->commit(block(2)));   // and the next block still commits
}

TEST_F(StoreTest, LookupsFromAnotherThreadFindEveryCommittedBlockWhileCommitsGoOn) {
  ASSERT_TRUE(store_->commit(block(1)));
  std::atomic<std::uint64_t> committed{1};
  std::atomic<bool> done{false};
  std::uint64_t lookups = 0;
  std::string failure;
  std::thread reader([&] {
    while (!done.load()) {
      const std::uint64_t h = committed.load();
      core::Hash256 hash;
      hash.fill(static_cast<std::uint8_t>(h));
      auto by_height = store_->block_by_height(h);
      auto by_hash = store_->block_by_hash(hash);
      auto next = store_->block_by_height(h + 1);  // may or may not be committed yet; never an error
      ++lookups;
      if (!by_height || !by_height->has_value() || !by_hash || !by_hash->has_value() || (*by_hash)->height != h || !next) {
        failure = "block " + std::to_string(h) + " was not found (or a lookup failed) after its commit";
        return;
      }
    }
  });
  for (std::uint64_t h = 2; h <= 100 && failure.empty(); ++h) {
    ASSERT_TRUE(store_->commit(block(h)));
    committed = h;
  }
  done = true;
  reader.join();
  EXPECT_EQ(failure, "");
  EXPECT_GT(lookups, 0u);
}

TEST(Store, AnInMemoryStoreAnswersLookupsOnItsOneConnection) {
  auto s = Store::open(":memory:");
  ASSERT_TRUE(s) << s.error().message;
  BlockCommit c;
  c.block.height = 1;
  c.block.hash.fill(1);
  ASSERT_TRUE((*s)->commit(c));
  auto found = (*s)->block_by_hash(c.block.hash);
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->height, 1u);
}

}  // namespace
}  // namespace mpc::sandbox
