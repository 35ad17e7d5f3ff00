#include "attest/dcap.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <random>
#include <set>

#include "attest/checks.h"
#include "attest/intel_root_ca.h"
#include "core/crypto.h"
#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

using testing::collateral;
using testing::expected_report;
using testing::kReferenceTimestamp;
using testing::quote_bytes;

// The recorded quote's regions (offsets from quote.h's layout, sizes from the
// recorded quote: 32 bytes of QE auth data, a 3,678-byte PEM chain, 70 bytes
// of padding) and the checks a change inside each must trip.
struct Region {
  std::size_t begin, end;
  const char* name;
  std::set<Check> checks;
};
const std::vector<Region>& regions() {
  static const std::vector<Region> r = {
      {0, 2, "version", {Check::kQuoteHeader}},
      {2, 4, "attestation key type", {Check::kQuoteHeader}},
      {4, 8, "TEE type", {Check::kQuoteHeader}},
      {8, 12, "QE/PCE SVN", {Check::kQuoteSignature}},
      {12, 28, "QE vendor id", {Check::kQuoteHeader}},
      {28, 48, "user data", {Check::kQuoteSignature}},
      {48, 632, "TD report body", {Check::kQuoteSignature}},
      {632, 636, "signature data length", {Check::kQuoteFormat}},
      {636, 700, "quote signature", {Check::kQuoteSignature}},
      {700, 764, "attestation key", {Check::kQeReportData}},
      {764, 770, "certification data header", {Check::kQuoteFormat}},
      {770, 1154, "QE report", {Check::kQeReportSignature}},
      {1154, 1218, "QE report signature", {Check::kQeReportSignature}},
      {1218, 1220, "QE auth data size", {Check::kQuoteFormat}},
      {1220, 1252, "QE auth data", {Check::kQeReportData}},
      {1252, 1254, "PCK certification data type", {Check::kQuoteFormat, Check::kPckChain}},
      {1254, 1258, "PCK certification data size", {Check::kQuoteFormat}},
      {1258, 4936, "PCK certificate chain", {Check::kPckChain}},
      {4936, 5006, "padding", {Check::kQuoteFormat}},
  };
  return r;
}

const Region& region_of(std::size_t offset) {
  for (const auto& r : regions()) {
    if (offset >= r.begin && offset < r.end) return r;
  }
  static const Region none{0, 0, "none", {}};
  return none;
}

// A self-signed P-256 certificate named like Intel's root (not pinned).
std::string impostor_root_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -10LL * 365 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 30LL * 365 * 86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Intel SGX Root CA"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Intel Corporation"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(out);
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

TEST(Dcap, TheRootCaIsPinned) {
  const std::string_view pem = intel_sgx_root_ca_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  ASSERT_GT(len, 0);
  EXPECT_EQ(core::hex_encode(core::sha256(core::ByteView(der, static_cast<std::size_t>(len)))), kIntelSgxRootCaSha256);
  char cn[64] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "Intel SGX Root CA");
  OPENSSL_free(der);
  X509_free(cert);
  // The recorded quote's chain ends in the same certificate.
  EXPECT_NE(collateral().pck_certificate_chain->find(std::string(pem.substr(28, 64))), std::string::npos);
}

TEST(Dcap, TheRecordedQuoteVerifiesAtTheReferenceTimestamp) {
  auto v = verify_quote(quote_bytes(), collateral(), kReferenceTimestamp);
  ASSERT_TRUE(v) << v.error().message;
  const auto& e = expected_report();
  EXPECT_EQ(tcb_status_name(v->status.status), e["status"]);
  EXPECT_TRUE(v->status.advisory_ids.empty());
  EXPECT_EQ(tcb_status_name(v->qe_status.status), e["qe_status"]);
  EXPECT_EQ(tcb_status_name(v->platform_status.status), e["platform_status"]);
  EXPECT_EQ(core::hex_encode(v->pck.ppid), e["ppid"]);
  EXPECT_EQ(core::hex_encode(v->pck.fmspc), "b0c06f000000");
  const auto& r = e["report"];
  const TdReport10& t = v->report;
  EXPECT_EQ(core::hex_encode(t.tee_tcb_svn), r["tee_tcb_svn"]);
  EXPECT_EQ(core::hex_encode(t.mr_seam), r["mr_seam"]);
  EXPECT_EQ(core::hex_encode(t.mr_signer_seam), r["mr_signer_seam"]);
  EXPECT_EQ(core::hex_encode(t.seam_attributes), r["seam_attributes"]);
  EXPECT_EQ(core::hex_encode(t.td_attributes), r["td_attributes"]);
  EXPECT_EQ(core::hex_encode(t.xfam), r["xfam"]);
  EXPECT_EQ(core::hex_encode(t.mr_td), r["mr_td"]);
  EXPECT_EQ(core::hex_encode(t.mr_config_id), r["mr_config_id"]);
  EXPECT_EQ(core::hex_encode(t.mr_owner), r["mr_owner"]);
  EXPECT_EQ(core::hex_encode(t.mr_owner_config), r["mr_owner_config"]);
  EXPECT_EQ(core::hex_encode(t.rt_mr0), r["rt_mr0"]);
  EXPECT_EQ(core::hex_encode(t.rt_mr1), r["rt_mr1"]);
  EXPECT_EQ(core::hex_encode(t.rt_mr2), r["rt_mr2"]);
  EXPECT_EQ(core::hex_encode(t.rt_mr3), r["rt_mr3"]);
  EXPECT_EQ(core::hex_encode(t.report_data), r["report_data"]);
}

