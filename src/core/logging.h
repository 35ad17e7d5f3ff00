// Log setup shared by the binaries: human-readable lines, or JSON lines for
// log collectors ({"time","level","app","msg"}; the message JSON-escaped).
// Either way messages never carry key material: callers log public keys,
// epochs, addresses and error texts only.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace mpc::core {

enum class LogFormat { kText, kJson };

// "text" or "json"; anything else is an error naming `flag`.
Result<LogFormat> parse_log_format(std::string_view text, std::string_view flag);

// Configures spdlog's default logger for `app` (stderr/stdout as today).
void setup_logging(std::string_view app, LogFormat format);

// JSON string escaping (quotes, backslash, control characters), for tests.
std::string json_escape(std::string_view text);

}  // namespace mpc::core
