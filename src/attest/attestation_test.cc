#include "attest/attestation.h"

#include <gtest/gtest.h>

#include "attest/report_data.h"
#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

using testing::allowed_set;
using testing::collateral;
using testing::expected_report;
using testing::kReferenceTimestamp;
using testing::quote_bytes;
using testing::tcb_info;

VerifyOptions full_options() {
  VerifyOptions o;
  o.timestamp = kReferenceTimestamp;
  o.expected_report_data = report_data_v1(testing::tls_key(), testing::account_key());
  o.allowed = &allowed_set();
  return o;
}

// The DCAP result of the recorded quote, computed once.
const VerifiedReport& verified_dcap() {
  static const VerifiedReport r = *verify_quote(quote_bytes(), collateral(), kReferenceTimestamp);
  return r;
}

TEST(Attestation, TheRecordedAttestationVerifiesWithEveryCheck) {
  auto v = verify_attestation(quote_bytes(), collateral(), tcb_info(), full_options());
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->report_data_checked);
  ASSERT_TRUE(v->allowed_measurements_index.has_value());
  EXPECT_EQ(*v->allowed_measurements_index, 1u);
  EXPECT_EQ(v->checks, (std::vector<std::string>{"dcap quote", "tcb status", "report data", "rtmr3", "event log", "app compose",
                                                 "mpc image hash", "launcher compose hash", "measurements"}));
  const nlohmann::json j = to_json(*v);
  EXPECT_EQ(j["tcb_status"], "UpToDate");
  EXPECT_EQ(j["report"], expected_report()["report"]);
  EXPECT_EQ(j["ppid"], expected_report()["ppid"]);
  EXPECT_EQ(j["report_data"]["checked"], true);
  EXPECT_EQ(j["allowed_set"]["measurements_index"], 1);
  EXPECT_EQ(j["measurements"], measurements_to_json(allowed_set().measurements[1]));
  EXPECT_EQ(j["time"], "2026-08-13T12:00:00Z");
}

TEST(Attestation, WithoutKeysOrAllowedSetThoseChecksAreReportedAsNotRun) {
  VerifyOptions o;
  o.timestamp = kReferenceTimestamp;
  auto v = verify_attestation(quote_bytes(), collateral(), tcb_info(), o);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_FALSE(v->report_data_checked);
  EXPECT_FALSE(v->allowed_measurements_index.has_value());
  const nlohmann::json j = to_json(*v);
  EXPECT_EQ(j["report_data"]["checked"], false);
  EXPECT_EQ(j["allowed_set"]["checked"], false);
  EXPECT_EQ(std::count(v->checks.begin(), v->checks.end(), "measurements"), 0);
}

TEST(Attestation, OnlyUpToDateIsAccepted) {
  for (auto status : {TcbStatus::kSWHardeningNeeded, TcbStatus::kConfigurationNeeded, TcbStatus::kOutOfDate,
                      TcbStatus::kOutOfDateConfigurationNeeded}) {
    VerifiedReport r = verified_dcap();
    r.status.status = status;
    auto v = verify_report(r, tcb_info(), full_options());
    ASSERT_FALSE(v) << tcb_status_name(status);
    EXPECT_TRUE(failed_check(v.error(), Check::kTcbStatus)) << v.error().message;
    EXPECT_NE(v.error().message.find(tcb_status_name(status)), std::string::npos);
  }
  // Informational advisories with UpToDate pass (as in the reference).
  VerifiedReport r = verified_dcap();
  r.status.advisory_ids = {"INTEL-DOC-10000"};
  EXPECT_TRUE(verify_report(r, tcb_info(), full_options()));
}

TEST(Attestation, EverySingleByteChangeOfTheReportDataIsRejected) {
  for (std::size_t i = 0; i < 64; ++i) {
    VerifyOptions o = full_options();
    (*o.expected_report_data)[i] ^= 0x01;
    auto v = verify_report(verified_dcap(), tcb_info(), o);
    ASSERT_FALSE(v) << i;
    EXPECT_TRUE(failed_check(v.error(), Check::kReportData)) << v.error().message;
  }
  // Keys swapped, or another node's key.
  VerifyOptions o = full_options();
  o.expected_report_data = report_data_v1(testing::account_key(), testing::tls_key());
  auto v = verify_attestation(quote_bytes(), collateral(), tcb_info(), o);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kReportData)) << v.error().message;
}

TEST(Attestation, AChangedMeasurementIsRejected) {
  // In the allowed set (every byte: dstack_test), through the whole path.
  AllowedSet a = allowed_set();
  a.measurements[1].rtmr2[47] ^= 1;
  VerifyOptions o = full_options();
  o.allowed = &a;
  auto v = verify_attestation(quote_bytes(), collateral(), tcb_info(), o);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kMeasurements)) << v.error().message;
  // In the quote: the report body is signed (quote signature).
  core::Bytes quote = quote_bytes();
  quote[48 + 136 + 10] ^= 1;  // MRTD
  v = verify_attestation(quote, collateral(), tcb_info(), full_options());
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kQuoteSignature)) << v.error().message;
  // In dstack's tcb info.
  DstackTcbInfo t = tcb_info();
  t.mrtd[0] ^= 1;
  v = verify_attestation(quote_bytes(), collateral(), t, full_options());
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kMeasurements)) << v.error().message;
  t = tcb_info();
  t.rtmr3[0] ^= 1;
  v = verify_attestation(quote_bytes(), collateral(), t, full_options());
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kRtmr3)) << v.error().message;
}

TEST(Attestation, ATimestampPastTheCollateralsValidityIsRejected) {
  VerifyOptions o = full_options();
  o.timestamp = *parse_utc_time("2026-09-12T00:00:00Z");
  auto v = verify_attestation(quote_bytes(), collateral(), tcb_info(), o);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kCrl)) << v.error().message;
  EXPECT_NE(v.error().message.find("PCK CRL expired at 2026-09-11T23:57:11Z"), std::string::npos) << v.error().message;
}

}  // namespace
}  // namespace mpc::attest
