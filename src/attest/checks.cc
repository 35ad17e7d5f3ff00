#include "attest/checks.h"

namespace mpc::attest {

std::string_view check_name(Check check) {
  switch (check) {
    case Check::kQuoteFormat: return "quote format";
    case Check::kQuoteHeader: return "quote header";
    case Check::kCollateralFormat: return "collateral format";
    case Check::kCrl: return "crl";
    case Check::kTcbInfoChain: return "tcb info signing chain";
    case Check::kTcbInfoSignature: return "tcb info signature";
    case Check::kTcbInfoFormat: return "tcb info format";
    case Check::kTcbInfoValidity: return "tcb info validity";
    case Check::kQeIdentityChain: return "qe identity signing chain";
    case Check::kQeIdentitySignature: return "qe identity signature";
    case Check::kQeIdentityFormat: return "qe identity format";
    case Check::kQeIdentityValidity: return "qe identity validity";
    case Check::kPckChain: return "pck certificate chain";
    case Check::kPckExtension: return "pck certificate extension";
    case Check::kQeReportSignature: return "qe report signature";
    case Check::kQeReportData: return "qe report data";
    case Check::kQeIdentity: return "qe identity";
    case Check::kQuoteSignature: return "quote signature";
    case Check::kTcbLevel: return "tcb level";
    case Check::kTdxModule: return "tdx module";
    case Check::kTcbStatus: return "tcb status";
    case Check::kTdAttributes: return "td attributes";
    case Check::kReportData: return "report data";
    case Check::kTcbInfoInput: return "dstack tcb info";
    case Check::kRtmr3: return "rtmr3";
    case Check::kEventLog: return "event log";
    case Check::kAppCompose: return "app compose";
    case Check::kMeasurements: return "measurements";
    case Check::kMpcImageHash: return "mpc image hash";
    case Check::kLauncherComposeHash: return "launcher compose hash";
  }
  return "unknown check";
}

std::unexpected<core::Error> reject(Check check, const std::string& detail) {
  return core::fail(core::ErrorCode::kFailedPrecondition, std::string(check_name(check)) + ": " + detail);
}

bool failed_check(const core::Error& error, Check check) {
  const std::string prefix = std::string(check_name(check)) + ": ";
  return error.code == core::ErrorCode::kFailedPrecondition && error.message.starts_with(prefix);
}

}  // namespace mpc::attest
