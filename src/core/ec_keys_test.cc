#include "core/ec_keys.h"

#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

#include "core/crypto.h"

namespace mpc::core {
namespace {

struct Keypair {
  EvpPkeyPtr key;
  Bytes uncompressed;  // 0x04 || X || Y
  Bytes compressed;
};

Keypair generate(const char* group) {
  Keypair kp;
  kp.key.reset(EVP_EC_gen(group));
  EXPECT_TRUE(kp.key);
  std::size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(kp.key.get(), OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len), 1);
  kp.uncompressed.resize(len);
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(kp.key.get(), OSSL_PKEY_PARAM_PUB_KEY, kp.uncompressed.data(), len, &len), 1);
  kp.compressed.assign(kp.uncompressed.begin(), kp.uncompressed.begin() + 33);
  kp.compressed[0] = (kp.uncompressed.back() & 1) ? 0x03 : 0x02;
  return kp;
}

// (r, s) of an OpenSSL ECDSA signature over the prehash, 32 bytes each.
std::pair<Bytes, Bytes> sign(EVP_PKEY* key, ByteView hash) {
  std::unique_ptr<EVP_PKEY_CTX, OpensslFree<EVP_PKEY_CTX_free>> ctx(EVP_PKEY_CTX_new(key, nullptr));
  EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  std::size_t len = 0;
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &len, hash.data(), hash.size()), 1);
  Bytes der(len);
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), der.data(), &len, hash.data(), hash.size()), 1);
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, OpensslFree<ECDSA_SIG_free>> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  EXPECT_TRUE(sig);
  Bytes r(32), s(32);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), r.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), s.data(), 32);
  return {r, s};
}

TEST(EcKeys, KeysLoadFromEveryEncodingAndSignaturesVerifyOnlyWhenRight) {
  for (const char* group : {"secp256k1", "prime256v1"}) {
    auto kp = generate(group);
    const auto digest = sha256(as_bytes(std::string("a message for ") + group));
    const Bytes hash(digest.begin(), digest.end());
    auto [r, s] = sign(kp.key.get(), hash);
    for (const auto& key : {ec_public_key(group, kp.uncompressed), ec_public_key(group, kp.compressed),
                            ec_public_key_xy(group, ByteView(kp.uncompressed).subspan(1))}) {
      ASSERT_TRUE(key) << group;
      EXPECT_TRUE(ecdsa_verify_prehash(key.get(), hash, r, s)) << group;
      auto flipped = s;
      flipped[5] ^= 1;
      EXPECT_FALSE(ecdsa_verify_prehash(key.get(), hash, r, flipped)) << group;
      auto other = hash;
      other[0] ^= 1;
      EXPECT_FALSE(ecdsa_verify_prehash(key.get(), other, r, s)) << group;
      EXPECT_FALSE(ecdsa_verify_prehash(key.get(), hash, Bytes(33, 1), s)) << "r longer than 32 bytes";
      EXPECT_FALSE(ecdsa_verify_prehash(key.get(), hash, Bytes{}, s));
    }
    EXPECT_FALSE(ecdsa_verify_prehash(nullptr, hash, r, s));
    // Another key refuses it.
    auto other = generate(group);
    EXPECT_FALSE(ecdsa_verify_prehash(ec_public_key(group, other.uncompressed).get(), hash, r, s));
  }
}

TEST(EcKeys, OctetsThatAreNoPointOfTheCurveLoadNothing) {
  auto kp = generate("secp256k1");
  auto off = kp.uncompressed;
  off.back() ^= 1;  // y no longer matches x
  EXPECT_FALSE(ec_public_key("secp256k1", off));
  EXPECT_FALSE(ec_public_key("secp256k1", Bytes{}));
  EXPECT_FALSE(ec_public_key("secp256k1", Bytes(33, 0)));
  EXPECT_FALSE(ec_public_key_xy("secp256k1", Bytes(63, 1)));
  EXPECT_FALSE(ec_public_key("prime256v1", kp.uncompressed)) << "a secp256k1 point is not on P-256";
  EXPECT_FALSE(ec_public_key("no-such-group", kp.uncompressed));
}

}  // namespace
}  // namespace mpc::core
