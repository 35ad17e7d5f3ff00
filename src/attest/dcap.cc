#include "attest/dcap.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "attest/checks.h"
#include "attest/intel_root_ca.h"
#include "core/crypto.h"
#include "core/ec_keys.h"
#include "core/openssl_ptr.h"

namespace mpc::attest {
namespace {

using core::OpensslFree;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpensslFree<X509_CRL_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslFree<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpensslFree<X509_STORE_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslFree<ECDSA_SIG_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslFree<EVP_PKEY_CTX_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpensslFree<ASN1_OBJECT_free>>;
struct Asn1SequenceFree {
  void operator()(STACK_OF(ASN1_TYPE) * s) const noexcept { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};
using Asn1SequencePtr = std::unique_ptr<STACK_OF(ASN1_TYPE), Asn1SequenceFree>;
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_free(s); }  // borrowed certificates
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
struct CrlStackFree {
  void operator()(STACK_OF(X509_CRL) * s) const noexcept { sk_X509_CRL_free(s); }  // borrowed CRLs
};
using CrlStackPtr = std::unique_ptr<STACK_OF(X509_CRL), CrlStackFree>;

constexpr std::size_t kMaxChainCertificates = 8;
constexpr char kSgxExtensionOid[] = "1.2.840.113741.1.13.1";

// Adds the time of its scope to a counter (when there is one).
class Stopwatch {
 public:
  explicit Stopwatch(std::chrono::nanoseconds* sink) : sink_(sink), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() {
    if (sink_ != nullptr) *sink_ += std::chrono::steady_clock::now() - start_;
  }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  std::chrono::nanoseconds* sink_;
  std::chrono::steady_clock::time_point start_;
};

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string common_name(X509* cert) {
  char buf[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) < 0) return "?";
  return buf;
}

std::string hex(core::ByteView b) { return core::hex_encode(b); }

// The pinned root, parsed once; its DER must hash to the pin.
X509* root_certificate() {
  static X509* const root = [] {
    const std::string_view pem = intel_sgx_root_ca_pem();
    core::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (cert != nullptr) {
      unsigned char* der = nullptr;
      const int len = i2d_X509(cert, &der);
      const bool pinned =
          len > 0 && hex(core::sha256(core::ByteView(der, static_cast<std::size_t>(len)))) == kIntelSgxRootCaSha256;
      OPENSSL_free(der);
      if (!pinned) {
        X509_free(cert);
        cert = nullptr;
      }
    }
    return cert;
  }();
  return root;
}

// PEM certificates. With `canonical`, the text must be exactly OpenSSL's
// encoding of what it holds, so that no byte of it goes unauthenticated.
core::Result<std::vector<core::X509Ptr>> read_pem_chain(std::string_view text, Check check, const std::string& what,
                                                        bool canonical) {
  core::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return reject(check, what + ": out of memory");
  std::vector<core::X509Ptr> certs;
  ERR_clear_error();
  while (true) {
    core::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      const unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      if (!certs.empty() && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
      return reject(check, what + ": certificate " + std::to_string(certs.size()) + " is not a valid PEM certificate");
    }
    certs.push_back(std::move(cert));
    if (certs.size() > kMaxChainCertificates) {
      return reject(check, what + ": more than " + std::to_string(kMaxChainCertificates) + " certificates");
    }
  }
  if (canonical) {
    core::BioPtr out(BIO_new(BIO_s_mem()));
    for (const auto& c : certs) {
      if (!out || PEM_write_bio_X509(out.get(), c.get()) != 1) return reject(check, what + ": " + openssl_error());
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.get(), &data);
    if (n < 0 || std::string_view(data, static_cast<std::size_t>(n)) != text) {
      return reject(check, what + ": not in canonical PEM form (64-character base64 lines, nothing between certificates)");
    }
  }
  return certs;
}

core::Result<X509CrlPtr> read_crl(core::ByteView der, const char* what) {
  const unsigned char* p = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl) {
    ERR_clear_error();
    return reject(Check::kCrl, std::string(what) + " is not a DER CRL");
  }
  if (p != der.data() + der.size()) return reject(Check::kCrl, std::string(what) + " has trailing bytes");
  return crl;
}

