// Intel TDX DCAP quotes, version 4 with a TD 1.0 report body: the binary
// layout and a bounds-checked parser. No verification happens here
// (dcap.h does it); parse_quote only promises that every field it returns
// lies inside the input and that the lengths inside the quote add up.
//
// Layout (integers little-endian; Intel TDX DCAP Quote Generation Library
// and Quote Verification Library, "Quote Format"):
//   0    header (48): version u16 | attestation key type u16 | TEE type u32 |
//                     QE SVN u16 | PCE SVN u16 | QE vendor id (16) | user data (20)
//   48   TD report 1.0 (584): TEE_TCB_SVN (16) | MRSEAM (48) | MRSIGNERSEAM (48) |
//                     SEAMATTRIBUTES (8) | TDATTRIBUTES (8) | XFAM (8) | MRTD (48) |
//                     MRCONFIGID (48) | MROWNER (48) | MROWNERCONFIG (48) |
//                     RTMR0..3 (4 x 48) | REPORTDATA (64)
//   632  signature data length u32
//   636  signature data: ECDSA signature r||s (64) | attestation key x||y (64) |
//        certification data: type u16 (= 6) | size u32 | body:
//          QE report (384, an SGX enclave report) | QE report signature (64) |
//          QE auth data: size u16 | bytes | certification data: type u16 (= 5) | size u32 |
//          PCK certificate chain (PEM, usually NUL-terminated)
// The quote signature covers bytes [0, 632). parse_quote requires the inner
// sizes to add up exactly to the signature data length; bytes after the
// signature data (quote generators pad) must all be zero, so no byte of an
// accepted quote goes unchecked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::attest {

inline constexpr std::size_t kHeaderSize = 48;
inline constexpr std::size_t kTdReport10Size = 584;
inline constexpr std::size_t kSignedSize = kHeaderSize + kTdReport10Size;  // 632
inline constexpr std::size_t kEnclaveReportSize = 384;
inline constexpr std::uint16_t kQuoteVersion4 = 4;
inline constexpr std::uint16_t kAttestationKeyEcdsaP256 = 2;
inline constexpr std::uint32_t kTeeTypeTdx = 0x81;
inline constexpr std::uint16_t kCertDataQeReport = 6;
inline constexpr std::uint16_t kCertDataPckChain = 5;
// Bounds on what a quote may carry (a real one is ~5 KB).
inline constexpr std::size_t kMaxQuoteSize = 64 * 1024;
inline constexpr std::size_t kMaxPckChainSize = 32 * 1024;
inline constexpr std::size_t kMaxQeAuthDataSize = 1024;

inline constexpr std::array<std::uint8_t, 16> kIntelQeVendorId = {0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
                                                                  0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

using Hash384 = std::array<std::uint8_t, 48>;
using ReportData = std::array<std::uint8_t, 64>;

struct QuoteHeader {
  std::uint16_t version = 0;
  std::uint16_t attestation_key_type = 0;
  std::uint32_t tee_type = 0;
  std::uint16_t qe_svn = 0;
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> qe_vendor_id{};
  std::array<std::uint8_t, 20> user_data{};
};

struct TdReport10 {
  std::array<std::uint8_t, 16> tee_tcb_svn{};
  Hash384 mr_seam{};
  Hash384 mr_signer_seam{};
  std::array<std::uint8_t, 8> seam_attributes{};
  std::array<std::uint8_t, 8> td_attributes{};
  std::array<std::uint8_t, 8> xfam{};
  Hash384 mr_td{};
  Hash384 mr_config_id{};
  Hash384 mr_owner{};
  Hash384 mr_owner_config{};
  Hash384 rt_mr0{};
  Hash384 rt_mr1{};
  Hash384 rt_mr2{};
  Hash384 rt_mr3{};
  ReportData report_data{};
  bool operator==(const TdReport10&) const = default;
};

// An SGX enclave report (the QE's).
struct EnclaveReport {
  std::array<std::uint8_t, 16> cpu_svn{};
  std::uint32_t misc_select = 0;
  std::array<std::uint8_t, 16> attributes{};
  std::array<std::uint8_t, 32> mr_enclave{};
  std::array<std::uint8_t, 32> mr_signer{};
  std::uint16_t isv_prod_id = 0;
  std::uint16_t isv_svn = 0;
  ReportData report_data{};
};

struct Quote {
  QuoteHeader header;
  TdReport10 report;
  std::array<std::uint8_t, kSignedSize> signed_data{};  // header || TD report, as signed
  std::array<std::uint8_t, 64> signature{};             // r || s, big-endian
  std::array<std::uint8_t, 64> attestation_key{};       // x || y of a P-256 point
  std::array<std::uint8_t, kEnclaveReportSize> qe_report_raw{};
  EnclaveReport qe_report;
  std::array<std::uint8_t, 64> qe_report_signature{};
  core::Bytes qe_auth_data;
  std::uint16_t certification_type = 0;  // of the inner certification data (5 expected)
  std::string pck_chain;                 // the inner certification data, byte for byte
};

// Parses the layout above. Errors are reject(Check::kQuoteFormat, ...) naming
// the field and offset; never reads outside `bytes`. Header values are not
// judged here (dcap.h does, as Check::kQuoteHeader), except the version and
// TEE type that select the layout: only v4 TDX is parsed.
core::Result<Quote> parse_quote(core::ByteView bytes);

// EnclaveReport from its 384 bytes.
EnclaveReport parse_enclave_report(const std::array<std::uint8_t, kEnclaveReportSize>& raw);

// A quote file's content: a JSON array of byte values (the reference's
// quote.json) or a JSON string of hex. kInvalidArgument otherwise.
core::Result<core::Bytes> parse_quote_text(std::string_view text);

}  // namespace mpc::attest
