// Intel TDX DCAP quote verification (quote v4, TD 1.0 report body) on
// OpenSSL 3, against collateral given as input and at a given time. The
// steps follow Intel's Quote Verification Library and dcap-qvl, the
// verifier the reference (near/mpc tee-verifier) runs:
//   1. the quote's layout and header (v4, ECDSA P-256 attestation key, TDX,
//      Intel's QE vendor id);
//   2. the root CA CRL and PCK CRL: DER, inside their thisUpdate/nextUpdate;
//   3. TCB info and QE identity: each signing chain verifies to the pinned
//      Intel SGX Root CA (intel_root_ca.h) at the time, with both CRLs; the
//      ECDSA P-256 signature over the exact JSON text; then the JSON; the
//      time lies in [issueDate, nextUpdate]; id/version are TDX/3 and TD_QE/2-3;
//   4. the PCK certificate chain from the quote's certification data (type 5,
//      canonical PEM, at most one trailing NUL; it must equal the
//      collateral's copy when that has one) verifies to the root with both
//      CRLs (every certificate checked, CRLs signed by their issuers);
//      the leaf's Intel SGX extension gives PPID, CPUSVN, PCESVN, FMSPC;
//   5. the QE report is signed by the PCK key; its report data is
//      SHA-256(attestation key || QE auth data) || 32 zero bytes;
//   6. the QE report matches the QE identity: MRSIGNER, ISVPRODID, MISCSELECT
//      and ATTRIBUTES under their masks, not a debug enclave; its ISVSVN
//      selects the QE TCB level (first level with isvsvn <= ISVSVN);
//   7. the attestation key signs header || TD report body;
//   8. the platform TCB level: FMSPC equal; the first level (levels sorted
//      as dcap-qvl sorts them) whose SGX components are all <= CPUSVN, PCESVN
//      <= the certificate's, TDX components all <= TEE_TCB_SVN; the TDX
//      module identity (MRSIGNERSEAM, SEAMATTRIBUTES under the mask,
//      TDX_<version> levels by the module's ISVSVN) folds in its status;
//   9. the merged status (platform, module, QE) is not Revoked;
//  10. TD attributes: not debug, no reserved bit, SEPT_VE_DISABLE set.
// Requiring "UpToDate" is the caller's policy (attestation.h does, as the
// reference does). Every failure is reject(Check::..., detail) naming the
// step. Nothing is fetched and nothing is kept between calls except the
// pinned root certificate, parsed once per process. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "attest/collateral.h"
#include "attest/quote.h"
#include "core/bytes.h"
#include "core/result.h"

namespace mpc::attest {

// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate.
struct PckExtension {
  core::Bytes ppid;
  std::array<std::uint8_t, 16> cpu_svn{};
  std::uint16_t pce_svn = 0;
  std::array<std::uint8_t, 2> pce_id{};
  std::array<std::uint8_t, 6> fmspc{};
};
// From a certificate's DER; errors are reject(Check::kPckExtension, ...).
core::Result<PckExtension> parse_pck_extension(core::ByteView certificate_der);

struct VerifiedReport {
  TcbStatusWithAdvisory status;           // platform, TDX module and QE merged
  TcbStatusWithAdvisory platform_status;  // TCB level, with the TDX module folded in
  TcbStatusWithAdvisory qe_status;
  QuoteHeader header;
  TdReport10 report;
  PckExtension pck;
  std::uint32_t tcb_evaluation_data_number = 0;
};

// Where verification time goes (bench/attest_bench); optional.
struct DcapTimings {
  std::chrono::nanoseconds certificates{0};  // PEM/DER decoding, chain building, CRL checks
  std::chrono::nanoseconds signatures{0};    // the four ECDSA signatures outside certificates
  std::chrono::nanoseconds json{0};          // collateral documents
  std::chrono::nanoseconds total{0};
};

// Steps 8 and 6 on their own (pure; verify_quote runs them on verified
// inputs): the platform TCB status with the TDX module folded in, and the QE
// identity check giving the QE TCB status.
core::Result<TcbStatusWithAdvisory> evaluate_platform_tcb(const TcbInfo& tcb_info, const TdReport10& report,
                                                          const PckExtension& pck);
core::Result<TcbStatusWithAdvisory> evaluate_qe_identity(const EnclaveReport& qe_report, const QeIdentity& qe_identity);

// `now` is Unix seconds. `timings`, when given, is added to.
core::Result<VerifiedReport> verify_quote(core::ByteView quote, const Collateral& collateral, std::int64_t now,
                                          DcapTimings* timings = nullptr);

}  // namespace mpc::attest