std::string asn1_time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

core::Status check_crl_time(X509_CRL* crl, std::int64_t now, const char* what) {
  std::time_t t = static_cast<std::time_t>(now);
  const ASN1_TIME* last = X509_CRL_get0_lastUpdate(crl);
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  if (next == nullptr) return reject(Check::kCrl, std::string(what) + " has no nextUpdate");
  if (X509_cmp_time(last, &t) > 0) {
    return reject(Check::kCrl, std::string(what) + " is issued at " + asn1_time_text(last) + ", after the time " +
                                   format_utc_time(now));
  }
  if (X509_cmp_time(next, &t) < 0) {
    return reject(Check::kCrl, std::string(what) + " expired at " + asn1_time_text(next) + " (nextUpdate), before the time " +
                                   format_utc_time(now));
  }
  return {};
}

// Everything verification needs from the collateral's CRLs.
struct Trust {
  X509StorePtr store;
  X509CrlPtr root_crl;
  X509CrlPtr pck_crl;
  CrlStackPtr crls;
};

core::Result<Trust> make_trust(const Collateral& c, std::int64_t now) {
  X509* root = root_certificate();
  if (root == nullptr) return core::fail(core::ErrorCode::kInternal, "the pinned Intel SGX Root CA does not load");
  Trust t;
  MPC_ASSIGN(t.root_crl, read_crl(c.root_ca_crl, "root CA CRL"));
  MPC_ASSIGN(t.pck_crl, read_crl(c.pck_crl, "PCK CRL"));
  if (X509_NAME_cmp(X509_CRL_get_issuer(t.root_crl.get()), X509_get_subject_name(root)) != 0) {
    return reject(Check::kCrl, "root CA CRL is not issued by the Intel SGX Root CA");
  }
  MPC_TRY(check_crl_time(t.root_crl.get(), now, "root CA CRL"));
  MPC_TRY(check_crl_time(t.pck_crl.get(), now, "PCK CRL"));
  t.store.reset(X509_STORE_new());
  t.crls.reset(sk_X509_CRL_new_null());
  if (!t.store || !t.crls || X509_STORE_add_cert(t.store.get(), root) != 1 ||
      sk_X509_CRL_push(t.crls.get(), t.root_crl.get()) <= 0 || sk_X509_CRL_push(t.crls.get(), t.pck_crl.get()) <= 0) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL: " + openssl_error());
  }
  return t;
}

// certs[0] chains through certs[1..] to the pinned root at `now`, every
// certificate checked against the CRLs (which are checked against their issuers).
core::Status verify_chain(const Trust& trust, const std::vector<core::X509Ptr>& certs, std::int64_t now, Check check,
                          const std::string& what) {
  if (certs.empty()) return reject(check, what + ": no certificate");
  X509StackPtr untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < certs.size(); ++i) {
    if (!untrusted || sk_X509_push(untrusted.get(), certs[i].get()) <= 0) {
      return core::fail(core::ErrorCode::kInternal, "OpenSSL: " + openssl_error());
    }
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust.store.get(), certs[0].get(), untrusted.get()) != 1) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL: " + openssl_error());
  }
  X509_STORE_CTX_set0_crls(ctx.get(), trust.crls.get());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  X509_VERIFY_PARAM_set_time(param, static_cast<std::time_t>(now));
  const int ok = X509_verify_cert(ctx.get());
  ERR_clear_error();
  if (ok != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    return reject(check, what + ": " + X509_verify_cert_error_string(err) + " (certificate \"" +
                             (bad != nullptr ? common_name(bad) : std::string("?")) + "\", depth " +
                             std::to_string(X509_STORE_CTX_get_error_depth(ctx.get())) + ", at " + format_utc_time(now) + ")");
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  const int n = chain != nullptr ? sk_X509_num(chain) : 0;
  if (n < 2 || X509_cmp(sk_X509_value(chain, n - 1), root_certificate()) != 0) {
    return reject(check, what + ": does not end in the pinned Intel SGX Root CA");
  }
  return {};
}

