#include "node/presignature_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include "core/crypto.h"
#include "core/file_util.h"
#include "support/fault_injection_env.h"

namespace mpc::node {
namespace {

namespace fs = std::filesystem;

core::SecretBytes blob(std::uint8_t tag, std::size_t size = 120) {
  core::SecretBytes b(size);
  for (std::size_t i = 0; i < size; ++i) b.mutable_view()[i] = static_cast<std::uint8_t>(tag + i);
  return b;
}

const PresignatureContext kCtx{3, 1, {0, 1, 2}};

PresignatureInfo info(std::string id) { return PresignatureInfo{std::move(id), 1, {0, 1, 2}}; }

class PresignatureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpc-presig-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    key_ = core::SecretBytes(32);
    core::random_fill(key_.mutable_view());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file() const { return dir_ / "presignatures.enc"; }
  std::unique_ptr<PresignatureStore> open() {
    auto s = PresignatureStore::open(file(), key_.clone());
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }

  fs::path dir_;
  core::SecretBytes key_;
};

TEST_F(PresignatureStoreTest, AddedPresignaturesSurviveAReopenAndAreTakenOldestFirstOnce) {
  auto store = open();
  ASSERT_TRUE(store->add(kCtx, info("a"), blob(1)));
  ASSERT_TRUE(store->add(kCtx, info("b"), blob(2)));
  auto reopened = open();
  EXPECT_EQ(reopened->available(kCtx), 2u);
  auto first = reopened->take(kCtx);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->info.id, "a");
  EXPECT_TRUE((*first)->encoded == blob(1));
  auto again = open();
  EXPECT_EQ(again->available(kCtx), 1u) << "taken means gone from disk";
  EXPECT_TRUE(again->was_taken("a"));
  auto named = again->take(kCtx, "b");
  ASSERT_TRUE(named && *named);
  EXPECT_EQ((*named)->info.id, "b");
  auto none = again->take(kCtx);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(PresignatureStoreTest, AUsedOrDuplicateIdIsNeverAddedAgain) {
  auto store = open();
  ASSERT_TRUE(store->add(kCtx, info("a"), blob(1)));
  auto dup = store->add(kCtx, info("a"), blob(9));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::ErrorCode::kAlreadyExists);
  ASSERT_TRUE(store->take(kCtx, "a"));
  auto reused = open()->add(kCtx, info("a"), blob(1));
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_NE(reused.error().message.find("used already"), std::string::npos);
}

TEST_F(PresignatureStoreTest, AnotherContextDiscardsThePoolAndTakesNothingFromIt) {
  auto store = open();
  ASSERT_TRUE(store->add(kCtx, info("a"), blob(1)));
  PresignatureContext next = kCtx;
  next.epoch_id = 4;  // a resharing: the old presignatures are void
  auto nothing = store->take(next);
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing);
  ASSERT_TRUE(store->add(next, info("b"), blob(2)));
  EXPECT_EQ(open()->available(kCtx), 0u);
  EXPECT_EQ(open()->available(next), 1u);
}

TEST_F(PresignatureStoreTest, OwnersAndSetsAreKeptListedAndFoundWithoutTakingAnything) {
  auto store = open();
  const PresignatureInfo mine{"m", 1, {0, 1, 2}};
  const PresignatureInfo theirs{"t", 2, {0, 1, 2}};
  ASSERT_TRUE(store->add(kCtx, mine, blob(1)));
  ASSERT_TRUE(store->add(kCtx, theirs, blob(2)));
  auto reopened = open();
  EXPECT_EQ(reopened->list(kCtx), (std::vector<PresignatureInfo>{mine, theirs}));
  EXPECT_EQ(reopened->find(kCtx, "t"), std::optional<PresignatureInfo>(theirs));
  EXPECT_FALSE(reopened->find(kCtx, "x"));
  PresignatureContext other = kCtx;
  other.domain_id = 9;
  EXPECT_TRUE(reopened->list(other).empty());
  EXPECT_FALSE(reopened->find(other, "t"));
  EXPECT_EQ(reopened->available(kCtx), 2u) << "listing and finding take nothing";
  auto taken = reopened->take(kCtx, "t");
  ASSERT_TRUE(taken && *taken);
  EXPECT_EQ((*taken)->info, theirs);
}

