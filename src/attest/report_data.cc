#include "attest/report_data.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "core/openssl_ptr.h"

namespace mpc::attest {

ReportData report_data_v1(const core::Ed25519PublicKey& tls_public_key, const core::Ed25519PublicKey& account_public_key) {
  ReportData out{};
  out[0] = static_cast<std::uint8_t>(kReportDataVersion1 >> 8);
  out[1] = static_cast<std::uint8_t>(kReportDataVersion1 & 0xff);
  core::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha3_384(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), tls_public_key.bytes.data(), tls_public_key.bytes.size()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), account_public_key.bytes.data(), account_public_key.bytes.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), out.data() + 2, &len) == 1 && len == 48;
  if (!ok) std::abort();  // OpenSSL without SHA3-384: nothing sensible to return
  return out;
}

}  // namespace mpc::attest
