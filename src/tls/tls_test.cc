#include "tls/tls.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "core/bytes.h"
#include "core/file_util.h"
#include "support/tls/test_certs.h"

namespace mpc::tls {
namespace {

TEST(DummyIssuer, SeedIsTheReferenceFixtures) {
  auto pem = core::read_file(mpc::testing::fixture_path("reference/tls_dummy_issuer_key.pem"));
  ASSERT_TRUE(pem);
  std::string b64;
  std::istringstream in(*pem);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("-----", 0) != 0) b64 += line;
  auto der = core::base64_decode(b64);
  ASSERT_TRUE(der);
  ASSERT_GE(der->size(), 48u);
  EXPECT_TRUE(std::equal(dummy_issuer_seed().begin(), dummy_issuer_seed().end(), der->begin() + 16));
  // PKCS#8 v2 also carries the public key (its last 32 bytes): it must be the
  // one our seed derives, i.e. the offset really points at the seed.
  auto issuer = core::Ed25519SecretKey::from_seed(dummy_issuer_seed());
  ASSERT_TRUE(issuer);
  EXPECT_TRUE(std::equal(issuer->public_key().bytes.begin(), issuer->public_key().bytes.end(), der->end() - 32));
}

TEST(Certificate, HasTheReferenceShape) {
  auto key = core::Ed25519SecretKey::generate();
  auto c = make_certificate(key);
  ASSERT_TRUE(c) << c.error().message;
  X509* x = c->cert.get();
  EXPECT_EQ(X509_get_version(x), 2);  // v3
  auto spki = certificate_key(x);
  ASSERT_TRUE(spki);
  EXPECT_EQ(*spki, key.public_key());
  // Subject == issuer == CN "rcgen self signed cert" as a UTF8String.
  X509_NAME* subject = X509_get_subject_name(x);
  EXPECT_EQ(X509_NAME_cmp(subject, X509_get_issuer_name(x)), 0);
  ASSERT_EQ(X509_NAME_entry_count(subject), 1);
  ASSERT_EQ(X509_NAME_get_index_by_NID(subject, NID_commonName, -1), 0);
  ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, 0));
  EXPECT_EQ(ASN1_STRING_type(cn), V_ASN1_UTF8STRING);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)), ASN1_STRING_length(cn)), "rcgen self signed cert");
  // SAN DNS:dummy
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(sans, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(sans), 1);
  GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, 0);
  ASSERT_EQ(gn->type, GEN_DNS);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName))), "dummy");
  GENERAL_NAMES_free(sans);
  // Not a CA, and signed by the dummy issuer.
  EXPECT_EQ(X509_check_ca(x), 0);
  core::EvpPkeyPtr issuer(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, dummy_issuer_seed().data(), 32));
  EXPECT_EQ(X509_verify(x, issuer.get()), 1);
  core::EvpPkeyPtr other(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed().data(), 32));
  EXPECT_NE(X509_verify(x, other.get()), 1);
  EXPECT_NE(c->cert_pem().find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST(Certificate, SerialsDiffer) {
  auto key = core::Ed25519SecretKey::generate();
  auto a = make_certificate(key), b = make_certificate(key);
  ASSERT_TRUE(a && b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->cert.get()), X509_get0_serialNumber(b->cert.get())), 0);
}

// The certificate is written (twice per handshake) from the DER it was read
// back from, as a certificate loaded from a file is, not encoded field by
// field each time. Observable: a field changed in place, behind the
// certificate's back, does not reach what is written.
TEST(Certificate, IsWrittenFromItsDerNotEncodedAgain) {
  auto c = make_certificate(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(c);
  auto der = [&] {
    unsigned char* out = nullptr;
    const int n = i2d_X509(c->cert.get(), &out);
    std::string bytes(reinterpret_cast<const char*>(out), n > 0 ? static_cast<std::size_t>(n) : 0);
    OPENSSL_free(out);
    return bytes;
  };
  const std::string before = der();
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(X509_NAME_add_entry_by_txt(X509_get_subject_name(c->cert.get()), "O", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("changed in place"), -1, -1, 0),
            1);
  EXPECT_EQ(der(), before);
}

TEST(Context, IsTls13Only) {
  auto ctx = make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(ctx);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->native_handle()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version((*ctx)->native_handle()), TLS1_3_VERSION);
  EXPECT_NE(SSL_CTX_get_verify_mode((*ctx)->native_handle()) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 0);
}