TEST(Dcap, TheCollateralsOwnPckChainIsOptionalButMustMatchTheQuotes) {
  Collateral without = collateral();
  without.pck_certificate_chain.reset();
  EXPECT_TRUE(verify_quote(quote_bytes(), without, kReferenceTimestamp));
  Collateral other = collateral();
  other.pck_certificate_chain = other.tcb_info_issuer_chain;
  auto v = verify_quote(quote_bytes(), other, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kPckChain)) << v.error().message;
}

// Every byte outside the PEM chain, and a seeded sample inside it, changed
// to a random other value: each change is rejected by the check that guards
// that region.
TEST(Dcap, EverySingleByteChangeOfTheQuoteIsRejectedByItsCheck) {
  const std::uint64_t seed = testing::test_seed();
  std::mt19937_64 rng(seed);
  const core::Bytes& original = quote_bytes();
  ASSERT_EQ(original.size(), 5006u);
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < original.size(); ++i) {
    if (i < 1258 || i >= 4936) offsets.push_back(i);
  }
  std::vector<std::size_t> pem;
  for (std::size_t i = 1258; i < 4936; ++i) pem.push_back(i);
  std::shuffle(pem.begin(), pem.end(), rng);
  pem.resize(400);
  offsets.insert(offsets.end(), pem.begin(), pem.end());
  std::map<std::string, int> tried;
  for (std::size_t at : offsets) {
    core::Bytes mutated = original;
    mutated[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    auto v = verify_quote(mutated, collateral(), kReferenceTimestamp);
    const Region& region = region_of(at);
    ASSERT_FALSE(v) << "offset " << at << " (" << region.name << ") changed to " << int(mutated[at])
                    << " was accepted; seed " << seed;
    bool named = false;
    for (Check c : region.checks) named = named || failed_check(v.error(), c);
    EXPECT_TRUE(named) << "offset " << at << " (" << region.name << "): " << v.error().message << "; seed " << seed;
    ++tried[region.name];
  }
  EXPECT_EQ(tried.size(), regions().size());
}

TEST(Dcap, EverySingleByteChangeOfACollateralSignatureIsRejected) {
  for (auto [field, check] : {std::pair{&Collateral::tcb_info_signature, Check::kTcbInfoSignature},
                              std::pair{&Collateral::qe_identity_signature, Check::kQeIdentitySignature}}) {
    for (std::size_t i = 0; i < 64; ++i) {
      Collateral c = collateral();
      (c.*field)[i] ^= 0x01;
      auto v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
      ASSERT_FALSE(v) << check_name(check) << " byte " << i;
      EXPECT_TRUE(failed_check(v.error(), check)) << v.error().message;
    }
    Collateral short_sig = collateral();
    (short_sig.*field).pop_back();
    auto v = verify_quote(quote_bytes(), short_sig, kReferenceTimestamp);
    ASSERT_FALSE(v);
    EXPECT_TRUE(failed_check(v.error(), check)) << v.error().message;
  }
}