// ECDSA P-256 / SHA-256 with a raw r || s signature.
bool verify_p256(EVP_PKEY* key, core::ByteView message, core::ByteView raw_signature) {
  if (key == nullptr || raw_signature.size() != 64) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw_signature.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw_signature.data() + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  core::EvpMdCtxPtr md(EVP_MD_CTX_new());
  const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(md.get(), der, static_cast<std::size_t>(der_len), message.data(), message.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

bool is_p256_key(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return false;
  return std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256";
}

// A P-256 public key from x || y (the point must be on the curve).
core::EvpPkeyPtr p256_key(const std::array<std::uint8_t, 64>& xy) { return core::ec_public_key_xy("prime256v1", xy); }

// A collateral document's signing chain, verified to the root.
core::Result<std::vector<core::X509Ptr>> verified_signing_chain(const Trust& trust, std::string_view chain_pem,
                                                                std::int64_t now, Check check, const std::string& what,
                                                                DcapTimings* timings) {
  Stopwatch w(timings ? &timings->certificates : nullptr);
  MPC_ASSIGN(auto certs, read_pem_chain(chain_pem, check, what + " issuer chain", /*canonical=*/false));
  MPC_TRY(verify_chain(trust, certs, now, check, what + " issuer chain"));
  return certs;
}

// A collateral document's signature over its exact text, by the chain's leaf.
core::Status verify_document_signature(X509* signer, std::string_view text, core::ByteView signature, Check check,
                                       const std::string& what, DcapTimings* timings) {
  Stopwatch w(timings ? &timings->signatures : nullptr);
  if (signature.size() != 64) {
    return reject(check, what + " signature is " + std::to_string(signature.size()) + " bytes, expected 64 (r || s)");
  }
  EVP_PKEY* key = X509_get0_pubkey(signer);
  if (!is_p256_key(key)) return reject(check, what + " signing certificate does not hold a P-256 key");
  if (!verify_p256(key, core::as_bytes(text), signature)) {
    return reject(check, what + " signature does not verify under \"" + common_name(signer) + "\"");
  }
  return {};
}

core::Status check_window(std::int64_t issue, std::int64_t next, std::int64_t now, Check check, const char* what) {
  if (now < issue) {
    return reject(check, std::string(what) + " is issued at " + format_utc_time(issue) + ", after the time " +
                             format_utc_time(now));
  }
  if (now > next) {
    return reject(check, std::string(what) + " expired at " + format_utc_time(next) + " (nextUpdate), before the time " +
                             format_utc_time(now));
  }
  return {};
}

// ---- the Intel SGX extension ----

core::Result<PckExtension> pck_extension_of(X509* cert);

std::string oid_text(const ASN1_OBJECT* obj) {
  char buf[128] = {0};
  if (obj == nullptr || OBJ_obj2txt(buf, sizeof buf, obj, 1) <= 0) return "";
  return buf;
}

core::Result<Asn1SequencePtr> der_sequence(const unsigned char* data, long len, const std::string& what) {
  const unsigned char* p = data;
  Asn1SequencePtr seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, len));
  if (!seq || p != data + len) {
    ERR_clear_error();
    return reject(Check::kPckExtension, what + " is not a DER SEQUENCE");
  }
  return seq;
}

