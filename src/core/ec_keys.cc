#include "core/ec_keys.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <string>

namespace mpc::core {

EvpPkeyPtr ec_public_key(const char* group, ByteView sec1) {
  if (sec1.empty()) return nullptr;
  std::string name(group);
  Bytes octets(sec1.begin(), sec1.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, octets.data(), octets.size()),
      OSSL_PARAM_construct_end(),
  };
  std::unique_ptr<EVP_PKEY_CTX, OpensslFree<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

EvpPkeyPtr ec_public_key_xy(const char* group, ByteView xy) {
  if (xy.size() != 64) return nullptr;
  Bytes sec1;
  sec1.reserve(65);
  sec1.push_back(0x04);
  sec1.insert(sec1.end(), xy.begin(), xy.end());
  return ec_public_key(group, sec1);
}

bool ecdsa_verify_prehash(EVP_PKEY* key, ByteView hash, ByteView r, ByteView s) {
  if (key == nullptr || r.empty() || s.empty() || r.size() > 32 || s.size() > 32) return false;
  std::unique_ptr<ECDSA_SIG, OpensslFree<ECDSA_SIG_free>> sig(ECDSA_SIG_new());
  BnPtr br(BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr));
  BnPtr bs(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  if (!sig || !br || !bs || ECDSA_SIG_set0(sig.get(), br.get(), bs.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  (void)br.release();  // owned by sig now
  (void)bs.release();
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<EVP_PKEY_CTX, OpensslFree<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  const bool valid = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                     EVP_PKEY_verify(ctx.get(), der, static_cast<std::size_t>(der_len), hash.data(), hash.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return valid;
}

}  // namespace mpc::core
