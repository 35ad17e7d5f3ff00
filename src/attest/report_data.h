// The report data an MPC node or backup service puts in its quote
// (reference: near/mpc crates/mpc-attestation report_data.rs, ReportDataV1;
// docs/backup-service-attestation-data.md):
//   bytes 0..2   version, u16 big-endian (1)
//   bytes 2..50  SHA3-384(tls_public_key || account_public_key), the raw
//                32-byte Ed25519 keys
//   bytes 50..64 zero
#pragma once

#include "attest/quote.h"
#include "core/crypto.h"

namespace mpc::attest {

inline constexpr std::uint16_t kReportDataVersion1 = 1;

ReportData report_data_v1(const core::Ed25519PublicKey& tls_public_key, const core::Ed25519PublicKey& account_public_key);

}  // namespace mpc::attest
