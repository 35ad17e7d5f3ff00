#include "tee/pccs.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>

#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/quote.h"
#include "core/json_limits.h"
#include "core/openssl_ptr.h"

namespace mpc::tee {

using json = nlohmann::json;

namespace {

constexpr std::string_view kIntelPcsHost = "api.trustedservices.intel.com";
constexpr const char* kIntelRootCaCrl = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

std::string trim_base(std::string_view url) {
  std::string base(url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  for (std::string_view suffix : {"/sgx/certification/v4", "/tdx/certification/v4"}) {
    if (base.size() >= suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
      base.resize(base.size() - suffix.size());
  }
  return base;
}

core::Result<std::string> url_decode(std::string_view text, const std::string& what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return core::invalid(what + ": truncated %-escape");
    auto hex = core::hex_decode(text.substr(i + 1, 2));
    if (!hex) return core::invalid(what + ": bad %-escape");
    out += static_cast<char>((*hex)[0]);
    i += 2;
  }
  return out;
}

core::Result<HttpReply> get_ok(const HttpGet& get, const std::string& url, const std::string& what) {
  MPC_ASSIGN(auto reply, get(url));
  if (reply.status != 200)
    return core::fail(core::ErrorCode::kUnavailable, what + ": the PCCS answered HTTP " + std::to_string(reply.status));
  return reply;
}

core::Result<std::string> issuer_chain(const HttpReply& reply, std::initializer_list<std::string_view> names, const std::string& what) {
  for (auto name : names) {
    auto value = reply.header(name);
    if (!value.empty()) return url_decode(value, what + " header " + std::string(name));
  }
  return core::invalid(what + ": the answer has no " + std::string(*names.begin()) + " header");
}

// The signed document and its signature from {"<member>": {...}, "signature": "<hex>"}.
core::Status signed_document(const std::string& body, std::string_view member, const std::string& what, std::string& document,
                             std::string& signature_hex) {
  MPC_ASSIGN(document, raw_member(body, member));
  json j = core::parse_json(body, {1 << 20, 64}).value_or(json::value_t::discarded);
  if (!j.is_object() || !j.contains("signature") || !j["signature"].is_string())
    return core::invalid(what + ": no \"signature\" string");
  signature_hex = j["signature"].get<std::string>();
  if (!core::hex_decode(signature_hex)) return core::invalid(what + ": the signature is not hex");
  return {};
}

struct PckInfo {
  std::string ca;  // "processor" or "platform"
  std::string fmspc_hex;
};

core::Result<PckInfo> pck_info(core::ByteView quote_bytes) {
  MPC_ASSIGN(auto quote, attest::parse_quote(quote_bytes));
  core::BioPtr bio(BIO_new_mem_buf(quote.pck_chain.data(), static_cast<int>(quote.pck_chain.size())));
  if (!bio) return core::fail(core::ErrorCode::kInternal, "out of memory");
  core::X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) return core::invalid("the quote's PCK certificate chain has no PEM certificate");
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf.get()), NID_commonName, cn, sizeof cn) < 0)
    return core::invalid("the quote's PCK certificate has no issuer common name");
  const std::string issuer(cn);
  PckInfo info;
  if (issuer.find("Processor") != std::string::npos) info.ca = "processor";
  else if (issuer.find("Platform") != std::string::npos) info.ca = "platform";
  else return core::invalid("the quote's PCK certificate is issued by '" + issuer + "', neither the PCK Processor nor Platform CA");
  unsigned char* der = nullptr;
  const int len = i2d_X509(leaf.get(), &der);
  if (len <= 0) return core::fail(core::ErrorCode::kInternal, "cannot encode the PCK certificate");
  core::Bytes der_bytes(der, der + len);
  OPENSSL_free(der);
  MPC_ASSIGN(auto ext, attest::parse_pck_extension(der_bytes));
  info.fmspc_hex = core::hex_encode(ext.fmspc);
  return info;
}

