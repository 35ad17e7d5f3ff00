// A dstack (Intel TDX) attestation as the reference verifies it, end to end:
// the DCAP quote (dcap.h) at a timestamp, status UpToDate only, then the
// dstack checks (dstack.h), the report data and the allowed set. This is the
// entry point for callers; the steps are public in dcap.h and dstack.h.
//
//   auto quote = attest::parse_quote_text(quote_json);         // bytes
//   auto collateral = attest::parse_collateral(collateral_json);
//   auto tcb_info = attest::parse_dstack_tcb_info(tcb_info_json);
//   attest::VerifyOptions options{.timestamp = now};
//   options.expected_report_data = attest::report_data_v1(tls_key, account_key);
//   options.allowed = &allowed_set;
//   auto verified = attest::verify_attestation(*quote, *collateral, *tcb_info, options);
//
// Failures are reject(Check::..., detail) (checks.h): kFailedPrecondition
// whose message names the failed check.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/checks.h"
#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/dstack.h"
#include "attest/quote.h"

namespace mpc::attest {

struct VerifyOptions {
  std::int64_t timestamp = 0;  // Unix seconds
  // Checked when given; otherwise reported only.
  std::optional<ReportData> expected_report_data;
  // Checked when given (not owned); otherwise measurements are reported only.
  const AllowedSet* allowed = nullptr;
  DcapTimings* timings = nullptr;
};

struct VerifiedAttestation {
  VerifiedReport dcap;
  DstackFindings dstack;
  std::int64_t timestamp = 0;
  bool report_data_checked = false;
  std::optional<std::size_t> allowed_measurements_index;  // set when the allowed set was checked
  std::vector<std::string> checks;                         // names of the checks that ran and held
};

// The checks after DCAP on a report verify_quote returned (the split the
// reference makes between its tee-verifier contract and the caller's policy).
core::Result<VerifiedAttestation> verify_report(VerifiedReport report, const DstackTcbInfo& tcb_info,
                                                const VerifyOptions& options);

// verify_quote, then verify_report.
core::Result<VerifiedAttestation> verify_attestation(core::ByteView quote, const Collateral& collateral,
                                                     const DstackTcbInfo& tcb_info, const VerifyOptions& options);

// The verified fields as JSON (mpc-attest verify prints this): TCB status,
// advisories, the TD report's fields in hex, report data, the dstack hashes,
// the measurements and which checks ran.
nlohmann::json to_json(const VerifiedAttestation& verified);

}  // namespace mpc::attest
