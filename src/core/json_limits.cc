#include "core/json_limits.h"

#include <string>

namespace mpc::core {

Status check_json_limits(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return invalid("JSON body larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  std::size_t depth = 0;
  std::size_t values = 0;
  bool in_string = false;
  bool in_scalar = false;  // inside a number or a literal (true, false, null)
  auto one_more_value = [&]() -> Status {
    if (++values > limits.max_values) return invalid("JSON holds more than " + std::to_string(limits.max_values) + " values");
    return {};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character ('"', '\\', 'u', ...) cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool scalar_char = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                             c == '+' || c == '.';
    if (scalar_char) {
      if (!in_scalar) MPC_TRY(one_more_value());
      in_scalar = true;
      continue;
    }
    in_scalar = false;
    switch (c) {
      case '"':
        in_string = true;
        MPC_TRY(one_more_value());
        break;
      case '[':
      case '{':
        if (++depth > limits.max_depth) {
          return invalid("JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
        }
        MPC_TRY(one_more_value());
        break;
      case ']':
      case '}':
        // An unbalanced closer is a syntax error the parser reports; never
        // let it lower the count below zero (that would hide later nesting).
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return {};
}

Result<nlohmann::json> parse_json(std::string_view text, const JsonLimits& limits) {
  MPC_TRY(check_json_limits(text, limits));
  // nlohmann ends the input at a NUL byte and ignores whatever follows
  // ("{}\0anything" parses as {}). No JSON text holds a NUL (outside strings
  // only whitespace may separate tokens; inside, control characters must be
  // escaped), so any NUL makes the text invalid, as other parsers find it.
  if (text.find('\0') != std::string_view::npos) return invalid(std::string(kNotValidJson));
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid(std::string(kNotValidJson));
  return j;
}

}  // namespace mpc::core
