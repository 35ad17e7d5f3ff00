// Parsing JSON that comes from outside the process (request bodies, contract
// call arguments, decrypted blobs, files).
//
// nlohmann's parser builds its tree iteratively, but copying, dumping,
// comparing and our own tree walks recurse, so a body nested 100,000 deep
// overflows the stack later on. parse_json() therefore checks the size and
// the nesting depth with one linear scan (no recursion, no allocation) BEFORE
// any tree is built, and only then parses.
//
// Contract: a value returned by parse_json() has at most max_depth levels of
// arrays/objects; every error is kInvalidArgument and quotes no input (the
// text may be a secret).
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace mpc::core {

struct JsonLimits {
  std::size_t max_bytes = 4 << 20;
  // Levels of nested arrays/objects: "[]" is depth 1, "[[]]" depth 2; a
  // scalar is depth 0. NEAR/contract JSON needs ~10; key shares fewer.
  std::size_t max_depth = 64;
  // Values, object keys included ("[1,{"a":"b"}]" holds 5). A parsed value
  // costs 16 to ~80 bytes of memory whatever its text, so a body made of
  // "{}," repeated needs ~28 times its size; paths that never need many
  // values bound the memory with this. Unlimited by default.
  std::size_t max_values = static_cast<std::size_t>(-1);
};

// The message of a syntax error from parse_json(), so that a caller can keep
// its own wording for "not JSON" and pass limit errors on as they are.
inline constexpr std::string_view kNotValidJson = "not valid JSON";

// Size, depth and value count only: "JSON body larger than N bytes", "JSON
// nested deeper than N levels", "JSON holds more than N values". Brackets
// inside strings (and escaped quotes) do not count. Text that is not JSON may
// pass; the parser rejects it.
Status check_json_limits(std::string_view text, const JsonLimits& limits);

// check_json_limits(), then nlohmann's parser without exceptions; a syntax
// error (a NUL byte anywhere included) is kInvalidArgument with the message
// kNotValidJson.
Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits);

}  // namespace mpc::core
