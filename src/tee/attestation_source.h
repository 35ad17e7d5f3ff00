// Where the backup service's attestations come from, in the reference's
// Attestation JSON (near/mpc crates/mpc-attestation attestation.rs, serde):
//   {"Mock": "Valid"}
//   {"Dstack": {"quote": [u8, ...], "collateral": {...}, "tcb_info": {...}}}
// with the collateral in attest/collateral.h's shape (byte fields hex) and
// tcb_info dstack's object (mrtd, rtmr0..3, event_log, app_compose, ...).
//
// DstackAttestationSource asks the dstack guest agent on its unix socket
// (default /var/run/dstack.sock) as the reference's tee-authority does:
// POST /Info (its "tcb_info", a JSON text or object), POST /GetQuote with
// {"report_data": "<128 hex>"} (its "quote", hex), then fetches the quote's
// collateral from a PCCS (pccs.h).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/dstack.h"
#include "attest/quote.h"
#include "core/crypto.h"
#include "core/result.h"

namespace mpc::tee {

inline constexpr const char* kDefaultDstackSocket = "/var/run/dstack.sock";
inline constexpr const char* kDefaultPccsUrl = "https://pccs.phala.network";  // the reference's DEFAULT_PCCS_URL

class AttestationSource {
 public:
  virtual ~AttestationSource() = default;
  // An Attestation JSON whose quote carries `report_data`.
  virtual core::Result<nlohmann::json> attest(const attest::ReportData& report_data) = 0;
  virtual std::string name() const = 0;  // "mock", "dstack"
};

// {"Mock": "Valid"}: accepted only by contracts (and provision-key runs)
// configured for development.
nlohmann::json mock_valid_attestation();

class MockAttestationSource final : public AttestationSource {
 public:
  core::Result<nlohmann::json> attest(const attest::ReportData&) override { return mock_valid_attestation(); }
  std::string name() const override { return "mock"; }
};

struct DstackSourceOptions {
  std::filesystem::path socket = kDefaultDstackSocket;
  std::string pccs_url = kDefaultPccsUrl;
  std::chrono::milliseconds timeout{30'000};
};

class DstackAttestationSource final : public AttestationSource {
 public:
  explicit DstackAttestationSource(DstackSourceOptions options) : options_(std::move(options)) {}
  core::Result<nlohmann::json> attest(const attest::ReportData& report_data) override;
  std::string name() const override { return "dstack"; }

 private:
  DstackSourceOptions options_;
};

// ---- the AES-key provisioning binding ----
// The report data of the provisioning attestation (this project's, version 2):
//   bytes 0..2   version, u16 big-endian (2)
//   bytes 2..50  SHA3-384(x25519_public_key || tls_public_key || signer_public_key),
//                the raw 32-byte keys
//   bytes 50..64 zero
inline constexpr std::uint16_t kReportDataVersion2 = 2;
using X25519PublicKey = std::array<std::uint8_t, 32>;
attest::ReportData provisioning_report_data(const X25519PublicKey& x25519_public_key,
                                            const core::Ed25519PublicKey& tls_public_key,
                                            const core::Ed25519PublicKey& signer_public_key);

// ---- checking an Attestation JSON (provision-key) ----
struct AttestationPolicy {
  bool allow_mock = false;                     // {"Mock": "Valid"} accepted
  const attest::AllowedSet* allowed = nullptr;  // required for Dstack
  std::int64_t now = 0;                         // Unix seconds
};
// Mock: Valid only, and only when allowed. Dstack: attest::verify_attestation
// at policy.now against the allowed set and `expected`. Errors name what failed.
core::Status check_attestation(const nlohmann::json& attestation, const attest::ReportData& expected,
                               const AttestationPolicy& policy);

}  // namespace mpc::tee
