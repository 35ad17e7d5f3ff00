#include "attest/collateral.h"

#include <gtest/gtest.h>

#include "attest/checks.h"
#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

using testing::collateral;
using testing::read_fixture;

TEST(Collateral, ParsesTheRecordedReferenceCollateral) {
  const Collateral& c = collateral();
  EXPECT_EQ(c.tcb_info_signature.size(), 64u);
  EXPECT_EQ(c.qe_identity_signature.size(), 64u);
  EXPECT_EQ(c.root_ca_crl.size(), 294u);
  EXPECT_FALSE(c.pck_crl.empty());
  EXPECT_TRUE(c.tcb_info.starts_with("{\"id\":\"TDX\""));
  EXPECT_TRUE(c.qe_identity.starts_with("{\"id\":\"TD_QE\""));
  ASSERT_TRUE(c.pck_certificate_chain.has_value());
  EXPECT_TRUE(c.pck_certificate_chain->ends_with("-----END CERTIFICATE-----\n"));
}

TEST(Collateral, ByteFieldsMayBeArraysAndTextLosesTrailingNuls) {
  auto j = nlohmann::json::parse(read_fixture("collateral.json"));
  const auto sig = *core::hex_decode(j["tcb_info_signature"].get<std::string>());
  j["tcb_info_signature"] = sig;  // as an array of numbers
  j["qe_identity"] = j["qe_identity"].get<std::string>() + std::string(2, '\0');
  j.erase("pck_certificate_chain");
  auto c = parse_collateral(j.dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tcb_info_signature, sig);
  EXPECT_EQ(c->qe_identity, collateral().qe_identity);
  EXPECT_FALSE(c->pck_certificate_chain.has_value());
}

TEST(Collateral, AMissingOrMistypedFieldIsNamed) {
  const auto original = nlohmann::json::parse(read_fixture("collateral.json"));
  for (const char* field : {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
                            "tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"}) {
    auto missing = original;
    missing.erase(field);
    auto c = parse_collateral(missing.dump());
    ASSERT_FALSE(c) << field;
    EXPECT_TRUE(failed_check(c.error(), Check::kCollateralFormat)) << c.error().message;
    EXPECT_NE(c.error().message.find(field), std::string::npos) << c.error().message;
    auto mistyped = original;
    mistyped[field] = 7;
    c = parse_collateral(mistyped.dump());
    ASSERT_FALSE(c) << field;
    EXPECT_NE(c.error().message.find(field), std::string::npos) << c.error().message;
  }
  EXPECT_FALSE(parse_collateral("[]"));
  EXPECT_FALSE(parse_collateral("{"));
  auto bad_byte = original;
  bad_byte["pck_crl"] = nlohmann::json::array({1, 300});
  EXPECT_FALSE(parse_collateral(bad_byte.dump()));
}

TEST(Collateral, ParsesTheSignedTcbInfo) {
  auto t = parse_tcb_info(collateral().tcb_info);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->id, "TDX");
  EXPECT_EQ(t->version, 3u);
  EXPECT_EQ(format_utc_time(t->issue_date), "2026-08-13T10:45:38Z");
  EXPECT_EQ(format_utc_time(t->next_update), "2026-09-12T10:45:38Z");
  EXPECT_EQ(core::hex_encode(t->fmspc), "b0c06f000000");
  EXPECT_EQ(t->tcb_evaluation_data_number, 20u);
  ASSERT_FALSE(t->tcb_levels.empty());
  const auto& top = t->tcb_levels.front();
  EXPECT_EQ(top.status.status, TcbStatus::kUpToDate);
  EXPECT_EQ(top.pce_svn, 11);
  EXPECT_EQ(top.sgx_components[0], 4);
  EXPECT_EQ(top.tdx_components[0], 5);
  EXPECT_EQ(top.tdx_components[2], 4);
  ASSERT_TRUE(t->has_tdx_module);
  ASSERT_EQ(t->tdx_module_identities.size(), 2u);
  EXPECT_EQ(t->tdx_module_identities[1].id, "TDX_01");
  EXPECT_EQ(t->tdx_module_identities[1].tcb_levels[0].isv_svn, 11);
  EXPECT_EQ(t->tdx_module_identities[1].tcb_levels[1].status.advisory_ids.size(), 3u);
}