TEST(Certificate, KeyOfANonEd25519CertificateIsRefused) {
  auto p256 = testing::p256_certificate();
  auto key = certificate_key(p256.cert.get());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, core::ErrorCode::kPermissionDenied);
}

TEST(Certificate, PemExportsLoadBack) {
  auto key = core::Ed25519SecretKey::generate();
  auto c = make_certificate(key);
  ASSERT_TRUE(c);
  const std::string cert_pem = c->cert_pem();
  core::BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  core::X509Ptr back(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(back);
  EXPECT_EQ(certificate_key(back.get()).value(), key.public_key());
  auto key_pem = c->key_pem();
  bio.reset(BIO_new_mem_buf(key_pem.reveal().data(), static_cast<int>(key_pem.reveal().size())));
  core::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(pkey);
  EXPECT_EQ(X509_check_private_key(back.get(), pkey.get()), 1);
}

TEST(PeerKey, NoHandshakeMeansNoKey) {
  auto ctx = make_client_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(ctx);
  SSL* ssl = SSL_new((*ctx)->native_handle());
  auto key = peer_key(ssl);
  SSL_free(ssl);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, core::ErrorCode::kPermissionDenied);
}

// One TLS connection over 127.0.0.1 between two contexts, both handshakes
// driven on one io_context, bounded by a deadline.
struct Side {
  bool done = false;
  boost::system::error_code ec;
  std::optional<core::Result<core::Ed25519PublicKey>> peer;
  int version = 0;
  std::string sni;
  unsigned alpn_len = 0;
};
struct Handshake {
  Side server, client;
};

Handshake handshake(boost::asio::ssl::context& server_ctx, boost::asio::ssl::context& client_ctx) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ssl::stream<tcp::socket> server(ioc, server_ctx), client(ioc, client_ctx);
  set_client_sni(client.native_handle());
  Handshake out;
  auto finish = [](Side& side, SSL* ssl, boost::system::error_code ec) {
    side.done = true;
    side.ec = ec;
    if (ec) return;
    side.peer = peer_key(ssl);
    side.version = SSL_version(ssl);
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) side.sni = name;
    const unsigned char* alpn = nullptr;
    SSL_get0_alpn_selected(ssl, &alpn, &side.alpn_len);
  };
  acceptor.async_accept(server.next_layer(), [&](boost::system::error_code ec) {
    if (ec) return finish(out.server, nullptr, ec);
    server.async_handshake(asio::ssl::stream_base::server,
                           [&](boost::system::error_code e) { finish(out.server, server.native_handle(), e); });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    if (ec) return finish(out.client, nullptr, ec);
    client.async_handshake(asio::ssl::stream_base::client,
                           [&](boost::system::error_code e) { finish(out.client, client.native_handle(), e); });
  });
  ioc.run_for(std::chrono::seconds(5));
  return out;
}

TEST(Handshake, EachSideExtractsTheOthersKey) {
  auto server_key = core::Ed25519SecretKey::generate(), client_key = core::Ed25519SecretKey::generate();
  auto server_ctx = make_server_context(server_key);
  auto client_ctx = make_client_context(client_key);
  ASSERT_TRUE(server_ctx && client_ctx);
  auto h = handshake(**server_ctx, **client_ctx);
  ASSERT_TRUE(h.server.done && h.client.done);
  ASSERT_FALSE(h.server.ec) << h.server.ec.message();
  ASSERT_FALSE(h.client.ec) << h.client.ec.message();
  ASSERT_TRUE(h.server.peer->has_value()) << h.server.peer->error().message;
  ASSERT_TRUE(h.client.peer->has_value()) << h.client.peer->error().message;
  EXPECT_EQ(**h.server.peer, client_key.public_key());
  EXPECT_EQ(**h.client.peer, server_key.public_key());
  EXPECT_EQ(h.server.version, TLS1_3_VERSION);
  EXPECT_EQ(h.client.version, TLS1_3_VERSION);
  EXPECT_EQ(h.server.sni, "dummy");
  EXPECT_EQ(h.server.alpn_len, 0u);
}

