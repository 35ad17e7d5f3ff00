// Owning pointers to OpenSSL objects: one alias per type, each freeing with
// the type's own function (the secret-holding kinds clear before freeing).
// The deleters are stateless, so each pointer is one machine word.
//
//   core::EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(...));
//   if (!key) ...;  // OpenSSL returned null
#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mpc::core {

// Calls `Free` on a non-null pointer (OpenSSL's free functions accept null,
// but unique_ptr never passes it anyway).
template <auto Free>
struct OpensslFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslFree<EVP_MD_CTX_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpensslFree<EVP_CIPHER_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpensslFree<X509_EXTENSION_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpensslFree<ASN1_INTEGER_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OpensslFree<BN_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, OpensslFree<BN_free>>;
// A BIGNUM that may hold a secret: zeroed before it is freed.
using SecretBnPtr = std::unique_ptr<BIGNUM, OpensslFree<BN_clear_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, OpensslFree<EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, OpensslFree<EC_POINT_free>>;
// A point that may reveal a secret (a share's commitment before it is
// public): zeroed before it is freed.
using SecretEcPointPtr = std::unique_ptr<EC_POINT, OpensslFree<EC_POINT_clear_free>>;

}  // namespace mpc::core
