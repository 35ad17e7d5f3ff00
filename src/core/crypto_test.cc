#include "core/crypto.h"

#include <gtest/gtest.h>

namespace mpc::core {
namespace {

Bytes unhex(std::string_view s) { return *hex_decode(s); }

TEST(Sha256, MatchesFipsVector) {
  EXPECT_EQ(hex_encode(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Ed25519, MatchesRfc8032Test1) {
  auto key = Ed25519SecretKey::from_seed(unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  ASSERT_TRUE(key);
  EXPECT_EQ(hex_encode(key->public_key().bytes),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = key->sign({});
  EXPECT_EQ(hex_encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(ed25519_verify(key->public_key(), {}, sig));
}

TEST(Ed25519, RejectsWrongMessageKeyAndSignatureLength) {
  auto key = Ed25519SecretKey::generate();
  auto other = Ed25519SecretKey::generate();
  auto sig = key.sign(as_bytes("message"));
  EXPECT_TRUE(ed25519_verify(key.public_key(), as_bytes("message"), sig));
  EXPECT_FALSE(ed25519_verify(key.public_key(), as_bytes("messagE"), sig));
  EXPECT_FALSE(ed25519_verify(other.public_key(), as_bytes("message"), sig));
  EXPECT_FALSE(ed25519_verify(key.public_key(), as_bytes("message"), ByteView(sig).first(63)));
}

TEST(Ed25519, KeypairBytesRoundTripAndMismatchIsRejected) {
  auto key = Ed25519SecretKey::generate();
  auto pair = key.keypair_bytes();
  auto back = Ed25519SecretKey::from_keypair_bytes(pair.view());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->public_key(), key.public_key());
  pair.data()[63] ^= 1;
  EXPECT_FALSE(Ed25519SecretKey::from_keypair_bytes(pair.view()));
  EXPECT_FALSE(Ed25519SecretKey::from_seed(Bytes(31)));
}

TEST(AesGcm, DecryptsTheGcmSpecTestCase14) {
  SecretBytes key(32);  // all zero
  Bytes sealed = unhex("000000000000000000000000"
                       "cea7403d4d606b6e074ec5d3baf39d18"
                       "d0d1c8a799996bf0265b98b5d48ab919");
  auto plain = aes_gcm_decrypt(key, sealed);
  ASSERT_TRUE(plain);
  EXPECT_EQ(hex_encode(plain->view()), "00000000000000000000000000000000");
}

TEST(AesGcm, RoundTripsWithFreshNoncesForBothKeySizes) {
  for (std::size_t n : {16u, 32u}) {
    SecretBytes key(random_bytes(n));
    auto a = aes_gcm_encrypt(key, as_bytes("secret shares"));
    auto b = aes_gcm_encrypt(key, as_bytes("secret shares"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->size(), 12 + 13 + 16u);
    EXPECT_NE(*a, *b);
    EXPECT_EQ(to_string(aes_gcm_decrypt(key, *a)->view()), "secret shares");
  }
}

TEST(AesGcm, WrongKeyTamperingAndTruncationFailCleanly) {
  SecretBytes key(random_bytes(32));
  SecretBytes wrong(random_bytes(32));
  auto sealed = *aes_gcm_encrypt(key, as_bytes("x"));
  EXPECT_EQ(aes_gcm_decrypt(wrong, sealed).error().code, ErrorCode::kPermissionDenied);
  auto tampered = sealed;
  tampered[12] ^= 1;
  EXPECT_EQ(aes_gcm_decrypt(key, tampered).error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(aes_gcm_decrypt(key, ByteView(sealed).first(20)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(aes_gcm_encrypt(SecretBytes(random_bytes(24)), as_bytes("x")));
}

TEST(Aes256KeyHex, AcceptsExactly64HexCharsOfEitherCase) {
  std::string k(64, 'a');
  k[0] = 'F';
  auto key = parse_aes256_key_hex(k, "BACKUP_ENCRYPTION_KEY_HEX");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ(key->data()[0], 0xfa);
}

TEST(Aes256KeyHex, RejectsBadFormsWithoutEchoingTheValue) {
  const std::string secretish = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  for (std::string bad : {secretish + "\n", secretish.substr(0, 62), secretish.substr(0, 63) + "g", std::string()}) {
    auto r = parse_aes256_key_hex(bad, "--backup-encryption-key-hex");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("--backup-encryption-key-hex"), std::string::npos);
    EXPECT_EQ(r.error().message.find("0123456789abcdef"), std::string::npos);
  }
  EXPECT_NE(parse_aes256_key_hex(secretish + "\n", "K").error().message.find("newline"), std::string::npos);
}

TEST(SecretBytes, MovesLeaveTheSourceEmptyAndCompareByContent) {
  SecretBytes a(random_bytes(8));
  SecretBytes c = a.clone();
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented behaviour
  EXPECT_TRUE(b == c);
}

}  // namespace
}  // namespace mpc::core
