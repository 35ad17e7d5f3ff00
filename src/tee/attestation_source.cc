#include "tee/attestation_source.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "attest/attestation.h"
#include "core/json_limits.h"
#include "core/openssl_ptr.h"
#include "tee/http_transport.h"
#include "tee/pccs.h"

namespace mpc::tee {

using json = nlohmann::json;
namespace http = boost::beast::http;

json mock_valid_attestation() { return json{{"Mock", "Valid"}}; }

namespace {

core::Result<json> agent_call(const DstackSourceOptions& o, const std::string& method, const json& args) {
  TransportOptions t{o.timeout, 4 << 20};
  MPC_ASSIGN(auto reply, unix_socket_request(o.socket, http::verb::post, "/" + method, args.dump(), t));
  if (reply.status != 200)
    return core::fail(core::ErrorCode::kUnavailable,
                      "dstack agent " + method + ": HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 200));
  json j = core::parse_json(reply.body, {4 << 20, 64}).value_or(json::value_t::discarded);
  if (!j.is_object()) return core::invalid("dstack agent " + method + ": the answer is not a JSON object");
  return j;
}

}  // namespace

core::Result<json> DstackAttestationSource::attest(const attest::ReportData& report_data) {
  MPC_ASSIGN(auto info, agent_call(options_, "Info", json::object()));
  json tcb_info;
  if (info.contains("tcb_info") && info["tcb_info"].is_string()) {
    tcb_info = core::parse_json(info["tcb_info"].get<std::string>(), {4 << 20, 64}).value_or(json::value_t::discarded);
  } else if (info.contains("tcb_info")) {
    tcb_info = info["tcb_info"];
  }
  if (!tcb_info.is_object()) return core::invalid("dstack agent Info: no tcb_info object (or JSON text of one)");
  if (auto parsed = attest::parse_dstack_tcb_info(tcb_info.dump()); !parsed)
    return std::unexpected(parsed.error().context("dstack agent Info: tcb_info"));

  MPC_ASSIGN(auto quote_answer, agent_call(options_, "GetQuote", json{{"report_data", core::hex_encode(report_data)}}));
  if (!quote_answer.contains("quote") || !quote_answer["quote"].is_string())
    return core::invalid("dstack agent GetQuote: no \"quote\" hex string");
  auto quote = core::hex_decode(quote_answer["quote"].get<std::string>());
  if (!quote) return core::invalid("dstack agent GetQuote: the quote is not hex");
  MPC_ASSIGN(auto parsed_quote, attest::parse_quote(*quote));
  if (parsed_quote.report.report_data != report_data)
    return core::fail(core::ErrorCode::kFailedPrecondition, "dstack agent GetQuote: the quote carries other report data than asked for");

  MPC_ASSIGN(auto collateral, fetch_collateral(options_.pccs_url, *quote, TransportOptions{options_.timeout, 4 << 20}));
  json quote_array = json::array();
  for (auto b : *quote) quote_array.push_back(b);
  return json{{"Dstack", {{"quote", std::move(quote_array)}, {"collateral", std::move(collateral)}, {"tcb_info", std::move(tcb_info)}}}};
}

attest::ReportData provisioning_report_data(const X25519PublicKey& x25519_public_key, const core::Ed25519PublicKey& tls_public_key,
                                            const core::Ed25519PublicKey& signer_public_key) {
  attest::ReportData out{};
  out[0] = static_cast<std::uint8_t>(kReportDataVersion2 >> 8);
  out[1] = static_cast<std::uint8_t>(kReportDataVersion2 & 0xff);
  core::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha3_384(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), x25519_public_key.data(), x25519_public_key.size()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), tls_public_key.bytes.data(), tls_public_key.bytes.size()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), signer_public_key.bytes.data(), signer_public_key.bytes.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), out.data() + 2, &len) == 1 && len == 48;
  if (!ok) std::abort();  // OpenSSL without SHA3-384: nothing sensible to return
  return out;
}

core::Status check_attestation(const json& attestation, const attest::ReportData& expected, const AttestationPolicy& policy) {
  if (!attestation.is_object() || attestation.size() != 1)
    return core::invalid("attestation: expected {\"Mock\": ...} or {\"Dstack\": {...}}");
  if (attestation.contains("Mock")) {
    if (attestation["Mock"] != "Valid") return core::fail(core::ErrorCode::kFailedPrecondition, "attestation: a mock attestation other than Valid");
    if (!policy.allow_mock)
      return core::fail(core::ErrorCode::kFailedPrecondition,
                        "attestation: a mock attestation (accepted only with --allow-mock-attestation, for local networks)");
    return {};
  }
  if (!attestation.contains("Dstack") || !attestation["Dstack"].is_object())
    return core::invalid("attestation: expected {\"Mock\": ...} or {\"Dstack\": {...}}");
  const json& d = attestation["Dstack"];
  if (!d.contains("quote") || !d.contains("collateral") || !d.contains("tcb_info"))
    return core::invalid("attestation: Dstack needs quote, collateral and tcb_info");
  if (!policy.allowed) return core::invalid("attestation: a Dstack attestation needs the allowed measurements to be checked");
  MPC_ASSIGN(auto quote, attest::parse_quote_text(d["quote"].dump()));
  MPC_ASSIGN(auto collateral, attest::parse_collateral(d["collateral"].dump()));
  MPC_ASSIGN(auto tcb_info, attest::parse_dstack_tcb_info(d["tcb_info"].is_string() ? d["tcb_info"].get<std::string>() : d["tcb_info"].dump()));
  attest::VerifyOptions options;
  options.timestamp = policy.now;
  options.expected_report_data = expected;
  options.allowed = policy.allowed;
  MPC_ASSIGN(auto verified, attest::verify_attestation(quote, collateral, tcb_info, options));
  (void)verified;
  return {};
}

}  // namespace mpc::tee
