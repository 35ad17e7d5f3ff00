#include "cli/cli.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace mpc::cli {
namespace {

TEST(ExitCodes, OneTableForEveryBinary) {
  EXPECT_EQ(exit_code_for({core::ErrorCode::kUnavailable, ""}), kNetwork);
  EXPECT_EQ(exit_code_for({core::ErrorCode::kTimeout, ""}), kNetwork);
  EXPECT_EQ(exit_code_for({core::ErrorCode::kPermissionDenied, ""}), kAuth);
  EXPECT_EQ(exit_code_for({core::ErrorCode::kFailedPrecondition, ""}), kValidation);
  EXPECT_EQ(exit_code_for({core::ErrorCode::kTxRejected, ""}), kChainRefused);
  EXPECT_EQ(exit_code_for({core::ErrorCode::kInternal, ""}), kOther);
}

TEST(SecretFlags, WipeOptionResultsClearsCli11sCopy) {
  CLI::App app;
  std::string key;
  auto* option = app.add_option("--key", key);
  std::vector<std::string> args = {"--key", "SECRETVALUE"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  ASSERT_EQ(key, "SECRETVALUE");
  ASSERT_EQ(option->results().size(), 1u);
  wipe_option_results(option);
  EXPECT_TRUE(option->results().empty());
  EXPECT_EQ(key, "SECRETVALUE");  // the bound variable keeps the value
}

TEST(SecretFlags, ScrubEnvRemovesTheVariable) {
  ::setenv("MPC_CLI_TEST_SECRET", "SECRETVALUE", 1);
  scrub_env("MPC_CLI_TEST_SECRET");
  EXPECT_EQ(std::getenv("MPC_CLI_TEST_SECRET"), nullptr);
  scrub_env("MPC_CLI_TEST_SECRET");  // absent: nothing to do
}

TEST(SecretFlags, WipeOnExitZeroesTheBoundString) {
  std::string secret = "SECRETVALUE";
  { WipeOnExit wipe(secret); }
  EXPECT_EQ(secret, std::string(11, '\0'));
}

}  // namespace
}  // namespace mpc::cli
