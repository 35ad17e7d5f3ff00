#include "node/keyshare_store.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "devnet/dealer.h"
#include "support/fault_injection_env.h"

namespace mpc::node {
namespace {

namespace fs = std::filesystem;

struct Dealt {
  model::Keyset keyset;
  std::vector<std::vector<model::Keyshare>> shares;  // per participant
};

Dealt deal(std::uint64_t epoch, std::size_t domains = 2) {
  std::vector<devnet::DomainToDeal> to_deal;
  for (std::size_t d = 0; d < domains; ++d) to_deal.push_back({d, d % 2 ? model::CurveKind::kEd25519 : model::CurveKind::kSecp256k1, 0});
  const std::vector<std::uint64_t> ids = {0, 1, 2};
  auto dealt = devnet::deal_keyset(to_deal, ids, 2, epoch);
  EXPECT_TRUE(dealt);
  return Dealt{dealt->keyset, std::move(dealt->shares)};
}

std::vector<model::Keyshare> clone_all(const std::vector<model::Keyshare>& v) {
  std::vector<model::Keyshare> out;
  for (const auto& s : v) out.push_back(s.clone());
  return out;
}

// The same group keys at a later epoch (what a resharing produces for the keys).
Dealt reshared(const Dealt& d, std::uint64_t epoch) {
  Dealt out{d.keyset, {}};
  out.keyset.epoch_id = epoch;
  for (const auto& p : d.shares) {
    auto c = clone_all(p);
    for (auto& s : c) s.key_id.epoch_id = epoch;
    out.shares.push_back(std::move(c));
  }
  return out;
}

class KeyshareStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpc-store-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    key_ = core::SecretBytes(32);
    core::random_fill(key_.mutable_view());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file() const { return dir_ / "keyshares.enc"; }
  std::unique_ptr<KeyshareStore> open() {
    auto s = KeyshareStore::open(file(), key_.clone());
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  std::string bytes() const { return *core::read_file(file()); }

  fs::path dir_;
  core::SecretBytes key_;
};

TEST_F(KeyshareStoreTest, ImportPersistsAndReopens) {
  auto d = deal(3);
  auto store = open();
  EXPECT_TRUE(store->summary().domains.empty());
  ASSERT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
  EXPECT_TRUE(store->holds(d.keyset));
  struct stat st {};
  ASSERT_EQ(::stat(file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto reopened = open();
  auto shares = reopened->shares_for(d.keyset);
  ASSERT_TRUE(shares);
  EXPECT_EQ(shares->size(), 2u);
  EXPECT_EQ(reopened->summary().digest, store->summary().digest);
  EXPECT_EQ(reopened->summary().epoch_id, 3u);
  // Another participant's shares have another digest.
  auto other = KeyshareStore::open(dir_ / "other.enc", key_.clone());
  ASSERT_TRUE((*other)->import(clone_all(d.shares[1]), d.keyset));
  EXPECT_NE((*other)->summary().digest, store->summary().digest);
}

TEST_F(KeyshareStoreTest, EveryImportRuleRefusesAndChangesNothing) {
  auto d = deal(3);
  auto store = open();
  ASSERT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
  const std::string before = bytes();

  auto expect_refused = [&](std::vector<model::Keyshare> shares, const model::Keyset& keyset, core::ErrorCode code,
                            const std::string& text) {
    auto st = store->import(std::move(shares), keyset);
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().code, code) << st.error().message;
    EXPECT_NE(st.error().message.find(text), std::string::npos) << st.error().message;
    EXPECT_EQ(bytes(), before);
    EXPECT_TRUE(store->holds(d.keyset));
  };
  {  // missing domain
    auto s = clone_all(d.shares[0]);
    s.pop_back();
    expect_refused(std::move(s), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // extra domain
    auto bigger = deal(3, 3);
    expect_refused(clone_all(bigger.shares[0]), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // duplicate domain
    auto s = clone_all(d.shares[0]);
    s[1] = s[0].clone();
    expect_refused(std::move(s), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // wrong epoch in a share
    auto s = clone_all(d.shares[0]);
    s[0].key_id.epoch_id = 4;
    expect_refused(std::move(s), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // wrong attempt
    auto s = clone_all(d.shares[0]);
    s[0].key_id.attempt_id = 1;
    expect_refused(std::move(s), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // group key differs from the keyset
    auto other = deal(3);
    expect_refused(clone_all(other.shares[0]), d.keyset, core::ErrorCode::kInvalidArgument, "do not match");
  }
  {  // older epoch over a newer one
    auto newer = reshared(d, 5);
    ASSERT_TRUE(store->import(clone_all(newer.shares[0]), newer.keyset));
    const std::string at5 = bytes();
    auto st = store->import(clone_all(d.shares[0]), d.keyset);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, core::ErrorCode::kFailedPrecondition);
    EXPECT_NE(st.error().message.find("newer epoch 5"), std::string::npos) << st.error().message;
    EXPECT_EQ(bytes(), at5);
    // changed public key for a held domain, at a later epoch
    auto other = deal(6);
    st = store->import(clone_all(other.shares[0]), other.keyset);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("change the group public key of domain 0"), std::string::npos) << st.error().message;
    // a keyset that drops a held domain
    auto fewer = reshared(newer, 7);
    fewer.keyset.domains.pop_back();
    auto s = clone_all(fewer.shares[0]);
    s.pop_back();
    st = store->import(std::move(s), fewer.keyset);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("without domain 1"), std::string::npos) << st.error().message;
    EXPECT_EQ(bytes(), at5);
  }
}

TEST_F(KeyshareStoreTest, RefusesAnotherKeyIdForAHeldDomainWithinTheHeldEpoch) {
  auto d = deal(3);
  auto store = open();
  ASSERT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
  const std::string held = bytes();
  // The same epoch and group keys, but domain 1 under another attempt: an
  // epoch's keyset never changes once running, so this is another network's.
  auto other = d.keyset;
  other.domains[1].attempt = 4;
  auto s = clone_all(d.shares[0]);
  s[1].key_id.attempt_id = 4;
  auto st = store->import(std::move(s), other);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(st.error().message,
            "refusing to change, within epoch 3, the key id (attempt) of domain 1 held as (epoch 3, domain 1, attempt 0)");
  EXPECT_EQ(bytes(), held);
  // The same shares again are not a change.
  EXPECT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
}

TEST_F(KeyshareStoreTest, ServesOnlyTheHeldKeyset) {
  auto d = deal(3);
  auto store = open();
  auto none = store->shares_for(d.keyset);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("holds no key shares"), std::string::npos);
  EXPECT_FALSE(store->holds(d.keyset));
  ASSERT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
  EXPECT_TRUE(store->holds(d.keyset)) << "the answer before the import must not be reused";
  auto later = reshared(d, 4);
  auto r = store->shares_for(later.keyset);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("holds epoch 3"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store->holds(later.keyset));
}

// serve(): shares_for's check, and the held set's plaintext built once per
// generation, dropped by the store (so wiped, once no answer holds it) when
// the held set changes.
TEST_F(KeyshareStoreTest, ServeAnswersWithTheHeldPlaintextOfTheCurrentGeneration) {
  auto d = deal(3);
  auto store = open();
  auto none = store->serve(d.keyset);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, core::ErrorCode::kNotFound);
  const auto empty_generation = store->generation();
  ASSERT_TRUE(store->import(clone_all(d.shares[0]), d.keyset));
  EXPECT_NE(store->generation(), empty_generation);
  auto a = store->serve(d.keyset);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->generation, store->generation());
  EXPECT_EQ(a->count, 2u);
  EXPECT_EQ(a->epoch_id, 3u);
  // The plaintext is the canonical JSON array of the shares, the one the digest is of.
  auto parsed = model::parse_keyshares(nlohmann::json::parse(a->plaintext->reveal()));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(model::check_keyshares_cover_keyset(*parsed, d.keyset));
  EXPECT_EQ(store->summary().digest, core::hex_encode(core::sha256(core::as_bytes(a->plaintext->reveal()))));
  auto again = store->serve(d.keyset);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->plaintext, a->plaintext) << "built once per generation";

