// Test helpers (tls_tests, net_tests): peers that do NOT follow the reference
// shape, to show that they are refused. Header-only; not part of mpc_tls.
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls/tls.h"

namespace mpc::tls::testing {

// A self-signed certificate whose key is ECDSA P-256 (a valid certificate,
// but not an Ed25519 identity).
inline Certificate p256_certificate() {
  Certificate c;
  c.key.reset(EVP_EC_gen("P-256"));
  c.cert.reset(X509_new());
  X509* x = c.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, V_ASN1_UTF8STRING,
                             reinterpret_cast<const unsigned char*>("not ed25519"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, c.key.get());
  X509_sign(x, c.key.get(), EVP_sha256());
  return c;
}

// A TLS context of a peer that presents `cert` (or no certificate when null),
// with TLS versions [min_version, max_version], verifying nothing.
inline std::shared_ptr<boost::asio::ssl::context> foreign_context(bool server, const Certificate* cert,
                                                                  int min_version = TLS1_3_VERSION,
                                                                  int max_version = TLS1_3_VERSION) {
  auto ctx = std::make_shared<boost::asio::ssl::context>(server ? boost::asio::ssl::context::tls_server
                                                                : boost::asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, min_version);
  SSL_CTX_set_max_proto_version(native, max_version);
  SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  if (cert != nullptr) {
    SSL_CTX_use_certificate(native, cert->cert.get());
    SSL_CTX_use_PrivateKey(native, cert->key.get());
  }
  return ctx;
}

// Makes `ctx` send a chain of two certificates: its own leaf, then `extra`.
inline void add_chain_certificate(boost::asio::ssl::context& ctx, const Certificate& extra) {
  SSL_CTX_add1_chain_cert(ctx.native_handle(), extra.cert.get());
}

}  // namespace mpc::tls::testing
