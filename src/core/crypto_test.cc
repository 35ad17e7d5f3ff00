#include "core/crypto.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

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

// Seals `plain` as one message of `sealer`, encrypting it in pieces of `piece` bytes.
Bytes seal_in_pieces(AesGcmSealer& sealer, ByteView plain, std::size_t piece) {
  auto message = sealer.begin();
  EXPECT_TRUE(message);
  Bytes out(message->nonce().begin(), message->nonce().end());
  for (std::size_t at = 0; at < plain.size(); at += piece) {
    const std::size_t n = std::min(piece, plain.size() - at);
    Bytes part(n);
    EXPECT_TRUE(message->encrypt(plain.subspan(at, n), part.data()));
    out.insert(out.end(), part.begin(), part.end());
  }
  auto tag = message->tag();
  EXPECT_TRUE(tag);
  out.insert(out.end(), tag->begin(), tag->end());
  return out;
}

TEST(AesGcmSealer, SealsWhatAesGcmDecryptOpensForBothKeySizesInAnyPieces) {
  for (std::size_t n : {16u, 32u}) {
    SecretBytes key(random_bytes(n));
    auto sealer = AesGcmSealer::make(key);
    ASSERT_TRUE(sealer);
    const Bytes plain = random_bytes(1000);
    for (std::size_t piece : {1u, 15u, 16u, 17u, 999u, 1000u}) {
      const Bytes sealed = seal_in_pieces(**sealer, plain, piece);
      ASSERT_EQ(sealed.size(), 12 + plain.size() + 16);
      auto opened = aes_gcm_decrypt(key, sealed);
      ASSERT_TRUE(opened) << "key " << n << " bytes, pieces of " << piece << ": " << opened.error().message;
      EXPECT_EQ(Bytes(opened->view().begin(), opened->view().end()), plain);
    }
    const Bytes empty_message = seal_in_pieces(**sealer, {}, 1);
    ASSERT_TRUE(aes_gcm_decrypt(key, empty_message));
    EXPECT_EQ(aes_gcm_decrypt(key, empty_message)->size(), 0u);
  }
}

TEST(AesGcmSealer, EveryMessageHasItsOwnNonceAcrossBatchesAndReusedContexts) {
  SecretBytes key(random_bytes(32));
  auto sealer = *AesGcmSealer::make(key);
  std::set<Bytes> nonces;
  const std::size_t count = 3 * AesGcmSealer::kNonceBatch + 7;
  for (std::size_t i = 0; i < count; ++i) {
    const Bytes sealed = seal_in_pieces(*sealer, as_bytes("share " + std::to_string(i)), 4);
    nonces.insert(Bytes(sealed.begin(), sealed.begin() + 12));
    ASSERT_EQ(to_string(aes_gcm_decrypt(key, sealed)->view()), "share " + std::to_string(i));
  }
  EXPECT_EQ(nonces.size(), count);
}

TEST(AesGcmSealer, MessagesInterleavedOrAbandonedDoNotDisturbEachOther) {
  SecretBytes key(random_bytes(32));
  auto sealer = *AesGcmSealer::make(key);
  {
    auto abandoned = sealer->begin();
    ASSERT_TRUE(abandoned);
    std::uint8_t out[5];
    ASSERT_TRUE(abandoned->encrypt(as_bytes("hello"), out));
  }  // its context goes back to the pool mid-message
  auto a = sealer->begin();
  auto b = sealer->begin();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->nonce(), b->nonce());
  Bytes sealed_a(a->nonce().begin(), a->nonce().end()), sealed_b(b->nonce().begin(), b->nonce().end());
  for (const std::string piece : {"alpha ", "beta ", "gamma"}) {
    Bytes out_a(piece.size()), out_b(piece.size() + 1);
    ASSERT_TRUE(a->encrypt(as_bytes(piece), out_a.data()));
    ASSERT_TRUE(b->encrypt(as_bytes(piece + "!"), out_b.data()));
    sealed_a.insert(sealed_a.end(), out_a.begin(), out_a.end());
    sealed_b.insert(sealed_b.end(), out_b.begin(), out_b.end());
  }
  auto tag_b = b->tag();
  auto tag_a = a->tag();
  ASSERT_TRUE(tag_a && tag_b);
  sealed_a.insert(sealed_a.end(), tag_a->begin(), tag_a->end());
  sealed_b.insert(sealed_b.end(), tag_b->begin(), tag_b->end());
  EXPECT_EQ(to_string(aes_gcm_decrypt(key, sealed_a)->view()), "alpha beta gamma");
  EXPECT_EQ(to_string(aes_gcm_decrypt(key, sealed_b)->view()), "alpha !beta !gamma!");
  // A finished message refuses more; a changed byte does not open.
  std::uint8_t out[1];
  EXPECT_FALSE(a->encrypt(as_bytes("x"), out));
  EXPECT_FALSE(a->tag());
  sealed_a.back() ^= 1;
  EXPECT_EQ(aes_gcm_decrypt(key, sealed_a).error().code, ErrorCode::kPermissionDenied);
}

TEST(AesGcmSealer, ServesManyThreadsAtOnce) {
  SecretBytes key(random_bytes(16));
  auto sealer = *AesGcmSealer::make(key);
  constexpr int kThreads = 4, kEach = 300;
  std::vector<std::vector<Bytes>> sealed(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) sealed[t].push_back(seal_in_pieces(*sealer, as_bytes("t" + std::to_string(t)), 1));
    });
  for (auto& th : threads) th.join();
  std::set<Bytes> nonces;
  for (int t = 0; t < kThreads; ++t)
    for (const auto& s : sealed[t]) {
      nonces.insert(Bytes(s.begin(), s.begin() + 12));
      ASSERT_EQ(to_string(aes_gcm_decrypt(key, s)->view()), "t" + std::to_string(t));
    }
  EXPECT_EQ(nonces.size(), static_cast<std::size_t>(kThreads * kEach));
}

TEST(AesGcmSealer, RefusesAKeyOfAnotherSize) {
  auto sealer = AesGcmSealer::make(SecretBytes(random_bytes(24)));
  ASSERT_FALSE(sealer);
  EXPECT_EQ(sealer.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(sealer.error().message.find("24"), std::string::npos);
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
