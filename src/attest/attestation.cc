#include "attest/attestation.h"

#include "core/bytes.h"

namespace mpc::attest {
namespace {

std::string hex(core::ByteView b) { return core::hex_encode(b); }

nlohmann::json status_json(const TcbStatusWithAdvisory& s) {
  return {{"status", tcb_status_name(s.status)}, {"advisory_ids", s.advisory_ids}};
}

}  // namespace

core::Result<VerifiedAttestation> verify_attestation(core::ByteView quote, const Collateral& collateral,
                                                     const DstackTcbInfo& tcb_info, const VerifyOptions& options) {
  MPC_ASSIGN(VerifiedReport report, verify_quote(quote, collateral, options.timestamp, options.timings));
  return verify_report(std::move(report), tcb_info, options);
}

core::Result<VerifiedAttestation> verify_report(VerifiedReport dcap, const DstackTcbInfo& tcb_info,
                                                const VerifyOptions& options) {
  VerifiedAttestation out;
  out.timestamp = options.timestamp;
  out.dcap = std::move(dcap);
  out.checks.emplace_back("dcap quote");
  if (out.dcap.status.status != TcbStatus::kUpToDate) {
    return reject(Check::kTcbStatus, "TCB status " + std::string(tcb_status_name(out.dcap.status.status)) +
                                         " is not UpToDate");
  }
  out.checks.emplace_back(check_name(Check::kTcbStatus));
  const TdReport10& report = out.dcap.report;
  if (options.expected_report_data) {
    if (report.report_data != *options.expected_report_data) {
      return reject(Check::kReportData, "found " + hex(report.report_data) + ", expected " + hex(*options.expected_report_data));
    }
    out.report_data_checked = true;
    out.checks.emplace_back(check_name(Check::kReportData));
  }
  MPC_ASSIGN(out.dstack, check_dstack(report, tcb_info));
  for (Check c : {Check::kRtmr3, Check::kEventLog, Check::kAppCompose}) out.checks.emplace_back(check_name(c));
  if (options.allowed != nullptr) {
    MPC_ASSIGN(out.allowed_measurements_index, check_allowed(out.dstack, report, tcb_info, *options.allowed));
    for (Check c : {Check::kMpcImageHash, Check::kLauncherComposeHash, Check::kMeasurements}) {
      out.checks.emplace_back(check_name(c));
    }
  }
  return out;
}

nlohmann::json to_json(const VerifiedAttestation& v) {
  const TdReport10& r = v.dcap.report;
  nlohmann::json report = {
      {"tee_tcb_svn", hex(r.tee_tcb_svn)},
      {"mr_seam", hex(r.mr_seam)},
      {"mr_signer_seam", hex(r.mr_signer_seam)},
      {"seam_attributes", hex(r.seam_attributes)},
      {"td_attributes", hex(r.td_attributes)},
      {"xfam", hex(r.xfam)},
      {"mr_td", hex(r.mr_td)},
      {"mr_config_id", hex(r.mr_config_id)},
      {"mr_owner", hex(r.mr_owner)},
      {"mr_owner_config", hex(r.mr_owner_config)},
      {"rt_mr0", hex(r.rt_mr0)},
      {"rt_mr1", hex(r.rt_mr1)},
      {"rt_mr2", hex(r.rt_mr2)},
      {"rt_mr3", hex(r.rt_mr3)},
      {"report_data", hex(r.report_data)},
  };
  nlohmann::json out = {
      {"verified", true},
      {"timestamp", v.timestamp},
      {"time", format_utc_time(v.timestamp)},
      {"tcb_status", tcb_status_name(v.dcap.status.status)},
      {"advisory_ids", v.dcap.status.advisory_ids},
      {"platform_status", status_json(v.dcap.platform_status)},
      {"qe_status", status_json(v.dcap.qe_status)},
      {"tcb_evaluation_data_number", v.dcap.tcb_evaluation_data_number},
      {"fmspc", hex(v.dcap.pck.fmspc)},
      {"ppid", hex(v.dcap.pck.ppid)},
      {"report", report},
      {"report_data", {{"hex", hex(r.report_data)}, {"checked", v.report_data_checked}}},
      {"dstack",
       {{"compose_hash", hex(v.dstack.compose_hash)},
        {"mpc_image_hash", hex(v.dstack.mpc_image_hash)},
        {"launcher_compose_hash", hex(v.dstack.launcher_compose_hash)},
        {"rtmr3_replayed", hex(v.dstack.rtmr3)}}},
      {"measurements", measurements_to_json(v.dstack.measurements)},
      {"allowed_set",
       v.allowed_measurements_index ? nlohmann::json{{"checked", true}, {"measurements_index", *v.allowed_measurements_index}}
                                    : nlohmann::json{{"checked", false}}},
      {"checks", v.checks},
  };
  return out;
}

}  // namespace mpc::attest
