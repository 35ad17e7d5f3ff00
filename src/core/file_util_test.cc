#include "core/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/crypto.h"

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

TEST_F(FileUtil, ensure_directory_sets_mode) { EXPECT_EQ(mode_of(dir_), 0700u); }

TEST_F(FileUtil, exclusive_write_refuses_existing_files_and_keeps_content) {
  auto p = dir_ / "f";
  ASSERT_TRUE(write_file_exclusive(p, as_bytes("one")));
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_EQ(write_file_exclusive(p, as_bytes("two")).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(*read_file(p), "one");
}

TEST_F(FileUtil, atomic_write_replaces_and_leaves_no_temporary) {
  auto p = dir_ / "f";
  ASSERT_TRUE(write_file_atomic(p, as_bytes("one")));
  ASSERT_TRUE(write_file_atomic(p, as_bytes("two")));
  EXPECT_EQ(*read_file(p), "two");
  int count = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_)) ++count;
  EXPECT_EQ(count, 1);
}

TEST_F(FileUtil, read_file_enforces_its_limit) {
  auto p = dir_ / "big";
  ASSERT_TRUE(write_file_exclusive(p, Bytes(1000, 'x')));
  EXPECT_FALSE(read_file(p, 999));
  EXPECT_EQ(read_file(p, 1000)->size(), 1000u);
}

}  // namespace
}  // namespace mpc::core
