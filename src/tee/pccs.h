// The collateral of a TDX quote from a PCCS or Intel PCS (v4 API), as the
// reference's tee-authority gets it (dcap-qvl's collateral client):
//   GET {base}/sgx/certification/v4/pckcrl?ca=<processor|platform>&encoding=der
//       body: PCK CRL (DER); header SGX-PCK-CRL-Issuer-Chain (URL-encoded PEM)
//   GET {base}/tdx/certification/v4/tcb?fmspc=<hex>
//       body: {"tcbInfo": {...}, "signature": "<hex>"}; header TCB-Info-Issuer-Chain
//       (or SGX-TCB-Info-Issuer-Chain)
//   GET {base}/tdx/certification/v4/qe/identity
//       body: {"enclaveIdentity": {...}, "signature": "<hex>"}; header
//       SGX-Enclave-Identity-Issuer-Chain
//   root CA CRL: Intel PCS: https://certificates.trustedservices.intel.com/IntelSGXRootCA.der;
//       a PCCS: GET {base}/sgx/certification/v4/rootcacrl (DER, or its hex)
// The CA and FMSPC come from the PCK certificate in the quote. The signed
// documents are kept byte for byte as served (their signatures cover that
// text). The result is attest/collateral.h's JSON (byte fields hex) and is
// checked to parse with attest::parse_collateral. Nothing here is trusted:
// the verifier checks every signature.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "tee/http_transport.h"

namespace mpc::tee {

// GET url -> reply (tests inject a fake; the default is url_get).
using HttpGet = std::function<core::Result<HttpReply>(const std::string& url)>;

core::Result<nlohmann::json> fetch_collateral(std::string_view pccs_url, core::ByteView quote, const HttpGet& get);
core::Result<nlohmann::json> fetch_collateral(std::string_view pccs_url, core::ByteView quote, const TransportOptions& options);

// The raw text of a top-level member's value in a JSON object (checked:
// `body` parses, and the text parses to the same value). For signed documents.
core::Result<std::string> raw_member(std::string_view body, std::string_view member);

}  // namespace mpc::tee