TEST(Dcap, ChangesToTheSignedCollateralAreRejected) {
  const std::uint64_t seed = testing::test_seed();
  std::mt19937_64 rng(seed);
  // The signed JSON texts: any byte.
  for (int k = 0; k < 32; ++k) {
    Collateral c = collateral();
    c.tcb_info[rng() % c.tcb_info.size()] ^= 0x20;
    auto v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
    ASSERT_FALSE(v) << "seed " << seed;
    EXPECT_TRUE(failed_check(v.error(), Check::kTcbInfoSignature)) << v.error().message;
    c = collateral();
    c.qe_identity[rng() % c.qe_identity.size()] ^= 0x20;
    v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
    ASSERT_FALSE(v) << "seed " << seed;
    EXPECT_TRUE(failed_check(v.error(), Check::kQeIdentitySignature)) << v.error().message;
  }
  // The CRLs: any byte (their signatures are checked against their issuers).
  for (auto field : {&Collateral::root_ca_crl, &Collateral::pck_crl}) {
    for (int k = 0; k < 48; ++k) {
      Collateral c = collateral();
      const std::size_t at = rng() % (c.*field).size();
      (c.*field)[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      auto v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
      ASSERT_FALSE(v) << "CRL byte " << at << " seed " << seed;
      EXPECT_TRUE(failed_check(v.error(), Check::kCrl) || failed_check(v.error(), Check::kTcbInfoChain) ||
                  failed_check(v.error(), Check::kPckChain))
          << v.error().message;
    }
  }
  // A signing chain that does not reach the pinned root: an impostor with
  // the root's name, for the TCB info and for the QE identity.
  Collateral c = collateral();
  c.tcb_info_issuer_chain = impostor_root_pem();
  auto v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kTcbInfoChain)) << v.error().message;
  c = collateral();
  c.qe_identity_issuer_chain = impostor_root_pem() + c.qe_identity_issuer_chain;
  v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kQeIdentityChain)) << v.error().message;
  // A genuine Intel certificate that is not the TCB signing one.
  c = collateral();
  c.tcb_info_issuer_chain = c.pck_crl_issuer_chain;
  v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kTcbInfoSignature)) << v.error().message;
  // Without the PCK CRL (the root's CRL twice) the PCK certificate's
  // revocation cannot be checked: refused.
  c = collateral();
  c.pck_crl = c.root_ca_crl;
  v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kPckChain)) << v.error().message;
  EXPECT_NE(v.error().message.find("unable to get certificate CRL"), std::string::npos) << v.error().message;
  // The two CRLs swapped.
  c = collateral();
  std::swap(c.root_ca_crl, c.pck_crl);
  v = verify_quote(quote_bytes(), c, kReferenceTimestamp);
  ASSERT_FALSE(v);
  EXPECT_TRUE(failed_check(v.error(), Check::kCrl)) << v.error().message;
}

// The collateral is valid from the TCB info's issueDate
// (2026-08-13T10:45:38Z) to just before the PCK CRL's nextUpdate
// (2026-09-11T23:57:11Z).
TEST(Dcap, TimestampsOutsideTheCollateralsValidityAreRejected) {
  const std::int64_t first = *parse_utc_time("2026-08-13T10:45:38Z");
  const std::int64_t last = *parse_utc_time("2026-09-11T23:57:10Z");  // a CRL is stale at its nextUpdate
  EXPECT_TRUE(verify_quote(quote_bytes(), collateral(), first));
  EXPECT_TRUE(verify_quote(quote_bytes(), collateral(), last));
  struct Case {
    std::int64_t t;
    Check check;
  };
  for (const Case& c : {
           Case{first - 1, Check::kTcbInfoValidity},
           Case{last + 1, Check::kCrl},                                        // PCK CRL nextUpdate
           Case{*parse_utc_time("2026-01-01T00:00:00Z"), Check::kCrl},         // before the root CRL's thisUpdate
           Case{*parse_utc_time("2027-03-01T00:00:00Z"), Check::kCrl},         // after the root CRL's nextUpdate
           Case{*parse_utc_time("2050-01-01T00:00:00Z"), Check::kCrl},
       }) {
    auto v = verify_quote(quote_bytes(), collateral(), c.t);
    ASSERT_FALSE(v) << format_utc_time(c.t);
    EXPECT_TRUE(failed_check(v.error(), c.check)) << format_utc_time(c.t) << ": " << v.error().message;
    EXPECT_NE(v.error().message.find(format_utc_time(c.t)), std::string::npos) << v.error().message;
  }
}