TEST_F(PresignatureStoreTest, UseContextDiscardsAnotherContextsPoolDurablyAndKeepsItsOwn) {
  auto store = open();
  ASSERT_TRUE(store->add(kCtx, info("a"), blob(1)));
  ASSERT_TRUE(store->use_context(kCtx));
  EXPECT_EQ(open()->available(kCtx), 1u) << "the same context keeps the pool";
  PresignatureContext next = kCtx;
  next.participants = {0, 1, 2, 3};  // a participant joined: the old presignatures are void
  ASSERT_TRUE(store->use_context(next));
  auto reopened = open();
  EXPECT_EQ(reopened->available(kCtx), 0u);
  EXPECT_EQ(reopened->available(next), 0u);
  EXPECT_FALSE(reopened->was_taken("a")) << "discarded, not used";
}

TEST_F(PresignatureStoreTest, BadInputIsRefusedAndChangesNothing) {
  auto store = open();
  EXPECT_FALSE(store->add(kCtx, info(""), blob(1)));
  EXPECT_FALSE(store->add(kCtx, info(std::string(PresignatureStore::kMaxIdSize + 1, 'x')), blob(1)));
  EXPECT_FALSE(store->add(kCtx, PresignatureInfo{"a", 7, {0, 1, 2}}, blob(1))) << "the owner is not in the set";
  EXPECT_FALSE(store->add(kCtx, PresignatureInfo{"a", 1, {2, 1, 0}}, blob(1))) << "the set is not ascending";
  EXPECT_FALSE(store->add(kCtx, PresignatureInfo{"a", 1, {}}, blob(1)));
  EXPECT_FALSE(store->add(kCtx, info("a b"), blob(1)));
  EXPECT_FALSE(store->add(kCtx, info("a"), core::SecretBytes()));
  EXPECT_FALSE(store->add(kCtx, info("a"), blob(1, PresignatureStore::kMaxEncodedSize + 1)));
  EXPECT_FALSE(fs::exists(file()));
}

TEST_F(PresignatureStoreTest, AWrongKeyOrDamagedFileIsAClearErrorWithoutSecrets) {
  ASSERT_TRUE(open()->add(kCtx, info("a"), blob(1)));
  core::SecretBytes other(32);
  core::random_fill(other.mutable_view());
  auto wrong = PresignatureStore::open(file(), std::move(other));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("does not decrypt"), std::string::npos);
  auto text = *core::read_file(file());
  text[20] ^= 1;
  ASSERT_TRUE(core::write_file_atomic(file(), core::as_bytes(text)));
  EXPECT_FALSE(PresignatureStore::open(file(), key_.clone()));
}

// The rule that makes threshold ECDSA safe: a presignature take() handed out
// is gone for good. A take stopped at every file operation, then a crash that
// drops what was not synced: the restart finds it either still in the pool
// (never handed out) or gone, and gone whenever take() returned it.
TEST_F(PresignatureStoreTest, ACrashAtEveryStepOfATakeNeverLetsAPresignatureBeUsedTwice) {
  for (std::size_t n = 0;; ++n) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(open()->add(kCtx, info("a"), blob(1)));
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    auto store = PresignatureStore::open(file(), key_.clone(), env);
    ASSERT_TRUE(store);
    auto taken = (*store)->take(kCtx);
    const bool handed_out = taken && *taken;
    const bool finished = !env.failed();
    env.crash();
    auto reopened = PresignatureStore::open(file(), key_.clone());
    ASSERT_TRUE(reopened) << "crash after " << n << " operations: " << reopened.error().message;
    if (handed_out) {
      EXPECT_EQ((*reopened)->available(kCtx), 0u) << "crash after " << n << ": a presignature handed out is still in the pool";
      EXPECT_TRUE((*reopened)->was_taken("a"));
    }
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

}  // namespace
}  // namespace mpc::node
