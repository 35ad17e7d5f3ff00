// Strict UTF-8 validation, as Rust's std::str::from_utf8 (and therefore
// borsh's String) requires: no overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF, no truncated sequences, no stray continuation bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace mpc::core {

// Length of the longest valid UTF-8 prefix of `text`: text.size() when the
// whole text is valid, otherwise the offset of the first offending byte.
std::size_t utf8_valid_prefix(std::string_view text);

inline bool is_valid_utf8(std::string_view text) { return utf8_valid_prefix(text) == text.size(); }

}  // namespace mpc::core