TEST(Handshake, ServerRequiresAClientCertificate) {
  auto server_ctx = make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(server_ctx);
  auto no_cert = testing::foreign_context(false, nullptr);
  auto h = handshake(**server_ctx, *no_cert);
  ASSERT_TRUE(h.server.done);
  ASSERT_TRUE(h.server.ec);
  EXPECT_EQ(ERR_GET_REASON(static_cast<unsigned long>(h.server.ec.value())), SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
      << h.server.ec.message();
}

TEST(Handshake, ServerRefusesTls12) {
  auto server_ctx = make_server_context(core::Ed25519SecretKey::generate());
  auto cert = make_certificate(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(server_ctx && cert);
  auto tls12 = testing::foreign_context(false, &*cert, TLS1_2_VERSION, TLS1_2_VERSION);
  auto h = handshake(**server_ctx, *tls12);
  ASSERT_TRUE(h.server.done && h.client.done);
  EXPECT_TRUE(h.server.ec);
  EXPECT_TRUE(h.client.ec);
}

TEST(Handshake, ServerRefusesAClientCertificateChain) {
  auto server_ctx = make_server_context(core::Ed25519SecretKey::generate());
  auto client_ctx = make_client_context(core::Ed25519SecretKey::generate());
  auto extra = make_certificate(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(server_ctx && client_ctx && extra);
  testing::add_chain_certificate(**client_ctx, *extra);
  auto h = handshake(**server_ctx, **client_ctx);
  ASSERT_TRUE(h.server.done);
  ASSERT_TRUE(h.server.ec);
  EXPECT_NE(h.server.ec.message().find("certificate verify failed"), std::string::npos) << h.server.ec.message();
}

TEST(Handshake, ClientRefusesAServerCertificateChain) {
  auto server_ctx = make_server_context(core::Ed25519SecretKey::generate());
  auto client_ctx = make_client_context(core::Ed25519SecretKey::generate());
  auto extra = make_certificate(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(server_ctx && client_ctx && extra);
  testing::add_chain_certificate(**server_ctx, *extra);
  auto h = handshake(**server_ctx, **client_ctx);
  ASSERT_TRUE(h.client.done);
  ASSERT_TRUE(h.client.ec);
  EXPECT_NE(h.client.ec.message().find("certificate verify failed"), std::string::npos) << h.client.ec.message();
}

// OpenSSL builds a chain for a context's own certificate before every
// handshake unless told not to: an X509_verify_cert against the context's
// store, per connection, only to find no issuer (every certificate is
// issued by the dummy issuer, whom no store holds, and peers refuse chains
// anyway). The store's own verify callback sees each such build; the
// verification of the peer's certificate runs under the context's
// callback instead. So a handshake must not reach the store's callback.
std::atomic<int> g_own_chain_builds{0};
int count_own_chain_build(int ok, X509_STORE_CTX*) {
  ++g_own_chain_builds;
  return ok;
}

TEST(Handshake, NoChainIsBuiltForTheOwnCertificate) {
  auto server_key = core::Ed25519SecretKey::generate(), client_key = core::Ed25519SecretKey::generate();
  auto server_ctx = make_server_context(server_key);
  auto client_ctx = make_client_context(client_key);
  ASSERT_TRUE(server_ctx && client_ctx);
  for (auto* ctx : {&**server_ctx, &**client_ctx})
    X509_STORE_set_verify_cb(SSL_CTX_get_cert_store(ctx->native_handle()), count_own_chain_build);
  g_own_chain_builds = 0;
  auto h = handshake(**server_ctx, **client_ctx);
  ASSERT_TRUE(h.server.done && h.client.done);
  ASSERT_FALSE(h.server.ec) << h.server.ec.message();
  ASSERT_FALSE(h.client.ec) << h.client.ec.message();
  EXPECT_EQ(**h.server.peer, client_key.public_key());
  EXPECT_EQ(**h.client.peer, server_key.public_key());
  EXPECT_EQ(g_own_chain_builds.load(), 0);
}

TEST(Handshake, ANonEd25519ClientKeyIsNotAnIdentity) {
  // The handshake itself succeeds (any certificate is accepted); the key
  // extraction that follows it refuses.
  auto server_ctx = make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(server_ctx);
  auto p256 = testing::p256_certificate();
  auto client = testing::foreign_context(false, &p256);
  auto h = handshake(**server_ctx, *client);
  ASSERT_TRUE(h.server.done);
  ASSERT_FALSE(h.server.ec) << h.server.ec.message();
  ASSERT_TRUE(h.server.peer);
  EXPECT_FALSE(h.server.peer->has_value());
}

}  // namespace
}  // namespace mpc::tls
