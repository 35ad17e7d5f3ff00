#include "attest/report_data.h"

#include <gtest/gtest.h>

#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

core::Ed25519PublicKey key_from(std::uint8_t first) {
  core::Ed25519PublicKey k;
  for (std::size_t i = 0; i < 32; ++i) k.bytes[i] = static_cast<std::uint8_t>(first + i);
  return k;
}

TEST(ReportData, BindsTheRecordedNodesKeysAsTheReferenceDoes) {
  const ReportData rd = report_data_v1(testing::tls_key(), testing::account_key());
  EXPECT_EQ(core::hex_encode(rd), testing::expected_report()["report"]["report_data"]);
}

TEST(ReportData, IsVersionThenSha3Of384BitsThenZeros) {
  // SHA3-384 of 0x00..0x3f (Python hashlib.sha3_384).
  const ReportData rd = report_data_v1(key_from(0), key_from(32));
  EXPECT_EQ(core::hex_encode(rd),
            "0001"
            "adf2ec9d4c135c64ddd796af90462ff4ec1d3542cc7002dd8cfc20fac50a0fae01a65d35b000d191398a5ec57a1954e4"
            "0000000000000000000000000000");
}

TEST(ReportData, KeyOrderAndEveryKeyByteMatter) {
  const core::Ed25519PublicKey tls = key_from(1), account = key_from(100);
  const ReportData base = report_data_v1(tls, account);
  EXPECT_NE(report_data_v1(account, tls), base);
  for (std::size_t i = 0; i < 32; ++i) {
    core::Ed25519PublicKey t = tls, a = account;
    t.bytes[i] ^= 1;
    a.bytes[i] ^= 1;
    EXPECT_NE(report_data_v1(t, account), base) << i;
    EXPECT_NE(report_data_v1(tls, a), base) << i;
  }
}

}  // namespace
}  // namespace mpc::attest
