// The checks an attestation goes through, by name. Every rejection by this
// module is a core::Error whose message starts with the name of the check that
// failed ("quote signature: ..."), so operators and tests can tell which one it
// was; reject() builds them.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace mpc::attest {

enum class Check {
  // The quote's binary layout (lengths, bounds, trailing bytes).
  kQuoteFormat,
  // Header fields: version 4, ECDSA P-256 key, TDX, Intel QE vendor id.
  kQuoteHeader,
  // The collateral's JSON and byte fields.
  kCollateralFormat,
  // Root CA CRL and PCK CRL: DER, issuer, time window.
  kCrl,
  // TCB info: signing chain to the root, signature, content, issueDate/nextUpdate.
  kTcbInfoChain,
  kTcbInfoSignature,
  kTcbInfoFormat,
  kTcbInfoValidity,
  // QE identity: likewise.
  kQeIdentityChain,
  kQeIdentitySignature,
  kQeIdentityFormat,
  kQeIdentityValidity,
  // The PCK certificate chain of the quote (to the pinned root, with CRLs) and
  // its Intel SGX extension.
  kPckChain,
  kPckExtension,
  // The QE report: signed by the PCK key; its report data binds the
  // attestation key; it matches the QE identity (MRSIGNER, ISVPRODID, masks, ISVSVN).
  kQeReportSignature,
  kQeReportData,
  kQeIdentity,
  // The attestation key's signature over header || TD report body.
  kQuoteSignature,
  // TCB level matching (FMSPC, SGX components, PCESVN, TDX components), the TDX
  // module identity, and the resulting status (only UpToDate is accepted).
  kTcbLevel,
  kTdxModule,
  kTcbStatus,
  // TD attributes: no debug, no reserved bits, SEPT_VE_DISABLE set.
  kTdAttributes,
  // dstack: report data, RTMR3 replay from the event log, app compose, the
  // measured OS (MRTD, RTMR0-2, key provider), image and launcher compose hashes.
  kReportData,
  kTcbInfoInput,
  kRtmr3,
  kEventLog,
  kAppCompose,
  kMeasurements,
  kMpcImageHash,
  kLauncherComposeHash,
};

// Stable lower-case names ("quote signature", "pck certificate chain", ...).
std::string_view check_name(Check check);

// kFailedPrecondition with the message "<check name>: <detail>".
std::unexpected<core::Error> reject(Check check, const std::string& detail);

// True when `error` came from reject(check, ...).
bool failed_check(const core::Error& error, Check check);

}  // namespace mpc::attest
