#include "core/openssl_ptr.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

namespace mpc::core {
namespace {

static_assert(sizeof(EvpPkeyPtr) == sizeof(void*), "stateless deleter: one word");
static_assert(sizeof(SecretBnPtr) == sizeof(void*), "stateless deleter: one word");

TEST(OpensslPtr, FreesItsObjectExactlyOnce) {
  // A second reference keeps the key alive past the owning pointer: if the
  // deleter freed twice (or never), ASan or the reference count would show it.
  EVP_PKEY* raw = EVP_PKEY_new();
  ASSERT_NE(raw, nullptr);
  ASSERT_EQ(EVP_PKEY_up_ref(raw), 1);
  { EvpPkeyPtr owned(raw); }
  EvpPkeyPtr last(raw);  // the remaining reference, freed here
  EXPECT_EQ(EVP_PKEY_get_id(last.get()), EVP_PKEY_NONE);
}

TEST(OpensslPtr, HoldsEachKindOfObject) {
  EXPECT_TRUE(EvpMdCtxPtr(EVP_MD_CTX_new()));
  EXPECT_TRUE(EvpCipherCtxPtr(EVP_CIPHER_CTX_new()));
  EXPECT_TRUE(X509Ptr(X509_new()));
  EXPECT_TRUE(BioPtr(BIO_new(BIO_s_mem())));
  EXPECT_TRUE(BnCtxPtr(BN_CTX_new()));
  SecretBnPtr secret(BN_new());
  ASSERT_TRUE(secret);
  ASSERT_EQ(BN_set_word(secret.get(), 42), 1);
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  ASSERT_TRUE(group);
  EXPECT_TRUE(EcPointPtr(EC_POINT_new(group.get())));
  EXPECT_TRUE(SecretEcPointPtr(EC_POINT_new(group.get())));
}

}  // namespace
}  // namespace mpc::core