bool all_hex(std::string_view s) {
  if (s.empty() || s.size() % 2) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

core::Result<std::string> raw_member(std::string_view body, std::string_view member) {
  json whole = core::parse_json(body, {1 << 20, 64}).value_or(json::value_t::discarded);
  if (!whole.is_object() || !whole.contains(std::string(member)))
    return core::invalid("expected a JSON object with \"" + std::string(member) + "\"");
  // Walk the top-level object: strings (with escapes) are skipped whole, so a
  // key inside a nested value or a string never matches.
  std::size_t i = 0, depth = 0;
  const auto skip_string = [&](std::size_t at) {
    std::size_t j = at + 1;
    while (j < body.size() && body[j] != '"') j += body[j] == '\\' ? 2 : 1;
    return j + 1;  // past the closing quote
  };
  while (i < body.size()) {
    const char c = body[i];
    if (c == '"') {
      const std::size_t end = skip_string(i);
      if (depth == 1 && end <= body.size() && body.substr(i + 1, end - i - 2) == member) {
        std::size_t k = end;
        while (k < body.size() && std::isspace(static_cast<unsigned char>(body[k]))) ++k;
        if (k < body.size() && body[k] == ':') {
          ++k;
          while (k < body.size() && std::isspace(static_cast<unsigned char>(body[k]))) ++k;
          const std::size_t start = k;
          std::size_t d = 0;
          while (k < body.size()) {
            if (body[k] == '"') {
              k = skip_string(k);
              if (d == 0) break;
              continue;
            }
            if (body[k] == '{' || body[k] == '[') ++d;
            else if (body[k] == '}' || body[k] == ']') {
              if (d == 0) break;
              if (--d == 0) {
                ++k;
                break;
              }
            } else if (d == 0 && (body[k] == ',')) break;
            ++k;
          }
          std::string raw(body.substr(start, k - start));
          while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.pop_back();
          json check = core::parse_json(raw, {1 << 20, 64}).value_or(json::value_t::discarded);
          if (check.is_discarded() || check != whole[std::string(member)])
            return core::invalid("cannot take the text of \"" + std::string(member) + "\" byte for byte");
          return raw;
        }
      }
      i = end;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    ++i;
  }
  return core::invalid("cannot find \"" + std::string(member) + "\" at the top level");
}

core::Result<json> fetch_collateral(std::string_view pccs_url, core::ByteView quote, const HttpGet& get) {
  MPC_ASSIGN(auto pck, pck_info(quote));
  const std::string base = trim_base(pccs_url);
  json out = json::object();

  MPC_ASSIGN(auto crl, get_ok(get, base + "/sgx/certification/v4/pckcrl?ca=" + pck.ca + "&encoding=der", "PCK CRL"));
  MPC_ASSIGN(out["pck_crl_issuer_chain"], issuer_chain(crl, {"sgx-pck-crl-issuer-chain"}, "PCK CRL"));
  out["pck_crl"] = all_hex(crl.body) ? crl.body : core::hex_encode(core::as_bytes(crl.body));

  MPC_ASSIGN(auto tcb, get_ok(get, base + "/tdx/certification/v4/tcb?fmspc=" + pck.fmspc_hex, "TCB info"));
  MPC_ASSIGN(out["tcb_info_issuer_chain"], issuer_chain(tcb, {"tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain"}, "TCB info"));
  std::string document, signature;
  MPC_TRY(signed_document(tcb.body, "tcbInfo", "TCB info", document, signature));
  out["tcb_info"] = document;
  out["tcb_info_signature"] = signature;

  MPC_ASSIGN(auto qe, get_ok(get, base + "/tdx/certification/v4/qe/identity", "QE identity"));
  MPC_ASSIGN(out["qe_identity_issuer_chain"], issuer_chain(qe, {"sgx-enclave-identity-issuer-chain"}, "QE identity"));
  MPC_TRY(signed_document(qe.body, "enclaveIdentity", "QE identity", document, signature));
  out["qe_identity"] = document;
  out["qe_identity_signature"] = signature;

  const bool intel = base.find(kIntelPcsHost) != std::string::npos;
  MPC_ASSIGN(auto root, get_ok(get, intel ? std::string(kIntelRootCaCrl) : base + "/sgx/certification/v4/rootcacrl", "root CA CRL"));
  out["root_ca_crl"] = all_hex(root.body) ? root.body : core::hex_encode(core::as_bytes(root.body));
  out["pck_certificate_chain"] = nullptr;

  if (auto parsed = attest::parse_collateral(out.dump()); !parsed)
    return std::unexpected(parsed.error().context("the PCCS collateral"));
  return out;
}

core::Result<json> fetch_collateral(std::string_view pccs_url, core::ByteView quote, const TransportOptions& options) {
  return fetch_collateral(pccs_url, quote, [options](const std::string& url) { return url_get(url, options); });
}

}  // namespace mpc::tee