TEST(Collateral, ParsesTheSignedQeIdentity) {
  auto q = parse_qe_identity(collateral().qe_identity);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->id, "TD_QE");
  EXPECT_EQ(q->version, 2u);
  EXPECT_EQ(q->isv_prod_id, 2);
  EXPECT_EQ(core::hex_encode(q->mrsigner), "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(core::hex_encode(q->attributes_mask), "fbffffffffffffff0000000000000000");
  ASSERT_EQ(q->tcb_levels.size(), 1u);
  EXPECT_EQ(q->tcb_levels[0].isv_svn, 4);
}

TEST(Collateral, MalformedSignedDocumentsNameTheField) {
  auto doc = nlohmann::json::parse(collateral().tcb_info);
  doc["tcbLevels"][0]["tcb"]["sgxtcbcomponents"].erase(0);
  auto t = parse_tcb_info(doc.dump());
  ASSERT_FALSE(t);
  EXPECT_TRUE(failed_check(t.error(), Check::kTcbInfoFormat));
  EXPECT_NE(t.error().message.find("tcbLevels[0].tcb.sgxtcbcomponents"), std::string::npos) << t.error().message;

  doc = nlohmann::json::parse(collateral().tcb_info);
  doc["tcbLevels"][1]["tcbStatus"] = "Great";
  t = parse_tcb_info(doc.dump());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("tcbLevels[1].tcbStatus"), std::string::npos) << t.error().message;

  doc = nlohmann::json::parse(collateral().tcb_info);
  doc["fmspc"] = "B0C06F";
  t = parse_tcb_info(doc.dump());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("fmspc"), std::string::npos) << t.error().message;

  auto qe = nlohmann::json::parse(collateral().qe_identity);
  qe["nextUpdate"] = "2026-09-11 23:57:43";
  auto q = parse_qe_identity(qe.dump());
  ASSERT_FALSE(q);
  EXPECT_TRUE(failed_check(q.error(), Check::kQeIdentityFormat));
  EXPECT_NE(q.error().message.find("nextUpdate"), std::string::npos) << q.error().message;
  EXPECT_FALSE(parse_qe_identity("[]"));
  EXPECT_FALSE(parse_tcb_info(""));
}

TEST(Collateral, UtcTimesAreStrict) {
  EXPECT_EQ(parse_utc_time("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_utc_time("2026-08-13T12:00:00Z").value(), testing::kReferenceTimestamp);
  EXPECT_EQ(parse_utc_time("2024-02-29T23:59:59Z").value(), 1709251199);
  EXPECT_EQ(format_utc_time(1709251199), "2024-02-29T23:59:59Z");
  for (const char* bad : {"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-08-13T24:00:00Z", "2026-08-13T12:00:60Z",
                          "2026-08-13T12:00:00", "2026-08-13T12:00:00+00:00", "2026-08-13 12:00:00Z", "2026-8-13T12:00:00Z",
                          "", "2026-08-13T12:00:0xZ"}) {
    EXPECT_FALSE(parse_utc_time(bad)) << bad;
  }
}

TEST(Collateral, MergingStatusesKeepsTheWorseAndEveryAdvisoryOnce) {
  TcbStatusWithAdvisory up{TcbStatus::kUpToDate, {}};
  TcbStatusWithAdvisory old{TcbStatus::kOutOfDate, {"INTEL-SA-1", "INTEL-SA-2"}};
  TcbStatusWithAdvisory hardening{TcbStatus::kSWHardeningNeeded, {"INTEL-SA-2", "INTEL-SA-3"}};
  EXPECT_EQ(up.merge(up).status, TcbStatus::kUpToDate);
  EXPECT_EQ(up.merge(old).status, TcbStatus::kOutOfDate);
  const auto merged = old.merge(hardening);
  EXPECT_EQ(merged.status, TcbStatus::kOutOfDate);
  EXPECT_EQ(merged.advisory_ids, (std::vector<std::string>{"INTEL-SA-1", "INTEL-SA-2", "INTEL-SA-3"}));
  EXPECT_EQ(hardening.merge(TcbStatusWithAdvisory{TcbStatus::kRevoked, {}}).status, TcbStatus::kRevoked);
  for (auto s : {TcbStatus::kUpToDate, TcbStatus::kRevoked, TcbStatus::kOutOfDateConfigurationNeeded}) {
    EXPECT_EQ(parse_tcb_status(tcb_status_name(s)), s);
  }
  EXPECT_FALSE(parse_tcb_status("uptodate"));
}

}  // namespace
}  // namespace mpc::attest
