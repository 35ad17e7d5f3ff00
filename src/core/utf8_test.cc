#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace mpc::core {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(Utf8, AcceptsAsciiAndEverySequenceLength) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("register_backup_service"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9"));          // é
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));      // €
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));  // 😀
  EXPECT_TRUE(is_valid_utf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));  // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(bytes({0xED, 0x9F, 0xBF})));        // U+D7FF
  EXPECT_TRUE(is_valid_utf8(bytes({0xEE, 0x80, 0x80})));        // U+E000
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));           // NUL is valid UTF-8
}

TEST(Utf8, RejectsWhatRustRejectsAndNamesTheOffset) {
  struct Case {
    std::string text;
    std::size_t bad_at;
  };
  const Case cases[] = {
      {bytes({'a', 0x80}), 1},                    // stray continuation byte
      {bytes({0xC0, 0xAF}), 0},                   // overlong '/'
      {bytes({0xC1, 0xBF}), 0},                   // overlong
      {bytes({0xE0, 0x80, 0xAF}), 0},             // overlong 3-byte
      {bytes({0xF0, 0x80, 0x80, 0xAF}), 0},       // overlong 4-byte
      {bytes({0xED, 0xA0, 0x80}), 0},             // U+D800, a surrogate
      {bytes({0xED, 0xBF, 0xBF}), 0},             // U+DFFF
      {bytes({0xF4, 0x90, 0x80, 0x80}), 0},       // U+110000
      {bytes({0xF5, 0x80, 0x80, 0x80}), 0},       // beyond the range
      {bytes({0xFF}), 0},
      {bytes({'o', 'k', 0xE2, 0x82}), 2},         // truncated at the end
      {bytes({0xC3, 'a'}), 0},                    // continuation missing
      {bytes({'x', 0xF0, 0x9F, 0x98}), 1},        // truncated 4-byte
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(is_valid_utf8(c.text));
    EXPECT_EQ(utf8_valid_prefix(c.text), c.bad_at);
  }
}

TEST(Utf8, EverySingleByteAbove0x7fAloneIsInvalid) {
  for (int b = 0x80; b <= 0xFF; ++b) EXPECT_FALSE(is_valid_utf8(bytes({b}))) << b;
}

}  // namespace
}  // namespace mpc::core
