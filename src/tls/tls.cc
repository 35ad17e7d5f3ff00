#include "tls/tls.h"

#include <algorithm>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace mpc::tls {

namespace {

constexpr std::array<std::uint8_t, 32> kDummyIssuerSeed = {
    0x69, 0x0c, 0x3d, 0x01, 0x1b, 0xd0, 0x65, 0xf1, 0x80, 0x55, 0xdb, 0x82, 0x88, 0xcb, 0x79, 0xb9,
    0x87, 0x9c, 0x25, 0x29, 0x4b, 0x74, 0x18, 0xa8, 0x9a, 0xd8, 0x71, 0xfc, 0x85, 0xa8, 0x7b, 0x56};

constexpr const char* kCommonName = "rcgen self signed cert";

core::Error tls_error(const std::string& what) { return core::Error{core::ErrorCode::kInternal, what + ": " + openssl_errors()}; }

core::EvpPkeyPtr ed25519_key(std::span<const std::uint8_t> seed) {
  return core::EvpPkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
}

// Accepts the peer's certificate whatever its issuer: identity is checked by
// key after the handshake. A chain longer than one certificate is refused.
int accept_any_single_certificate(int /*preverify_ok*/, X509_STORE_CTX* ctx) {
  STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(ctx);
  return untrusted == nullptr || sk_X509_num(untrusted) <= 1 ? 1 : 0;
}

core::Result<std::shared_ptr<boost::asio::ssl::context>> make_context(const core::Ed25519SecretKey& key, bool server) {
  auto ctx = std::make_shared<boost::asio::ssl::context>(server ? boost::asio::ssl::context::tls_server
                                                                : boost::asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1 || SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1)
    return std::unexpected(tls_error("cannot restrict TLS to 1.3"));
  MPC_ASSIGN(auto cert, make_certificate(key));
  if (SSL_CTX_use_certificate(native, cert.cert.get()) != 1 || SSL_CTX_use_PrivateKey(native, cert.key.get()) != 1 ||
      SSL_CTX_check_private_key(native) != 1)
    return std::unexpected(tls_error("cannot load the TLS certificate"));
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  // The certificate goes out alone, as it is: without this mode OpenSSL
  // builds a chain for it before every handshake (an X509_verify_cert of
  // our own certificate, per connection, against an empty store) only to
  // find that there is none. Peers refuse a chain anyway
  // (accept_any_single_certificate). nginx sets the same mode.
  SSL_CTX_set_mode(native, SSL_MODE_NO_AUTO_CHAIN);
  if (server) {
    SSL_CTX_set_num_tickets(native, 0);  // no resumption: every connection presents its certificate
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE,
                       accept_any_single_certificate);
  } else {
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_any_single_certificate);
  }
  return ctx;
}

}  // namespace

const std::array<std::uint8_t, 32>& dummy_issuer_seed() { return kDummyIssuerSeed; }

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string Certificate::cert_pem() const {
  core::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

core::SecretString Certificate::key_pem() const {
  core::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio.reset(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return core::SecretString(std::string());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return core::SecretString(std::string(data, static_cast<std::size_t>(n)));
}

core::Result<Certificate> make_certificate(const core::Ed25519SecretKey& key) {
  Certificate c;
  c.key = ed25519_key(key.seed().view());
  core::EvpPkeyPtr issuer = ed25519_key(kDummyIssuerSeed);
  if (!c.key || !issuer) return std::unexpected(tls_error("cannot load an Ed25519 key"));
  c.cert.reset(X509_new());
  X509* x = c.cert.get();
  if (x == nullptr || X509_set_version(x, 2) != 1) return std::unexpected(tls_error("X509_new"));

  // A random positive 128-bit serial.
  auto serial_bytes = core::random_bytes(16);
  serial_bytes[0] &= 0x7f;
  core::BnPtr bn(BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  core::Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial || X509_set_serialNumber(x, serial.get()) != 1) return std::unexpected(tls_error("serial number"));

  // rcgen's default validity.
  if (ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "19750101000000Z") != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "40960101000000Z") != 1)
    return std::unexpected(tls_error("validity"));

  X509_NAME* name = X509_get_subject_name(x);
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
                                 reinterpret_cast<const unsigned char*>(kCommonName), -1, -1, 0) != 1 ||
      X509_set_issuer_name(x, name) != 1)
    return std::unexpected(tls_error("names"));

  core::X509ExtensionPtr san(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:dummy"));
  if (!san || X509_add_ext(x, san.get(), -1) != 1) return std::unexpected(tls_error("subjectAltName"));

  if (X509_set_pubkey(x, c.key.get()) != 1) return std::unexpected(tls_error("public key"));
  if (X509_sign(x, issuer.get(), nullptr) <= 0) return std::unexpected(tls_error("signing the certificate"));

  // The certificate as a reader of its DER gets it (as nginx's, loaded from
  // a file): a certificate built field by field keeps no encoding of its
  // signed part, and OpenSSL then encodes every field again each time it
  // writes the certificate, twice per handshake (5.6 us against 0.9 us
  // for each of those writes).
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(x, &der);
  if (der_len <= 0) return std::unexpected(tls_error("encoding the certificate"));
  const unsigned char* p = der;
  core::X509Ptr parsed(d2i_X509(nullptr, &p, der_len));
  OPENSSL_free(der);
  if (!parsed) return std::unexpected(tls_error("reading the certificate back"));
  c.cert = std::move(parsed);
  return c;
}

core::Result<core::Ed25519PublicKey> certificate_key(X509* cert) {
  EVP_PKEY* pk = X509_get0_pubkey(cert);
  if (pk == nullptr || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)
    return core::fail(core::ErrorCode::kPermissionDenied, "the peer's certificate does not carry an Ed25519 key");
  // The key's bytes straight from the certificate's SubjectPublicKeyInfo
  // (RFC 8410: for Ed25519 they are the raw public key), which OpenSSL
  // has already decoded into pk above (so its algorithm is Ed25519's).
  // EVP_PKEY_get_raw_public_key would export them through the provider
  // again (parameter builders, mallocs and locks), once for every connection.
  const unsigned char* bits = nullptr;
  int len = 0;
  core::Ed25519PublicKey out;
  if (X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, X509_get_X509_PUBKEY(cert)) != 1 || bits == nullptr ||
      static_cast<std::size_t>(len) != out.bytes.size())
    return core::fail(core::ErrorCode::kPermissionDenied, "cannot read the peer's Ed25519 key");
  std::copy_n(bits, out.bytes.size(), out.bytes.begin());
  return out;
}

core::Result<core::Ed25519PublicKey> peer_key(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return core::fail(core::ErrorCode::kPermissionDenied, "the peer presented no certificate");
  // On a client the chain includes the leaf; on a server it does not.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  const int extra = (chain ? sk_X509_num(chain) : 0) - (SSL_is_server(ssl) ? 0 : 1);
  if (extra > 0) return core::fail(core::ErrorCode::kPermissionDenied, "the peer presented a certificate chain, not one certificate");
  return certificate_key(cert);
}

core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const core::Ed25519SecretKey& key) {
  return make_context(key, true);
}

core::Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(const core::Ed25519SecretKey& key) {
  return make_context(key, false);
}

void set_client_sni(SSL* ssl) { SSL_set_tlsext_host_name(ssl, "dummy"); }

}  // namespace mpc::tls
