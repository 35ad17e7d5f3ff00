// Mutual TLS as the reference MPC network speaks it (interop §4).
//
// Each peer presents ONE X.509 v3 certificate: its Ed25519 P2P key as the
// subject key, SAN DNS "dummy", issuer and subject CN "rcgen self signed
// cert", signed by a fixed, publicly known "dummy issuer" key. The CA proves
// nothing; authentication is the comparison, after the handshake, of the
// peer's raw Ed25519 key with the key the chain (or the operator) names.
// TLS 1.3 only, no ALPN, client certificate mandatory, SNI "dummy".
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/crypto.h"
#include "core/openssl_ptr.h"
#include "core/result.h"

namespace mpc::tls {

// The public dummy issuer's 32-byte Ed25519 seed (from the reference
// fixture; public by design).
const std::array<std::uint8_t, 32>& dummy_issuer_seed();

struct Certificate {
  core::X509Ptr cert;
  core::EvpPkeyPtr key;
  std::string cert_pem() const;
  // The private key as PKCS#8 PEM (secret: for writing a 0600 file in tests
  // and tools only).
  core::SecretString key_pem() const;
};

// A reference-compatible certificate for `key`.
core::Result<Certificate> make_certificate(const core::Ed25519SecretKey& key);

// The raw Ed25519 key of a certificate.
core::Result<core::Ed25519PublicKey> certificate_key(X509* cert);
// The peer's key after a handshake: exactly one certificate, Ed25519.
core::Result<core::Ed25519PublicKey> peer_key(SSL* ssl);

// TLS 1.3-only contexts carrying `key`'s certificate. The server requires a
// client certificate; neither side validates the issuer (see above).
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const core::Ed25519SecretKey& key);
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(const core::Ed25519SecretKey& key);

// Sets SNI "dummy" on a client connection.
void set_client_sni(SSL* ssl);

// The OpenSSL error queue as text (and cleared).
std::string openssl_errors();

}  // namespace mpc::tls
