#include "core/allocator.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

// Built twice: into core_tests (glibc's malloc) and, when mpc-node links
// jemalloc, into core_jemalloc_tests, linked the same way
// (MPC_EXPECT_JEMALLOC).

namespace mpc::core {
namespace {

#ifdef MPC_EXPECT_JEMALLOC
TEST(Allocator, JemallocIsFoundAndNamedWithItsVersion) {
  EXPECT_TRUE(allocator_name().starts_with("jemalloc 5.")) << allocator_name();
  // The same answer on another thread (the check allocates on the caller's).
  std::string other;
  std::thread([&] { other = allocator_name(); }).join();
  EXPECT_EQ(other, allocator_name());
}
#else
TEST(Allocator, GlibcIsNamed) { EXPECT_EQ(allocator_name(), "glibc"); }
#endif

}  // namespace
}  // namespace mpc::core