  auto later = reshared(d, 4);
  auto other = store->serve(later.keyset);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_NE(other.error().message.find("holds epoch 3"), std::string::npos) << other.error().message;

  std::weak_ptr<const core::SecretString> old = a->plaintext;
  a->plaintext.reset();
  again->plaintext.reset();
  const auto before = store->generation();
  ASSERT_TRUE(store->import(clone_all(later.shares[0]), later.keyset));
  EXPECT_NE(store->generation(), before);
  EXPECT_TRUE(old.expired()) << "the store let the old plaintext go";
  EXPECT_FALSE(store->serve(d.keyset));
  auto now = store->serve(later.keyset);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->epoch_id, 4u);
  // A pending share is a write too: the generation moves (answers are rebuilt).
  const auto g = store->generation();
  model::Keyshare pending = later.shares[0][0].clone();
  pending.key_id.epoch_id = 5;
  ASSERT_TRUE(store->put_pending(std::move(pending)));
  EXPECT_NE(store->generation(), g);
  auto still = store->serve(later.keyset);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->plaintext->reveal(), now->plaintext->reveal());
}

TEST_F(KeyshareStoreTest, WrongKeyTruncatedOrTamperedFileIsAClearError) {
  auto d = deal(3);
  ASSERT_TRUE(open()->import(clone_all(d.shares[0]), d.keyset));
  core::SecretBytes wrong(32);
  core::random_fill(wrong.mutable_view());
  auto w = KeyshareStore::open(file(), std::move(wrong));
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("does not decrypt"), std::string::npos);
  std::string data = bytes();
  data[data.size() / 2] ^= 1;
  ASSERT_TRUE(core::write_file_atomic(file(), core::as_bytes(data)));
  EXPECT_FALSE(KeyshareStore::open(file(), key_.clone()));
  data.resize(10);
  ASSERT_TRUE(core::write_file_atomic(file(), core::as_bytes(data)));
  EXPECT_FALSE(KeyshareStore::open(file(), key_.clone()));
}

