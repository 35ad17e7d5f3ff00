#include "core/logging.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace mpc::core {
namespace {

TEST(Logging, JsonLinesParseAndEscapeTheMessage) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  setup_logging("mpc-node", LogFormat::kJson);
  spdlog::warn("refused \"{}\" at {}\\path\n\x01", "peer", "127.0.0.1:1");
  spdlog::set_default_logger(previous);
  auto line = out.str();
  ASSERT_FALSE(line.empty());
  auto j = nlohmann::json::parse(line.substr(0, line.find_last_not_of('\n') + 1));
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["app"], "mpc-node");
  EXPECT_EQ(j["msg"], "refused \"peer\" at 127.0.0.1:1\\path\n\x01");
  EXPECT_EQ(j["time"].get<std::string>().back(), 'Z');
}

TEST(Logging, FormatFlag) {
  EXPECT_EQ(*parse_log_format("json", "--log-format"), LogFormat::kJson);
  EXPECT_EQ(*parse_log_format("text", "--log-format"), LogFormat::kText);
  auto bad = parse_log_format("xml", "--log-format");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--log-format"), std::string::npos);
}

}  // namespace
}  // namespace mpc::core
