// Quote collateral (Intel PCS / PCCS data, an input: this module never
// fetches anything) and the two signed JSON documents inside it.
//
// Collateral JSON: the reference's shape (near/mpc test-utils collateral.json,
// dcap-qvl QuoteCollateralV3): an object with
//   "pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain": PEM text
//   "root_ca_crl", "pck_crl": DER
//   "tcb_info", "qe_identity": the signed JSON documents, as text
//   "tcb_info_signature", "qe_identity_signature": 64 bytes r || s
//   "pck_certificate_chain": PEM text, optional (null or absent)
// Byte fields are hex strings or JSON arrays of byte values (the node's
// /public_data form); trailing NUL characters of text fields (C strings in
// the quote library's output) are dropped, as the reference does. Unknown
// fields are ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::attest {

inline constexpr std::size_t kMaxCollateralSize = 1 << 20;

struct Collateral {
  std::string pck_crl_issuer_chain;
  core::Bytes root_ca_crl;
  core::Bytes pck_crl;
  std::string tcb_info_issuer_chain;
  std::string tcb_info;
  core::Bytes tcb_info_signature;
  std::string qe_identity_issuer_chain;
  std::string qe_identity;
  core::Bytes qe_identity_signature;
  std::optional<std::string> pck_certificate_chain;
};

// Errors are reject(Check::kCollateralFormat, ...) naming the field.
core::Result<Collateral> parse_collateral(std::string_view json_text);

// ---- Intel's TCB status values (PCS API "tcbStatus") ----
enum class TcbStatus {
  kUpToDate,
  kSWHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSWHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
};
std::string_view tcb_status_name(TcbStatus status);  // "UpToDate", ...
std::optional<TcbStatus> parse_tcb_status(std::string_view text);

// A status with its advisories; merge() keeps the more severe status (in the
// order above) and the union of the advisory ids (first-seen order), as
// Intel's QVL and dcap-qvl combine platform, TDX module and QE results.
struct TcbStatusWithAdvisory {
  TcbStatus status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids;
  TcbStatusWithAdvisory merge(const TcbStatusWithAdvisory& other) const;
};

// ---- TCB info (Intel PCS "tcbInfo", TDX, version 3) ----
struct TcbLevel {
  std::array<std::uint8_t, 16> sgx_components{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 16> tdx_components{};
  TcbStatusWithAdvisory status;
};
struct TdxModuleTcbLevel {
  std::uint8_t isv_svn = 0;
  TcbStatusWithAdvisory status;
};
struct TdxModuleIdentity {
  std::string id;  // "TDX_01"
  std::array<std::uint8_t, 48> mrsigner{};
  std::array<std::uint8_t, 8> attributes{};
  std::array<std::uint8_t, 8> attributes_mask{};
  std::vector<TdxModuleTcbLevel> tcb_levels;
};
struct TcbInfo {
  std::string id;  // "TDX"
  std::uint32_t version = 0;
  std::int64_t issue_date = 0;   // Unix seconds
  std::int64_t next_update = 0;  // Unix seconds
  std::array<std::uint8_t, 6> fmspc{};
  std::array<std::uint8_t, 2> pce_id{};
  std::uint32_t tcb_type = 0;
  std::uint32_t tcb_evaluation_data_number = 0;
  std::vector<TcbLevel> tcb_levels;  // in the document's order (Intel: descending)
  bool has_tdx_module = false;
  std::array<std::uint8_t, 48> tdx_module_mrsigner{};
  std::array<std::uint8_t, 8> tdx_module_attributes{};
  std::array<std::uint8_t, 8> tdx_module_attributes_mask{};
  std::vector<TdxModuleIdentity> tdx_module_identities;
};
// The signed text of collateral.tcb_info; errors are reject(Check::kTcbInfoFormat, ...).
core::Result<TcbInfo> parse_tcb_info(std::string_view json_text);

// ---- QE identity (Intel PCS "enclaveIdentity", TD_QE) ----
struct QeTcbLevel {
  std::uint16_t isv_svn = 0;
  TcbStatusWithAdvisory status;
};
struct QeIdentity {
  std::string id;  // "TD_QE"
  std::uint32_t version = 0;
  std::int64_t issue_date = 0;
  std::int64_t next_update = 0;
  std::uint32_t tcb_evaluation_data_number = 0;
  std::array<std::uint8_t, 4> miscselect{};
  std::array<std::uint8_t, 4> miscselect_mask{};
  std::array<std::uint8_t, 16> attributes{};
  std::array<std::uint8_t, 16> attributes_mask{};
  std::array<std::uint8_t, 32> mrsigner{};
  std::uint16_t isv_prod_id = 0;
  std::vector<QeTcbLevel> tcb_levels;
};
// Errors are reject(Check::kQeIdentityFormat, ...).
core::Result<QeIdentity> parse_qe_identity(std::string_view json_text);

// "YYYY-MM-DDTHH:MM:SSZ" (UTC, as Intel writes issueDate/nextUpdate) to Unix
// seconds; anything else is an error (kInvalidArgument).
core::Result<std::int64_t> parse_utc_time(std::string_view text);
std::string format_utc_time(std::int64_t unix_seconds);

}  // namespace mpc::attest
