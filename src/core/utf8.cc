#include "core/utf8.h"

#include <cstdint>

namespace mpc::core {

// The well-formed byte sequences of the Unicode Standard, table 3-7.
std::size_t utf8_valid_prefix(std::string_view text) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto cont = [&](std::size_t at, std::uint8_t lo = 0x80, std::uint8_t hi = 0xBF) {
    return at < n && s[at] >= lo && s[at] <= hi;
  };
  while (i < n) {
    const std::uint8_t b = s[i];
    std::size_t len = 0;
    if (b <= 0x7F) {
      len = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = cont(i + 1) ? 2 : 0;
    } else if (b == 0xE0) {
      len = cont(i + 1, 0xA0, 0xBF) && cont(i + 2) ? 3 : 0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      len = cont(i + 1) && cont(i + 2) ? 3 : 0;
    } else if (b == 0xED) {
      len = cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;  // no surrogates
    } else if (b == 0xF0) {
      len = cont(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    } else if (b >= 0xF1 && b <= 0xF3) {
      len = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    } else if (b == 0xF4) {
      len = cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;  // <= U+10FFFF
    }
    if (len == 0) return i;  // 0x80..0xC1, 0xF5..0xFF, or a bad/truncated sequence
    i += len;
  }
  return n;
}

}  // namespace mpc::core