// SEQUENCE { SEQUENCE { OID, value } ... } as (oid, value) pairs.
core::Result<std::vector<std::pair<std::string, const ASN1_TYPE*>>> oid_pairs(const STACK_OF(ASN1_TYPE) * seq,
                                                                               std::vector<Asn1SequencePtr>& keep,
                                                                               const std::string& what) {
  std::vector<std::pair<std::string, const ASN1_TYPE*>> out;
  for (int i = 0; i < sk_ASN1_TYPE_num(seq); ++i) {
    const ASN1_TYPE* entry = sk_ASN1_TYPE_value(seq, i);
    if (entry->type != V_ASN1_SEQUENCE) return reject(Check::kPckExtension, what + " entry is not a SEQUENCE");
    MPC_ASSIGN(auto pair, der_sequence(entry->value.sequence->data, entry->value.sequence->length, what + " entry"));
    if (sk_ASN1_TYPE_num(pair.get()) != 2 || sk_ASN1_TYPE_value(pair.get(), 0)->type != V_ASN1_OBJECT) {
      return reject(Check::kPckExtension, what + " entry is not (OID, value)");
    }
    out.emplace_back(oid_text(sk_ASN1_TYPE_value(pair.get(), 0)->value.object), sk_ASN1_TYPE_value(pair.get(), 1));
    keep.push_back(std::move(pair));
  }
  return out;
}

template <std::size_t N>
core::Status octets(const ASN1_TYPE* v, std::array<std::uint8_t, N>& out, const char* what) {
  if (v->type != V_ASN1_OCTET_STRING || v->value.octet_string->length != static_cast<int>(N)) {
    return reject(Check::kPckExtension, std::string(what) + " is not an OCTET STRING of " + std::to_string(N) + " bytes");
  }
  std::memcpy(out.data(), v->value.octet_string->data, N);
  return {};
}

// ---- TCB evaluation ----

bool components_at_least(const std::array<std::uint8_t, 16>& have, const std::array<std::uint8_t, 16>& need) {
  for (std::size_t i = 0; i < 16; ++i) {
    if (have[i] < need[i]) return false;
  }
  return true;
}

core::Result<std::optional<TcbStatusWithAdvisory>> match_tdx_module(const TcbInfo& info, const TdReport10& report) {
  if (!info.has_tdx_module) return reject(Check::kTdxModule, "tcb info has no tdxModule");
  const std::uint8_t module_isvsvn = report.tee_tcb_svn[0];
  const std::uint8_t module_version = report.tee_tcb_svn[1];
  auto mrsigner = info.tdx_module_mrsigner;
  auto attributes = info.tdx_module_attributes;
  auto mask = info.tdx_module_attributes_mask;
  const TdxModuleIdentity* identity = nullptr;
  if (module_version > 0 && !info.tdx_module_identities.empty()) {
    char wanted[16];
    std::snprintf(wanted, sizeof wanted, "TDX_%02X", module_version);
    for (const auto& id : info.tdx_module_identities) {
      if (id.id.size() == std::strlen(wanted) &&
          std::equal(id.id.begin(), id.id.end(), wanted, [](char a, char b) { return std::toupper(a) == std::toupper(b); })) {
        identity = &id;
        break;
      }
    }
    if (identity == nullptr) return reject(Check::kTdxModule, std::string("no TDX module identity ") + wanted + " in tcb info");
    mrsigner = identity->mrsigner;
    attributes = identity->attributes;
    mask = identity->attributes_mask;
  }
  if (report.mr_signer_seam != mrsigner) {
    return reject(Check::kTdxModule, "MRSIGNERSEAM " + hex(report.mr_signer_seam) + " is not the module's " + hex(mrsigner));
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if ((report.seam_attributes[i] & mask[i]) != (attributes[i] & mask[i]) || (report.seam_attributes[i] & ~mask[i]) != 0) {
      return reject(Check::kTdxModule, "SEAMATTRIBUTES " + hex(report.seam_attributes) + " do not match " + hex(attributes) +
                                           " under mask " + hex(mask));
    }
  }
  if (identity == nullptr) return std::optional<TcbStatusWithAdvisory>();
  for (const auto& level : identity->tcb_levels) {
    if (module_isvsvn >= level.isv_svn) return std::optional<TcbStatusWithAdvisory>(level.status);
  }
  return reject(Check::kTdxModule, "TDX module ISVSVN " + std::to_string(module_isvsvn) + " is below every level of " +
                                       identity->id);
}

