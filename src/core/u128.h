// 128-bit unsigned amounts (NEAR balances and deposits, in yoctoNEAR).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace mpc::core {

using u128 = unsigned __int128;

std::string u128_to_string(u128 value);
// Decimal digits only, no sign, no leading '+', at most 39 digits, <= 2^128-1.
Result<u128> parse_u128(std::string_view text);

}  // namespace mpc::core
