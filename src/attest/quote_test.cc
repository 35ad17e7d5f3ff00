#include "attest/quote.h"

#include <gtest/gtest.h>

#include <random>

#include "attest/checks.h"
#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

using testing::expected_report;
using testing::quote_bytes;

// Where the signature data ends in the recorded quote (70 zero bytes follow).
constexpr std::size_t kRecordedSignatureEnd = 4936;

void put_le32(core::Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

TEST(Quote, ParsesTheRecordedReferenceQuote) {
  auto q = parse_quote(quote_bytes());
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->header.version, 4);
  EXPECT_EQ(q->header.attestation_key_type, kAttestationKeyEcdsaP256);
  EXPECT_EQ(q->header.tee_type, kTeeTypeTdx);
  EXPECT_EQ(q->header.qe_vendor_id, kIntelQeVendorId);
  const auto& r = expected_report()["report"];
  EXPECT_EQ(core::hex_encode(q->report.tee_tcb_svn), r["tee_tcb_svn"]);
  EXPECT_EQ(core::hex_encode(q->report.mr_seam), r["mr_seam"]);
  EXPECT_EQ(core::hex_encode(q->report.td_attributes), r["td_attributes"]);
  EXPECT_EQ(core::hex_encode(q->report.xfam), r["xfam"]);
  EXPECT_EQ(core::hex_encode(q->report.mr_td), r["mr_td"]);
  EXPECT_EQ(core::hex_encode(q->report.mr_config_id), r["mr_config_id"]);
  EXPECT_EQ(core::hex_encode(q->report.rt_mr0), r["rt_mr0"]);
  EXPECT_EQ(core::hex_encode(q->report.rt_mr3), r["rt_mr3"]);
  EXPECT_EQ(core::hex_encode(q->report.report_data), r["report_data"]);
  EXPECT_EQ(q->certification_type, kCertDataPckChain);
  EXPECT_EQ(q->qe_auth_data.size(), 32u);
  EXPECT_TRUE(q->pck_chain.starts_with("-----BEGIN CERTIFICATE-----\n"));
  EXPECT_EQ(q->pck_chain.back(), '\0');
  EXPECT_TRUE(std::equal(q->signed_data.begin(), q->signed_data.end(), quote_bytes().begin()));
}

TEST(Quote, EveryTruncationBeforeTheEndOfTheSignatureDataIsRefused) {
  const core::Bytes& full = quote_bytes();
  for (std::size_t n = 0; n < kRecordedSignatureEnd; ++n) {
    auto q = parse_quote(core::ByteView(full.data(), n));
    ASSERT_FALSE(q) << "length " << n;
    EXPECT_TRUE(failed_check(q.error(), Check::kQuoteFormat)) << n << ": " << q.error().message;
  }
  // Only zero padding follows; dropping it changes nothing.
  EXPECT_TRUE(parse_quote(core::ByteView(full.data(), kRecordedSignatureEnd)));
}

TEST(Quote, NonZeroBytesAfterTheSignatureDataAreRefused) {
  for (std::size_t at : {kRecordedSignatureEnd, quote_bytes().size() - 1}) {
    core::Bytes b = quote_bytes();
    b[at] = 1;
    auto q = parse_quote(b);
    ASSERT_FALSE(q);
    EXPECT_TRUE(failed_check(q.error(), Check::kQuoteFormat)) << q.error().message;
    EXPECT_NE(q.error().message.find("offset " + std::to_string(at)), std::string::npos) << q.error().message;
  }
}

TEST(Quote, OnlyVersionFourTdxQuotesAreParsed) {
  core::Bytes v3 = quote_bytes();
  v3[0] = 3;
  auto q = parse_quote(v3);
  ASSERT_FALSE(q);
  EXPECT_TRUE(failed_check(q.error(), Check::kQuoteHeader)) << q.error().message;
  core::Bytes sgx = quote_bytes();
  sgx[4] = 0;
  q = parse_quote(sgx);
  ASSERT_FALSE(q);
  EXPECT_TRUE(failed_check(q.error(), Check::kQuoteHeader)) << q.error().message;
}

TEST(Quote, LengthsThatDoNotAddUpAreRefused) {
  const auto& original = quote_bytes();
  const std::uint32_t signature_length = 4300;
  for (std::uint32_t bad : {signature_length - 1, signature_length + 1, signature_length + 70, 0xffffffffu}) {
    core::Bytes b = original;
    put_le32(b, 632, bad);
    auto q = parse_quote(b);
    ASSERT_FALSE(q) << bad;
    EXPECT_TRUE(failed_check(q.error(), Check::kQuoteFormat)) << q.error().message;
  }
  // The outer certification data size (offset 766) and the PCK chain size (1254).
  for (std::size_t at : {766u, 1254u}) {
    for (std::int64_t delta : {-1, 1, 1 << 20}) {
      core::Bytes b = original;
      const std::uint32_t v = static_cast<std::uint32_t>(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24));
      put_le32(b, at, static_cast<std::uint32_t>(v + delta));
      auto q = parse_quote(b);
      ASSERT_FALSE(q) << at << " " << delta;
      EXPECT_TRUE(failed_check(q.error(), Check::kQuoteFormat)) << q.error().message;
    }
  }
}

TEST(Quote, OversizedInputIsRefusedBeforeParsing) {
  core::Bytes big(kMaxQuoteSize + 1, 0);
  auto q = parse_quote(big);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("over the limit"), std::string::npos);
}

TEST(Quote, RandomInputNeverReadsOutOfBounds) {
  const std::uint64_t seed = testing::test_seed();
  std::mt19937_64 rng(seed);
  // Random bytes, and the real quote with random length fields and bytes.
  for (int i = 0; i < 2000; ++i) {
    core::Bytes b;
    if (i % 2 == 0) {
      b.resize(rng() % 6000);
      for (auto& x : b) x = static_cast<std::uint8_t>(rng());
      if (b.size() >= 8 && i % 4 == 0) {
        b[0] = 4;
        b[1] = 0;
        b[4] = 0x81;
        b[5] = b[6] = b[7] = 0;
      }
    } else {
      b = quote_bytes();
      for (int k = 0; k < 4; ++k) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
      const std::size_t fields[] = {632, 766, 1218, 1254};
      if (rng() % 2) put_le32(b, fields[rng() % 4], static_cast<std::uint32_t>(rng()));
      b.resize(rng() % (b.size() + 1));
    }
    auto q = parse_quote(b);  // ASan/UBSan builds (make fuzz) catch any overread
    if (q) {
      EXPECT_LE(q->pck_chain.size(), b.size());
    }
  }
}

TEST(Quote, QuoteTextIsAByteArrayOrHex) {
  auto a = parse_quote_text("[4, 0, 255]");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (core::Bytes{4, 0, 255}));
  auto h = parse_quote_text("\"0400ff\"");
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, (core::Bytes{4, 0, 255}));
  for (const char* bad : {"[256]", "[-1]", "[1.5]", "[\"a\"]", "[[1]]", "{}", "\"0g\"", "nope", "7"}) {
    auto r = parse_quote_text(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace mpc::attest