TEST(Dcap, ThePckExtensionGivesThePlatformsTcb) {
  auto q = parse_quote(quote_bytes());
  ASSERT_TRUE(q);
  BIO* bio = BIO_new_mem_buf(q->pck_chain.data(), static_cast<int>(q->pck_chain.size() - 1));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(leaf, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509(leaf, &der);
  auto ext = parse_pck_extension(core::ByteView(der, static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  X509_free(leaf);
  ASSERT_TRUE(ext) << ext.error().message;
  EXPECT_EQ(core::hex_encode(ext->ppid), expected_report()["ppid"]);
  EXPECT_EQ(core::hex_encode(ext->fmspc), "b0c06f000000");
  EXPECT_EQ(core::hex_encode(ext->pce_id), "0000");
  EXPECT_EQ(ext->pce_svn, 11);
  EXPECT_EQ(ext->cpu_svn[0], 4);
  // Not a certificate / no SGX extension.
  EXPECT_FALSE(parse_pck_extension(core::as_bytes("nope")));
  const std::string_view root = intel_sgx_root_ca_pem();
  bio = BIO_new_mem_buf(root.data(), static_cast<int>(root.size()));
  X509* root_cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  der = nullptr;
  const int root_len = i2d_X509(root_cert, &der);
  auto none = parse_pck_extension(core::ByteView(der, static_cast<std::size_t>(root_len)));
  OPENSSL_free(der);
  X509_free(root_cert);
  ASSERT_FALSE(none);
  EXPECT_TRUE(failed_check(none.error(), Check::kPckExtension)) << none.error().message;
}

// The TCB level rules on the signed TCB info with the platform's values moved.
TEST(Dcap, TheFirstLevelAtOrBelowThePlatformGivesTheStatus) {
  auto info = parse_tcb_info(collateral().tcb_info);
  auto q = parse_quote(quote_bytes());
  ASSERT_TRUE(info && q);
  PckExtension pck;
  pck.fmspc = info->fmspc;
  pck.pce_svn = 11;
  pck.cpu_svn = info->tcb_levels.front().sgx_components;
  TdReport10 report = q->report;
  auto s = evaluate_platform_tcb(*info, report, pck);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status, TcbStatus::kUpToDate);

  // TDX late microcode SVN 4 -> 3: a lower level, OutOfDate with advisories.
  TdReport10 older = report;
  older.tee_tcb_svn[2] = 3;
  s = evaluate_platform_tcb(*info, older, pck);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status, TcbStatus::kOutOfDate);
  EXPECT_FALSE(s->advisory_ids.empty());

  // TDX module ISVSVN 11 -> 6: the module identity TDX_01 says OutOfDate.
  TdReport10 module = report;
  module.tee_tcb_svn[0] = 6;
  s = evaluate_platform_tcb(*info, module, pck);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status, TcbStatus::kOutOfDate);

  // Below every level / an unknown module version / another FMSPC / another signer.
  PckExtension ancient = pck;
  ancient.cpu_svn.fill(0);
  s = evaluate_platform_tcb(*info, report, ancient);
  ASSERT_FALSE(s);
  EXPECT_TRUE(failed_check(s.error(), Check::kTcbLevel)) << s.error().message;
  TdReport10 unknown = report;
  unknown.tee_tcb_svn[1] = 9;
  s = evaluate_platform_tcb(*info, unknown, pck);
  ASSERT_FALSE(s);
  EXPECT_TRUE(failed_check(s.error(), Check::kTdxModule)) << s.error().message;
  PckExtension elsewhere = pck;
  elsewhere.fmspc[0] ^= 1;
  s = evaluate_platform_tcb(*info, report, elsewhere);
  ASSERT_FALSE(s);
  EXPECT_TRUE(failed_check(s.error(), Check::kTcbLevel)) << s.error().message;
  TdReport10 signer = report;
  signer.mr_signer_seam[0] = 1;
  s = evaluate_platform_tcb(*info, signer, pck);
  ASSERT_FALSE(s);
  EXPECT_TRUE(failed_check(s.error(), Check::kTdxModule)) << s.error().message;
}

TEST(Dcap, TheQeMustMatchItsIdentity) {
  auto id = parse_qe_identity(collateral().qe_identity);
  auto q = parse_quote(quote_bytes());
  ASSERT_TRUE(id && q);
  const EnclaveReport qe = q->qe_report;
  auto s = evaluate_qe_identity(qe, *id);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->status, TcbStatus::kUpToDate);
  auto expect_rejected = [&](EnclaveReport r, const char* what) {
    auto result = evaluate_qe_identity(r, *id);
    ASSERT_FALSE(result) << what;
    EXPECT_TRUE(failed_check(result.error(), Check::kQeIdentity)) << result.error().message;
  };
  EnclaveReport r = qe;
  r.mr_signer[31] ^= 1;
  expect_rejected(r, "mrsigner");
  r = qe;
  r.isv_prod_id += 1;
  expect_rejected(r, "isvprodid");
  r = qe;
  r.attributes[0] |= 0x02;
  expect_rejected(r, "debug");
  r = qe;
  r.misc_select ^= 1;
  expect_rejected(r, "miscselect");
  r = qe;
  r.isv_svn = 3;
  expect_rejected(r, "isvsvn below every level");
  // Bits outside the attributes mask do not matter.
  r = qe;
  r.attributes[15] ^= 0xff;
  EXPECT_TRUE(evaluate_qe_identity(r, *id));
}

}  // namespace
}  // namespace mpc::attest
