// The trust anchor of DCAP quote verification: Intel's SGX Root CA
// ("Intel SGX Root CA", Intel Corporation, Santa Clara; ECDSA P-256;
// valid 2018-05-21 to 2049-12-31). It is public: Intel publishes it at
// https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer
// and the reference's verifier (dcap-qvl, src/TrustedRootCA.der) pins the
// same DER; the recorded reference quote's PCK chain ends in it too
// (tests/fixtures/attest/quote.json). Verification trusts exactly this
// certificate, whatever root a quote or collateral carries.
#pragma once

#include <string_view>

namespace mpc::attest {

// PEM of the root certificate.
std::string_view intel_sgx_root_ca_pem();

// SHA-256 of its DER, lowercase hex (the pin; tested).
inline constexpr std::string_view kIntelSgxRootCaSha256 =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

}  // namespace mpc::attest