core::Result<TcbStatusWithAdvisory> match_platform_tcb(TcbInfo info, const TdReport10& report, const PckExtension& pck) {
  if (pck.fmspc != info.fmspc) {
    return reject(Check::kTcbLevel, "FMSPC " + hex(pck.fmspc) + " of the PCK certificate is not the tcb info's " + hex(info.fmspc));
  }
  // dcap-qvl's canonical order: SGX components, then PCESVN, then TDX
  // components, each descending (Intel publishes them so already).
  std::stable_sort(info.tcb_levels.begin(), info.tcb_levels.end(), [](const TcbLevel& a, const TcbLevel& b) {
    if (a.sgx_components != b.sgx_components) return a.sgx_components > b.sgx_components;
    if (a.pce_svn != b.pce_svn) return a.pce_svn > b.pce_svn;
    return a.tdx_components > b.tdx_components;
  });
  for (const auto& level : info.tcb_levels) {
    if (pck.pce_svn < level.pce_svn) continue;
    if (!components_at_least(pck.cpu_svn, level.sgx_components)) continue;
    if (!components_at_least(report.tee_tcb_svn, level.tdx_components)) continue;
    TcbStatusWithAdvisory status = level.status;
    MPC_ASSIGN(auto module, match_tdx_module(info, report));
    if (module) status = status.merge(*module);
    return status;
  }
  return reject(Check::kTcbLevel, "no TCB level matches CPUSVN " + hex(pck.cpu_svn) + ", PCESVN " + std::to_string(pck.pce_svn) +
                                      ", TEE_TCB_SVN " + hex(report.tee_tcb_svn));
}

core::Result<TcbStatusWithAdvisory> check_qe_identity(const EnclaveReport& qe, const QeIdentity& id) {
  if (qe.mr_signer != id.mrsigner) {
    return reject(Check::kQeIdentity, "QE MRSIGNER " + hex(qe.mr_signer) + " is not " + hex(id.mrsigner));
  }
  if ((qe.attributes[0] & 0x02) != 0) return reject(Check::kQeIdentity, "the QE is a debug enclave");
  if (qe.isv_prod_id != id.isv_prod_id) {
    return reject(Check::kQeIdentity,
                  "QE ISVPRODID " + std::to_string(qe.isv_prod_id) + " is not " + std::to_string(id.isv_prod_id));
  }
  auto le32 = [](const std::array<std::uint8_t, 4>& b) {
    return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
           (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  };
  const std::uint32_t mask = le32(id.miscselect_mask);
  if ((qe.misc_select & mask) != (le32(id.miscselect) & mask)) {
    return reject(Check::kQeIdentity, "QE MISCSELECT does not match under the mask");
  }
  for (std::size_t i = 0; i < 16; ++i) {
    if ((qe.attributes[i] & id.attributes_mask[i]) != (id.attributes[i] & id.attributes_mask[i])) {
      return reject(Check::kQeIdentity, "QE ATTRIBUTES " + hex(qe.attributes) + " do not match " + hex(id.attributes) +
                                            " under the mask");
    }
  }
  for (const auto& level : id.tcb_levels) {
    if (qe.isv_svn >= level.isv_svn) return level.status;
  }
  return reject(Check::kQeIdentity, "QE ISVSVN " + std::to_string(qe.isv_svn) + " is below every QE identity level");
}

// TDATTRIBUTES (TDX module ABI): bit 0 DEBUG, bits 1-27 and 29 reserved,
// bit 28 SEPT_VE_DISABLE, bits 30-31 PKS/KL, bits 32-62 reserved, bit 63 PERFMON.
core::Status check_td_attributes(const std::array<std::uint8_t, 8>& a) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | a[static_cast<std::size_t>(i)];
  if (v & 1) return reject(Check::kTdAttributes, "the TD is in debug mode");
  const std::uint64_t reserved = 0x0FFFFFFEull | (1ull << 29) | (0x7FFFFFFFull << 32);
  if (v & reserved) return reject(Check::kTdAttributes, "reserved bits are set in " + hex(a));
  if ((v & (1ull << 28)) == 0) return reject(Check::kTdAttributes, "SEPT_VE_DISABLE is not set");
  return {};
}

}  // namespace

