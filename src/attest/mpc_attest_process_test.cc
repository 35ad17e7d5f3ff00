// mpc-attest as an operator runs it: a real process, its output and exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/attest/fixtures.h"
#include "support/fixtures.h"
#include "support/process.h"

namespace mpc::attest {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return mpc::testing::fixture_path("attest/" + name); }

class MpcAttest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpc_attest_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  static testsupport::RunResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testsupport::binary("apps/mpc-attest").string());
    return testsupport::run(args);
  }

  static std::vector<std::string> verify_args(const std::string& quote, std::int64_t timestamp = testing::kReferenceTimestamp) {
    return {"verify", "--quote", quote, "--collateral", fixture("collateral.json"), "--tcb-info", fixture("tcb_info.json"),
            "--timestamp", std::to_string(timestamp)};
  }
  static std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }

  fs::path dir_;
};

TEST_F(MpcAttest, VerifyPrintsTheVerifiedFieldsAndExitsZeroWhenEverythingHolds) {
  auto r = run(with(verify_args(fixture("quote.json")),
                    {"--tls-key", fixture("near_p2p_public_key.pub"), "--account-key", fixture("near_account_public_key.pub"),
                     "--measurements", fixture("allowed_set.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["tcb_status"], "UpToDate");
  EXPECT_EQ(j["report"], testing::expected_report()["report"]);
  EXPECT_EQ(j["report_data"]["checked"], true);
  EXPECT_EQ(j["allowed_set"]["checked"], true);
  EXPECT_EQ(j["dstack"]["mpc_image_hash"], testing::read_fixture("mpc_image_digest.txt"));
  EXPECT_EQ(j["measurements"]["rtmr2"], testing::expected_report()["report"]["rt_mr2"]);
}

TEST_F(MpcAttest, KeysMayBeGivenAsText) {
  auto tls = testing::read_fixture("near_p2p_public_key.pub");
  auto account = testing::read_fixture("near_account_public_key.pub");
  auto r = run(with(verify_args(fixture("quote.json")), {"--tls-key", tls, "--account-key", account}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["allowed_set"]["checked"], false);
}

TEST_F(MpcAttest, AFailedCheckExitsFiveNamingIt) {
  // Past the collateral's validity.
  auto r = run(verify_args(fixture("quote.json"), testing::kReferenceTimestamp + 40 * 86400));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("mpc-attest: error: crl: PCK CRL expired"), std::string::npos) << r.output;
  // Keys the quote does not bind (swapped).
  r = run(with(verify_args(fixture("quote.json")), {"--tls-key", fixture("near_account_public_key.pub"), "--account-key",
                                                    fixture("near_p2p_public_key.pub")}));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("error: report data: found 0001e4fa"), std::string::npos) << r.output;
  // One byte of the quote's TD report changed.
  auto bytes = nlohmann::json::parse(testing::read_fixture("quote.json"));
  bytes[300] = (bytes[300].get<int>() + 1) % 256;
  r = run(verify_args(write("quote.json", bytes.dump())));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("error: quote signature:"), std::string::npos) << r.output;
  // Measurements that are not allowed.
  auto allowed = nlohmann::json::parse(testing::read_fixture("allowed_set.json"));
  allowed["measurements"].erase(1);
  r = run(with(verify_args(fixture("quote.json")), {"--measurements", write("allowed.json", allowed.dump())}));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("error: measurements:"), std::string::npos) << r.output;
}

TEST_F(MpcAttest, BadFlagsAndFilesExitTwo) {
  const std::string quote = fixture("quote.json");
  const std::vector<std::vector<std::string>> cases = {
      verify_args(fixture("no_such_file.json")),
      verify_args(write("not_json.json", "[4, 0,")),
      verify_args(write("bad_byte.json", "[4, 0, 256]")),
      {"verify", "--quote", quote, "--collateral", write("c.json", "{}"), "--tcb-info", fixture("tcb_info.json"), "--timestamp", "1"},
      {"verify", "--quote", quote, "--collateral", fixture("collateral.json"), "--tcb-info", fixture("quote.json"), "--timestamp",
       "1"},
      {"verify", "--quote", quote, "--collateral", fixture("collateral.json"), "--tcb-info", fixture("tcb_info.json"), "--timestamp",
       "soon"},
      {"verify", "--quote", quote, "--collateral", fixture("collateral.json"), "--tcb-info", fixture("tcb_info.json")},
      with(verify_args(quote), {"--tls-key", fixture("near_p2p_public_key.pub")}),
      with(verify_args(quote), {"--tls-key", "ed25519:nope", "--account-key", fixture("near_account_public_key.pub")}),
      with(verify_args(quote), {"--measurements", write("m.json", "{\"measurements\": []}")}),
      {"report-data", "--tls-key", fixture("near_p2p_public_key.pub")},
      {"report-data", "--tls-key", "secp256k1:abc", "--account-key", fixture("near_account_public_key.pub")},
      {"frobnicate"},
  };
  for (const auto& args : cases) {
    auto r = run(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.output;
    EXPECT_FALSE(r.output.empty()) << joined;
  }
}

TEST_F(MpcAttest, ReportDataPrintsTheExpectedHex) {
  auto r = run({"report-data", "--tls-key", fixture("near_p2p_public_key.pub"), "--account-key",
                fixture("near_account_public_key.pub")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, testing::expected_report()["report"]["report_data"].get<std::string>() + "\n");
}

TEST_F(MpcAttest, PrintsItsVersion) {
  auto r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.output.starts_with("mpc-attest ")) << r.output;
}

}  // namespace
}  // namespace mpc::attest