// kill -9 at random moments while a child imports ever newer epochs: the
// file always opens and holds one complete set.
TEST_F(KeyshareStoreTest, KillDuringImportLeavesOldOrNewSet) {
  auto base = deal(1);
  std::vector<Dealt> epochs;
  for (std::uint64_t e = 1; e <= 40; ++e) epochs.push_back(reshared(base, e));
  std::mt19937 rng(42);
  int landed_mid_run = 0;
  for (int round = 0; round < 12; ++round) {
    fs::remove(file());
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = KeyshareStore::open(file(), key_.clone());
      if (!s) ::_exit(2);
      for (auto& e : epochs)
        if (!(*s)->import(clone_all(e.shares[0]), e.keyset)) ::_exit(3);
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++landed_mid_run;
    auto store = KeyshareStore::open(file(), key_.clone());
    ASSERT_TRUE(store) << store.error().message;
    auto summary = (*store)->summary();
    if (summary.domains.empty()) continue;  // killed before the first import completed
    ASSERT_GE(summary.epoch_id, 1u);
    ASSERT_LE(summary.epoch_id, 40u);
    EXPECT_TRUE((*store)->holds(epochs[summary.epoch_id - 1].keyset));
  }
  EXPECT_GT(landed_mid_run, 0);
}

// An import stopped at every file operation, then a crash that drops what
// was not synced: a restart finds the old set or the new one, and the new
// one whenever import() had returned. Removing any fsync or directory sync
// from the store's write path fails this test (kill -9 alone would not:
// the page cache survives it).
TEST_F(KeyshareStoreTest, ACrashAtEveryStepOfAnImportKeepsTheOldOrTheNewSet) {
  auto d1 = deal(1);
  auto d2 = reshared(d1, 2);
  for (std::size_t n = 0;; ++n) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(open()->import(clone_all(d1.shares[0]), d1.keyset));
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    auto store = KeyshareStore::open(file(), key_.clone(), env);
    ASSERT_TRUE(store);
    const bool returned = (*store)->import(clone_all(d2.shares[0]), d2.keyset).has_value();
    const bool finished = !env.failed();
    env.crash();
    auto reopened = KeyshareStore::open(file(), key_.clone());
    ASSERT_TRUE(reopened) << "crash after " << n << " operations: " << reopened.error().message;
    if (returned) EXPECT_TRUE((*reopened)->holds(d2.keyset)) << "crash after " << n << ": an import that returned was lost";
    else EXPECT_TRUE((*reopened)->holds(d1.keyset) || (*reopened)->holds(d2.keyset)) << "crash after " << n;
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

// ---- key events: pending shares and promotion ----

TEST_F(KeyshareStoreTest, APendingShareSurvivesAReopenAndIsNeverReplacedByAnother) {
  auto d = deal(0);
  auto store = open();
  ASSERT_TRUE(store->put_pending(d.shares[0][0].clone()));
  ASSERT_TRUE(store->put_pending(d.shares[0][0].clone())) << "the same share again is a no-op";
  auto other = d.shares[1][0].clone();  // same key id, another participant's share
  auto refused = store->put_pending(other.clone());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_EQ(refused.error().message.find(other.private_share.reveal()), std::string::npos) << "no secret in the error";
  auto reopened = open();
  auto p = reopened->pending(d.shares[0][0].key_id);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->private_share.reveal(), d.shares[0][0].private_share.reveal());
  EXPECT_FALSE(reopened->pending(model::KeyshareKeyId{0, 0, 7}));
  EXPECT_EQ(reopened->pending_count(), 1u);
  EXPECT_TRUE(reopened->summary().domains.empty()) << "a pending share is not held";
}

