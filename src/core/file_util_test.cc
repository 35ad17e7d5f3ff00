#include "core/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/crypto.h"
#include "support/fault_injection_env.h"

namespace mpc::core {
namespace {

class FileUtil : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mpc-file-test-" + hex_encode(random_bytes(6)));
    ASSERT_TRUE(ensure_directory(dir_, 0700));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_F(FileUtil, EnsureDirectorySetsMode) { EXPECT_EQ(mode_of(dir_), 0700u); }

TEST_F(FileUtil, ExclusiveWriteRefusesExistingFilesAndKeepsContent) {
  auto p = dir_ / "f";
  ASSERT_TRUE(write_file_exclusive(p, as_bytes("one")));
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_EQ(write_file_exclusive(p, as_bytes("two")).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(*read_file(p), "one");
}

TEST_F(FileUtil, AtomicWriteReplacesAndLeavesNoTemporary) {
  auto p = dir_ / "f";
  ASSERT_TRUE(write_file_atomic(p, as_bytes("one")));
  ASSERT_TRUE(write_file_atomic(p, as_bytes("two")));
  EXPECT_EQ(*read_file(p), "two");
  int count = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_)) ++count;
  EXPECT_EQ(count, 1);
}

TEST_F(FileUtil, ReadFileEnforcesItsLimit) {
  auto p = dir_ / "big";
  ASSERT_TRUE(write_file_exclusive(p, Bytes(1000, 'x')));
  EXPECT_FALSE(read_file(p, 999));
  EXPECT_EQ(read_file(p, 1000)->size(), 1000u);
}

// ---- durability under a simulated crash (FaultInjectionEnv) ----

TEST_F(FileUtil, TheFaultEnvDropsWhatWasNotSynced) {
  testing::FaultInjectionEnv env;
  // Data written but never synced: the entry is durable, the data is not.
  ASSERT_TRUE(env.create_file(dir_ / "data", as_bytes("abc"), 0600));
  ASSERT_TRUE(env.sync_dir(dir_));
  // An entry never synced in its directory disappears.
  ASSERT_TRUE(env.create_file(dir_ / "entry", as_bytes("abc"), 0600));
  ASSERT_TRUE(env.sync_file(dir_ / "entry"));
  // A rename not synced is undone and the replaced file comes back.
  ASSERT_TRUE(write_file_exclusive(dir_ / "target", as_bytes("old")));
  ASSERT_TRUE(env.create_file(dir_ / "tmp", as_bytes("new"), 0600));
  ASSERT_TRUE(env.sync_file(dir_ / "tmp"));
  ASSERT_TRUE(env.rename(dir_ / "tmp", dir_ / "target"));
  // A removal not synced is undone.
  ASSERT_TRUE(write_file_exclusive(dir_ / "kept", as_bytes("kept")));
  ASSERT_TRUE(env.remove(dir_ / "kept"));
  env.crash();
  EXPECT_EQ(*read_file(dir_ / "data"), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "entry"));
  EXPECT_EQ(*read_file(dir_ / "target"), "old");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "tmp"));  // its creation was never synced either
  EXPECT_EQ(*read_file(dir_ / "kept"), "kept");
}

TEST_F(FileUtil, TheFaultEnvFailsEveryOperationAfterTheLimit) {
  testing::FaultInjectionEnv env;
  env.fail_after(1);
  EXPECT_TRUE(env.create_file(dir_ / "a", as_bytes("a"), 0600));
  EXPECT_FALSE(env.sync_file(dir_ / "a"));
  EXPECT_FALSE(env.create_file(dir_ / "b", as_bytes("b"), 0600));
  EXPECT_TRUE(env.failed());
  env.crash();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a"));
  EXPECT_TRUE(env.create_file(dir_ / "c", as_bytes("c"), 0600));  // works again
}

// Stops write_file_atomic at every file operation, crashes, and checks what
// a restart finds: the old content or the new one, the new one once the
// call returned. Removing any fsync from write_file_atomic fails this.
TEST_F(FileUtil, AtomicWriteSurvivesACrashAtEveryStep) {
  const auto p = dir_ / "f";
  ASSERT_TRUE(write_file_atomic(p, as_bytes("old")));
  for (std::size_t n = 0;; ++n) {
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    const bool returned = write_file_atomic(p, as_bytes("new"), 0600, env).has_value();
    const bool finished = !env.failed();
    env.crash();
    auto content = read_file(p);
    ASSERT_TRUE(content) << "crash after " << n << " operations";
    if (returned) EXPECT_EQ(*content, "new") << "crash after " << n << " operations: a returned write was lost";
    else EXPECT_TRUE(*content == "old" || *content == "new") << "crash after " << n << ": '" << *content << "'";
    ASSERT_TRUE(write_file_atomic(p, as_bytes("old")));
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

TEST_F(FileUtil, ExclusiveWriteSurvivesACrashAtEveryStep) {
  const auto p = dir_ / "f";
  for (std::size_t n = 0;; ++n) {
    std::filesystem::remove(p);
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    const bool returned = write_file_exclusive(p, as_bytes("content"), 0600, env).has_value();
    const bool finished = !env.failed();
    env.crash();
    if (returned) {
      EXPECT_EQ(read_file(p).value_or("<missing>"), "content") << "crash after " << n << " operations";
    } else if (std::filesystem::exists(p)) {
      EXPECT_EQ(*read_file(p), "content") << "a half-written file after " << n << " operations";
    }
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

TEST_F(FileUtil, EnsureDirectorySurvivesACrashAtEveryStep) {
  const auto d = dir_ / "a" / "b" / "c";
  for (std::size_t n = 0;; ++n) {
    std::filesystem::remove_all(dir_ / "a");
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    const bool returned = ensure_directory(d, 0700, env).has_value();
    const bool finished = !env.failed();
    env.crash();
    if (returned) {
      EXPECT_TRUE(std::filesystem::is_directory(d)) << "crash after " << n << " operations";
    }
    if (finished) break;
    ASSERT_LT(n, 100u);
  }
}

}  // namespace
}  // namespace mpc::core
