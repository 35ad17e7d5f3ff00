#include "core/u128.h"

#include <algorithm>

namespace mpc::core {

std::string u128_to_string(u128 value) {
  if (value == 0) return "0";
  std::string out;
  while (value != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<u128> parse_u128(std::string_view text) {
  if (text.empty() || text.size() > 39) return invalid("an amount must be 1 to 39 decimal digits");
  u128 value = 0;
  const u128 max = ~static_cast<u128>(0);
  for (char c : text) {
    if (c < '0' || c > '9') return invalid("an amount must contain decimal digits only");
    unsigned d = static_cast<unsigned>(c - '0');
    if (value > (max - d) / 10) return invalid("an amount does not fit in 128 bits");
    value = value * 10 + d;
  }
  return value;
}

}  // namespace mpc::core