TEST_F(KeyshareStoreTest, PromoteWaitsForEveryDomainThenHoldsTheKeysetAndDropsWhatItPromoted) {
  auto d = deal(0);
  auto store = open();
  ASSERT_TRUE(store->put_pending(d.shares[0][0].clone()));
  auto partial = store->promote(d.keyset);
  ASSERT_TRUE(partial);
  EXPECT_FALSE(*partial) << "domain 1 has no share yet";
  EXPECT_FALSE(store->holds(d.keyset));
  ASSERT_TRUE(store->put_pending(d.shares[0][1].clone()));
  auto done = store->promote(d.keyset);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_TRUE(*done);
  EXPECT_TRUE(store->holds(d.keyset)) << "the answer before the promotion must not be reused";
  EXPECT_TRUE(open()->holds(d.keyset));
  EXPECT_EQ(open()->pending_count(), 0u);
}

TEST_F(KeyshareStoreTest, PromotingAReshareReplacesTheOldEpochInOneWriteAndPrunesOlderPendingShares) {
  auto d1 = deal(1);
  auto d2 = reshared(d1, 2);
  auto store = open();
  ASSERT_TRUE(store->import(clone_all(d1.shares[0]), d1.keyset));
  auto abandoned = d2.shares[0][0].clone();
  abandoned.key_id.attempt_id = 5;  // an attempt the contract never accepted
  ASSERT_TRUE(store->put_pending(abandoned.clone()));
  for (const auto& s : d2.shares[0]) ASSERT_TRUE(store->put_pending(s.clone()));
  auto r = store->promote(d1.keyset);  // the contract still shows epoch 1: nothing moves
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  EXPECT_EQ(store->pending_count(), 3u);
  r = store->promote(d2.keyset);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(*r);
  auto reopened = open();
  EXPECT_TRUE(reopened->holds(d2.keyset));
  EXPECT_FALSE(reopened->holds(d1.keyset)) << "the old epoch's shares are gone";
  EXPECT_TRUE(reopened->pending(abandoned.key_id)) << "a later attempt of the same epoch is kept until an older epoch";
}

TEST_F(KeyshareStoreTest, PromoteRefusesAKeysetWhoseKeyDiffersFromThePendingShare) {
  auto d = deal(0);
  auto other = deal(0);  // other group keys, same key ids
  auto store = open();
  for (const auto& s : d.shares[0]) ASSERT_TRUE(store->put_pending(s.clone()));
  auto r = store->promote(other.keyset);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("epoch 0"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store->holds(other.keyset));
  EXPECT_EQ(open()->pending_count(), 2u);
}

TEST_F(KeyshareStoreTest, DropOlderThanDeletesOnlyOlderEpochsDurably) {
  auto d1 = deal(1);
  auto d2 = reshared(d1, 2);
  auto store = open();
  ASSERT_TRUE(store->import(clone_all(d1.shares[0]), d1.keyset));
  ASSERT_TRUE(store->put_pending(d2.shares[0][0].clone()));
  auto none = store->drop_older_than(1);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  EXPECT_TRUE(store->holds(d1.keyset));
  auto dropped = store->drop_older_than(2);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(*dropped, 2u);
  auto reopened = open();
  EXPECT_TRUE(reopened->summary().domains.empty());
  EXPECT_TRUE(reopened->pending(d2.shares[0][0].key_id)) << "epoch 2 is not older than 2";
}

// A pending share that put_pending() reported stored survives a crash at any
// step (the node votes only after it returned).
TEST_F(KeyshareStoreTest, ACrashAtEveryStepOfPutPendingLosesNothingItReportedStored) {
  auto d = deal(0);
  for (std::size_t n = 0;; ++n) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    auto store = KeyshareStore::open(file(), key_.clone(), env);
    ASSERT_TRUE(store);
    const bool returned = (*store)->put_pending(d.shares[0][0].clone()).has_value();
    const bool finished = !env.failed();
    env.crash();
    auto reopened = KeyshareStore::open(file(), key_.clone());
    ASSERT_TRUE(reopened) << "crash after " << n << " operations: " << reopened.error().message;
    if (returned) {
      EXPECT_TRUE((*reopened)->pending(d.shares[0][0].key_id)) << "crash after " << n << ": a stored share was lost";
    }
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

}  // namespace
}  // namespace mpc::node
