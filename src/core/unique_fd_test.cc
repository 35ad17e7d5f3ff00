#include "core/unique_fd.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace mpc::core {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int open_null() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

TEST(UniqueFd, ClosesWhenItGoesAway) {
  const int raw = open_null();
  {
    UniqueFd fd(raw);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(fd.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesTheDescriptorUpWithoutClosingIt) {
  const int raw = open_null();
  {
    UniqueFd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, MovingTransfersOwnershipAndAssignmentClosesTheOldOne) {
  const int a = open_null();
  const int b = open_null();
  UniqueFd first(a);
  UniqueFd second(std::move(first));
  EXPECT_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(second.get(), a);
  UniqueFd third(b);
  third = std::move(second);
  EXPECT_FALSE(is_open(b));
  EXPECT_TRUE(is_open(a));
  EXPECT_EQ(third.get(), a);
  third.reset();
  EXPECT_FALSE(is_open(a));
  EXPECT_FALSE(third);
}

TEST(UniqueFd, AnEmptyOneClosesNothing) {
  UniqueFd none;
  EXPECT_EQ(none.get(), -1);
  none.reset();  // no close(-1)
  UniqueFd failed(::open("/nonexistent/x", O_RDONLY));
  EXPECT_FALSE(failed.valid());
}

}  // namespace
}  // namespace mpc::core
