#include "tls/tls.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "core/bytes.h"
#include "core/file_util.h"

namespace mpc::tls {
namespace {

TEST(DummyIssuer, SeedIsTheReferenceFixtures) {
  auto pem = core::read_file(std::string(MPC_SHARED_DIR_DEFAULT) + "/fixtures/reference/tls_dummy_issuer_key.pem");
  ASSERT_TRUE(pem);
  std::string b64;
  std::istringstream in(*pem);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("-----", 0) != 0) b64 += line;
  auto der = core::base64_decode(b64);
  ASSERT_TRUE(der);
  ASSERT_GE(der->size(), 48u);
  EXPECT_TRUE(std::equal(dummy_issuer_seed().begin(), dummy_issuer_seed().end(), der->begin() + 16));
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
  PkeyPtr issuer(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, dummy_issuer_seed().data(), 32));
  EXPECT_EQ(X509_verify(x, issuer.get()), 1);
  PkeyPtr other(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed().data(), 32));
  EXPECT_NE(X509_verify(x, other.get()), 1);
  EXPECT_NE(c->cert_pem().find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST(Certificate, SerialsDiffer) {
  auto key = core::Ed25519SecretKey::generate();
  auto a = make_certificate(key), b = make_certificate(key);
  ASSERT_TRUE(a && b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->cert.get()), X509_get0_serialNumber(b->cert.get())), 0);
}

TEST(Context, IsTls13Only) {
  auto ctx = make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(ctx);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->native_handle()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version((*ctx)->native_handle()), TLS1_3_VERSION);
  EXPECT_NE(SSL_CTX_get_verify_mode((*ctx)->native_handle()) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 0);
}

}  // namespace
}  // namespace mpc::tls
