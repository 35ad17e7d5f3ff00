#include "core/secret.h"

#include <gtest/gtest.h>

#include <string_view>

namespace mpc::core {
namespace {

// The bytes a string's buffer holds, capacity included.
std::string_view raw(const std::string& s) { return std::string_view(s.data(), s.capacity()); }

TEST(SecretString, AShortSecretMovedFromLeavesNothingInTheOldBuffer) {
  SecretString a(std::string("short-secret"));  // fits the small-string buffer
  SecretString b(std::move(a));
  EXPECT_EQ(b.reveal(), "short-secret");
  EXPECT_EQ(raw(a.reveal()).find("short"), std::string_view::npos);
  SecretString c;
  c = std::move(b);
  EXPECT_EQ(c.reveal(), "short-secret");
  EXPECT_EQ(raw(b.reveal()).find("short"), std::string_view::npos);
}

TEST(SecretString, WipeCoversWhatAShrunkStringKeepsBehindItsSize) {
  std::string s = "a-long-secret-that-does-not-fit-the-small-buffer";
  s.resize(4);  // the tail stays in the buffer
  ASSERT_NE(raw(s).find("secret"), std::string_view::npos);
  SecretString::wipe(s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(raw(s).find("secret"), std::string_view::npos);
}

TEST(SecretBytes, MovedFromIsEmptyAndCloneIsExplicit) {
  SecretBytes a(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>("key!"), 4));
  SecretBytes copy = a.clone();
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(b == copy);
}

}  // namespace
}  // namespace mpc::core
