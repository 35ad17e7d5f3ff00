#include "core/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace mpc::core {
namespace {

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

TEST(JsonLimits, DepthExactlyAtTheLimitParses) {
  auto a = parse_json(nested_arrays(64), JsonLimits{1 << 20, 64});
  ASSERT_TRUE(a) << a.error().message;
  auto o = parse_json(nested_objects(64), JsonLimits{1 << 20, 64});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ((*o)["a"]["a"]["a"].size(), 1u);
}

TEST(JsonLimits, OneLevelAboveTheLimitIsRefusedWithTheLimitNamed) {
  for (const std::string& text : {nested_arrays(65), nested_objects(65)}) {
    auto r = parse_json(text, JsonLimits{1 << 20, 64});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "JSON nested deeper than 64 levels");
  }
}

TEST(JsonLimits, ScalarsAndSmallLimits) {
  EXPECT_TRUE(parse_json("7", JsonLimits{16, 0}));
  EXPECT_TRUE(parse_json("\"[[[\"", JsonLimits{16, 0}));
  EXPECT_FALSE(parse_json("[]", JsonLimits{16, 0}));
  EXPECT_TRUE(parse_json("[]", JsonLimits{16, 1}));
  EXPECT_TRUE(parse_json("[[],{},[1,2]]", JsonLimits{64, 2}));  // siblings do not add up
  EXPECT_FALSE(parse_json("[[],{},[[1]]]", JsonLimits{64, 2}));
}

TEST(JsonLimits, A100000DeepBodyIsRefusedWithoutBuildingAnything) {
  const std::string deep = nested_arrays(100'000);
  auto r = parse_json(deep, JsonLimits{4 << 20, 64});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "JSON nested deeper than 64 levels");
  // Unclosed, too: the scan stops at the 65th opener.
  auto open_only = parse_json(std::string(100'000, '{'), JsonLimits{4 << 20, 64});
  ASSERT_FALSE(open_only);
  EXPECT_EQ(open_only.error().message, "JSON nested deeper than 64 levels");
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  const std::string brackets(1000, '[');
  auto r = parse_json("{\"k\":\"" + brackets + "\",\"v\":[\"]]]]}}}}\"]}", JsonLimits{1 << 20, 2});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["k"].get<std::string>(), brackets);
}

TEST(JsonLimits, EscapedQuotesAndBackslashesDoNotEndStrings) {
  // "\"[[[" stays a string; "\\" ends with a backslash, and the quote after it closes it.
  auto r = parse_json(R"(["\"[[[[", "\\", "\\\"{{{{", "\u005b"])", JsonLimits{1 << 20, 1});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0], "\"[[[[");
  EXPECT_EQ((*r)[1], "\\");
  EXPECT_EQ((*r)[3], "[");
  // After "\\" the string is closed, so the brackets that follow are counted.
  auto deep = parse_json(R"(["\\", [[1]]])", JsonLimits{1 << 20, 2});
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().message, "JSON nested deeper than 2 levels");
}

TEST(JsonLimits, UnbalancedClosersCannotHideNesting) {
  auto r = parse_json("]]]]]]" + nested_arrays(5), JsonLimits{1 << 20, 4});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "JSON nested deeper than 4 levels");
}

TEST(JsonLimits, SizeIsCheckedFirst) {
  auto r = parse_json(std::string(101, ' ') + "1", JsonLimits{100, 64});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "JSON body larger than 100 bytes");
  EXPECT_TRUE(parse_json(std::string(99, ' ') + "1", JsonLimits{100, 64}));
}

TEST(JsonLimits, HugeFlatArraysAreFine) {
  std::string text = "[";
  for (int i = 0; i < 500'000; ++i) text += i == 0 ? "0" : ",0";
  text += "]";
  auto r = parse_json(text, JsonLimits{4 << 20, 1});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 500'000u);
}

TEST(JsonLimits, ValuesAreCountedKeysIncludedAndStringsContentsNot) {
  JsonLimits five{1 << 20, 64, 5};
  EXPECT_TRUE(parse_json(R"([1,{"a":"b"}])", five));
  EXPECT_TRUE(parse_json(R"([true, null, -1.5e+3, "x,y:[{"])", five));
  JsonLimits four{1 << 20, 64, 4};
  auto r = parse_json(R"([1,{"a":"b"}])", four);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "JSON holds more than 4 values");
  // "{}," repeated: the costliest text per byte is refused before parsing.
  std::string objects = "[";
  for (int i = 0; i < 1000; ++i) objects += i == 0 ? "{}" : ",{}";
  objects += "]";
  EXPECT_TRUE(parse_json(objects, JsonLimits{1 << 20, 64, 1001}));
  EXPECT_FALSE(parse_json(objects, JsonLimits{1 << 20, 64, 1000}));
}

TEST(JsonLimits, SyntaxErrorsHaveAFixedMessageThatQuotesNothing) {
  for (const char* text : {"{oops", "", "[1,]", "{\"secret-ish\":", "]", "\"unterminated"}) {
    auto r = parse_json(text, JsonLimits{});
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, kNotValidJson) << text;
  }
}

TEST(JsonLimits, CheckAloneAcceptsWhatItCannotJudge) {
  // Size and depth only; the syntax is the parser's business.
  EXPECT_TRUE(check_json_limits("{oops", JsonLimits{}));
  EXPECT_FALSE(check_json_limits(nested_arrays(3), JsonLimits{100, 2}));
}

// Found by fuzz/json_limits_fuzz (limits bytes 00 00, then the text): nlohmann
// stops at a NUL byte and took "-1" for the whole body, trailing bytes ignored.
TEST(JsonLimits, ANulByteAnywhereMakesTheTextInvalid) {
  const unsigned char fuzz_input[] = {0x2d, 0x31, 0x00, 0x00, 0x00, 0x7d, 0x31};
  const std::string text(reinterpret_cast<const char*>(fuzz_input), sizeof fuzz_input);
  for (const std::string& t : {text, std::string("{\"a\":1}\0junk]]]", 15), std::string("[1]\0", 4), std::string("\0", 1)}) {
    auto r = parse_json(t, JsonLimits{});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, kNotValidJson);
  }
  EXPECT_TRUE(parse_json("{\"a\":\"\\u0000\"}", JsonLimits{}));  // an escaped NUL inside a string is fine
}

}  // namespace
}  // namespace mpc::core