core::Result<PckExtension> parse_pck_extension(core::ByteView der) {
  const unsigned char* p = der.data();
  core::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return reject(Check::kPckExtension, "not a DER certificate");
  }
  return pck_extension_of(cert.get());
}

namespace {

core::Result<PckExtension> pck_extension_of(X509* cert) {
  Asn1ObjectPtr oid(OBJ_txt2obj(kSgxExtensionOid, 1));
  const int index = oid ? X509_get_ext_by_OBJ(cert, oid.get(), -1) : -1;
  if (index < 0) return reject(Check::kPckExtension, "the PCK certificate has no Intel SGX extension");
  if (X509_get_ext_by_OBJ(cert, oid.get(), index) >= 0) {
    return reject(Check::kPckExtension, "the PCK certificate has two Intel SGX extensions");
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
  MPC_ASSIGN(auto top, der_sequence(data->data, data->length, "the SGX extension"));
  std::vector<Asn1SequencePtr> keep;
  MPC_ASSIGN(auto entries, oid_pairs(top.get(), keep, "the SGX extension"));
  const std::string base = kSgxExtensionOid;
  PckExtension out;
  bool have_ppid = false, have_tcb = false, have_pceid = false, have_fmspc = false;
  for (const auto& [name, value] : entries) {
    if (name == base + ".1") {
      std::array<std::uint8_t, 16> ppid{};
      MPC_TRY(octets(value, ppid, "PPID"));
      out.ppid.assign(ppid.begin(), ppid.end());
      have_ppid = true;
    } else if (name == base + ".2") {
      if (value->type != V_ASN1_SEQUENCE) return reject(Check::kPckExtension, "TCB is not a SEQUENCE");
      MPC_ASSIGN(auto tcb, der_sequence(value->value.sequence->data, value->value.sequence->length, "TCB"));
      MPC_ASSIGN(auto tcb_entries, oid_pairs(tcb.get(), keep, "TCB"));
      bool have_cpusvn = false, have_pcesvn = false;
      for (const auto& [tname, tvalue] : tcb_entries) {
        if (tname == base + ".2.18") {
          MPC_TRY(octets(tvalue, out.cpu_svn, "CPUSVN"));
          have_cpusvn = true;
        } else if (tname == base + ".2.17") {
          std::int64_t svn = -1;
          if (tvalue->type != V_ASN1_INTEGER || ASN1_INTEGER_get_int64(&svn, tvalue->value.integer) != 1 || svn < 0 ||
              svn > 0xffff) {
            ERR_clear_error();
            return reject(Check::kPckExtension, "PCESVN is not an integer in 0..65535");
          }
          out.pce_svn = static_cast<std::uint16_t>(svn);
          have_pcesvn = true;
        }
      }
      if (!have_cpusvn || !have_pcesvn) return reject(Check::kPckExtension, "TCB lacks CPUSVN or PCESVN");
      keep.push_back(std::move(tcb));
      have_tcb = true;
    } else if (name == base + ".3") {
      MPC_TRY(octets(value, out.pce_id, "PCE-ID"));
      have_pceid = true;
    } else if (name == base + ".4") {
      MPC_TRY(octets(value, out.fmspc, "FMSPC"));
      have_fmspc = true;
    }
  }
  if (!have_ppid || !have_tcb || !have_pceid || !have_fmspc) {
    return reject(Check::kPckExtension, "the SGX extension lacks PPID, TCB, PCE-ID or FMSPC");
  }
  return out;
}

}  // namespace

core::Result<TcbStatusWithAdvisory> evaluate_platform_tcb(const TcbInfo& tcb_info, const TdReport10& report,
                                                          const PckExtension& pck) {
  return match_platform_tcb(tcb_info, report, pck);
}

core::Result<TcbStatusWithAdvisory> evaluate_qe_identity(const EnclaveReport& qe_report, const QeIdentity& qe_identity) {
  return check_qe_identity(qe_report, qe_identity);
}

core::Result<VerifiedReport> verify_quote(core::ByteView quote_bytes, const Collateral& collateral, std::int64_t now,
                                          DcapTimings* timings) {
  Stopwatch total(timings ? &timings->total : nullptr);
  auto* cert_time = timings ? &timings->certificates : nullptr;
  auto* sig_time = timings ? &timings->signatures : nullptr;
  auto* json_time = timings ? &timings->json : nullptr;

  // 1. Layout and header.
  MPC_ASSIGN(Quote quote, parse_quote(quote_bytes));
  if (quote.header.attestation_key_type != kAttestationKeyEcdsaP256) {
    return reject(Check::kQuoteHeader,
                  "attestation key type " + std::to_string(quote.header.attestation_key_type) + " is not ECDSA P-256 (2)");
  }
  if (quote.header.qe_vendor_id != kIntelQeVendorId) {
    return reject(Check::kQuoteHeader, "QE vendor id " + hex(quote.header.qe_vendor_id) + " is not Intel's");
  }

  // 2. CRLs.
  Trust trust;
  {
    Stopwatch w(cert_time);
    MPC_ASSIGN(trust, make_trust(collateral, now));
  }

  // 3. TCB info and QE identity.
  MPC_ASSIGN(auto tcb_signer, verified_signing_chain(trust, collateral.tcb_info_issuer_chain, now, Check::kTcbInfoChain,
                                                     "tcb info", timings));
  MPC_TRY(verify_document_signature(tcb_signer[0].get(), collateral.tcb_info, collateral.tcb_info_signature,
                                    Check::kTcbInfoSignature, "tcb info", timings));
  TcbInfo tcb_info;
  {
    Stopwatch w(json_time);
    MPC_ASSIGN(tcb_info, parse_tcb_info(collateral.tcb_info));
  }
  if (tcb_info.id != "TDX" || tcb_info.version < 3) {
    return reject(Check::kTcbInfoFormat, "tcb info is " + tcb_info.id + " version " + std::to_string(tcb_info.version) +
                                             ", not TDX version 3");
  }
  MPC_TRY(check_window(tcb_info.issue_date, tcb_info.next_update, now, Check::kTcbInfoValidity, "tcb info"));

  // Intel signs both documents with the same certificate: the same chain
  // text is decoded and verified once.
  std::vector<core::X509Ptr> qe_chain;
  if (collateral.qe_identity_issuer_chain != collateral.tcb_info_issuer_chain) {
    MPC_ASSIGN(qe_chain, verified_signing_chain(trust, collateral.qe_identity_issuer_chain, now, Check::kQeIdentityChain,
                                                "qe identity", timings));
  }
  X509* qe_signer = qe_chain.empty() ? tcb_signer[0].get() : qe_chain[0].get();
  MPC_TRY(verify_document_signature(qe_signer, collateral.qe_identity, collateral.qe_identity_signature,
                                    Check::kQeIdentitySignature, "qe identity", timings));
  QeIdentity qe_identity;
  {
    Stopwatch w(json_time);
    MPC_ASSIGN(qe_identity, parse_qe_identity(collateral.qe_identity));
  }
  if (qe_identity.id != "TD_QE" || (qe_identity.version != 2 && qe_identity.version != 3)) {
    return reject(Check::kQeIdentityFormat, "qe identity is " + qe_identity.id + " version " +
                                                std::to_string(qe_identity.version) + ", not TD_QE version 2 or 3");
  }
  MPC_TRY(check_window(qe_identity.issue_date, qe_identity.next_update, now, Check::kQeIdentityValidity, "qe identity"));

  // 4. The PCK chain.
  std::vector<core::X509Ptr> pck_chain;
  PckExtension pck;
  {
    Stopwatch w(cert_time);
    if (quote.certification_type != kCertDataPckChain) {
      return reject(Check::kPckChain, "certification data type " + std::to_string(quote.certification_type) +
                                          " is not 5 (PCK certificate chain)");
    }
    std::string_view pem = quote.pck_chain;
    if (!pem.empty() && pem.back() == '\0') pem.remove_suffix(1);
    MPC_ASSIGN(pck_chain, read_pem_chain(pem, Check::kPckChain, "the quote's PCK chain", /*canonical=*/true));
    if (collateral.pck_certificate_chain && *collateral.pck_certificate_chain != pem) {
      return reject(Check::kPckChain, "the collateral's pck_certificate_chain differs from the quote's");
    }
    MPC_TRY(verify_chain(trust, pck_chain, now, Check::kPckChain, "the quote's PCK chain"));
    MPC_ASSIGN(pck, pck_extension_of(pck_chain[0].get()));
  }

  // 5. The QE report: signed by the PCK key, binding the attestation key.
  {
    Stopwatch w(sig_time);
    EVP_PKEY* pck_key = X509_get0_pubkey(pck_chain[0].get());
    if (!is_p256_key(pck_key)) return reject(Check::kQeReportSignature, "the PCK certificate does not hold a P-256 key");
    if (!verify_p256(pck_key, quote.qe_report_raw, quote.qe_report_signature)) {
      return reject(Check::kQeReportSignature, "the QE report signature does not verify under the PCK certificate");
    }
  }
  if (quote.qe_auth_data.size() != 32) {
    return reject(Check::kQeReportData, "QE auth data is " + std::to_string(quote.qe_auth_data.size()) + " bytes, expected 32");
  }
  {
    core::Bytes bound(quote.attestation_key.begin(), quote.attestation_key.end());
    bound.insert(bound.end(), quote.qe_auth_data.begin(), quote.qe_auth_data.end());
    const core::Hash256 expected = core::sha256(bound);
    const auto& rd = quote.qe_report.report_data;
    if (!std::equal(expected.begin(), expected.end(), rd.begin()) ||
        std::any_of(rd.begin() + 32, rd.end(), [](std::uint8_t b) { return b != 0; })) {
      return reject(Check::kQeReportData,
                    "QE report data is not SHA-256(attestation key || QE auth data) || 32 zero bytes");
    }
  }

  // 6. The QE against its identity.
  MPC_ASSIGN(TcbStatusWithAdvisory qe_status, check_qe_identity(quote.qe_report, qe_identity));

  // 7. The quote signature.
  {
    Stopwatch w(sig_time);
    core::EvpPkeyPtr attestation_key = p256_key(quote.attestation_key);
    if (!attestation_key) return reject(Check::kQuoteSignature, "the attestation key is not a P-256 point");
    if (!verify_p256(attestation_key.get(), quote.signed_data, quote.signature)) {
      return reject(Check::kQuoteSignature, "the quote signature does not verify under the attestation key");
    }
  }

  // 8-9. TCB level, TDX module, merged status.
  MPC_ASSIGN(TcbStatusWithAdvisory platform_status, match_platform_tcb(tcb_info, quote.report, pck));
  TcbStatusWithAdvisory status = platform_status.merge(qe_status);
  if (status.status == TcbStatus::kRevoked) return reject(Check::kTcbStatus, "the TCB is Revoked");

  // 10. TD attributes.
  MPC_TRY(check_td_attributes(quote.report.td_attributes));

  VerifiedReport out;
  out.status = std::move(status);
  out.platform_status = std::move(platform_status);
  out.qe_status = std::move(qe_status);
  out.header = quote.header;
  out.report = quote.report;
  out.pck = std::move(pck);
  out.tcb_evaluation_data_number = tcb_info.tcb_evaluation_data_number;
  return out;
}

}  // namespace mpc::attest
