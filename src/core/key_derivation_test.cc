#include "core/key_derivation.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "core/near_key.h"

namespace mpc::core {
namespace {

using json = nlohmann::json;

Bytes unhex(std::string_view s) { return *hex_decode(s); }

template <std::size_t N>
std::array<std::uint8_t, N> unhex_array(std::string_view s) {
  const Bytes b = unhex(s);
  std::array<std::uint8_t, N> out{};
  EXPECT_EQ(b.size(), N);
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

// The random bytes of the reference's "has not changed" key-derivation tests
// (crates/contract/src/crypto_shared/kdf.rs): the first 32 draws of
// rand 0.8's StdRng (ChaCha12) seeded with [42; 32], each u32 truncated to a
// byte. Computed once, offline, with a ChaCha implementation checked against
// ChaCha20; the derived keys below (the reference's snapshots) confirm them.
constexpr std::string_view kReferenceRandomBytes = "1be2d390d2a3b5c70752bdd3fd3b7151f064cd7ca05322c010d2ef76727fce31";

TEST(KeyDerivation, DeriveTweakMatchesTheReferenceSnapshot) {
  // crates/near-mpc-crypto-types/src/snapshots/..._derive_tweak__has_not_changed.snap
  struct Vector {
    const char* account;
    const char* path;
    const char* tweak;
  };
  const Vector vectors[] = {
      {"dwefqwg", "frwewegwegweg", "ad2d6fc1f445a1b43830415e7e6e3d03cd077673047848a085f130c24f53ee00"},
      {"dwefqwg", "fwei2.3f230", "5f76eba48a20e3dd355e38f512c142ab8c8da4999f6b32ecd326d227b44ac05a"},
      {"dwefqwg", "f23fjwef8232", "d133f73abcb3c7cb944dcc0dd3bf72dd89fdc3cf988c9f025af571a205c9b730"},
      {"dwefqwg", "fwefwo23fewfw", "3dd0192c45be59eee3dd0ba62776864245f7aac29514314b80baab2057453ec7"},
      {"qfweqwgwegqw", "frwewegwegweg", "510cd39f09b3c1bdc1fd655ce57ab29eb20dfce647584727fcca0e483163a8d0"},
      {"qfweqwgwegqw", "fwei2.3f230", "9cf7f40ab14bc5dd6feee48122b3d85f58461bd595e436fac186b8fa384f3048"},
      {"qfweqwgwegqw", "f23fjwef8232", "f53f5cb5c6902ee079681013b452f1908922f48fd668ad6ca522bd49842bf72a"},
      {"qfweqwgwegqw", "fwefwo23fewfw", "79051ad14a62552ee9da3fb813813a9d2f2fa8e1549e5f4c658254052562e18f"},
      {"fqwerijqw385", "frwewegwegweg", "f91edb212a03607ab61ce79f54e38901af6d9ff8709593f2d303e590691c26a6"},
      {"fqwerijqw385", "fwei2.3f230", "dfb60b3ba4348d3d787aa1af912910a4ccc2fb34e92c010fdae6730f4fab0734"},
      {"fqwerijqw385", "f23fjwef8232", "353862e7968f7f058a4f0498afbbcd504b6621690dfb3118878a7a6502e22e0e"},
      {"fqwerijqw385", "fwefwo23fewfw", "ac05f6320b0ed20f9f18a3531c571db237f41ab9b31203598bd8239631cb040f"},
      {"fnwef0942534", "frwewegwegweg", "7571fcaad0445387087ebcde589540e80926cfd08144aa3f45bc78b8683d06c3"},
      {"fnwef0942534", "fwei2.3f230", "74f118cfd013dc109848cfc5e0f963e1781dcbb095ae6429623007ccf59b6248"},
      {"fnwef0942534", "f23fjwef8232", "874bdff117d6d90c0eb5cd7a181e7f20d99abfaa04f503e97867ec08f6796f96"},
      {"fnwef0942534", "fwefwo23fewfw", "91da4d8973ea3ccaad9c7b71cb81fa512c4cc939c5157cdbf6a9605d3d1ce4a2"},
  };
  for (const auto& v : vectors) {
    EXPECT_EQ(hex_encode(derive_tweak(v.account, v.path)), v.tweak) << v.account << "," << v.path;
  }
}

TEST(KeyDerivation, DeriveTweakSeparatesAccountAndPathAndAcceptsAnEmptyPath) {
  // The comma ends the account id (which cannot hold one), so moving
  // characters between account and path changes the tweak.
  EXPECT_NE(derive_tweak("alice.near", "x"), derive_tweak("alice.nea", "rx"));
  EXPECT_NE(derive_tweak("alice.near", ""), derive_tweak("bob.near", ""));
  // The prefix, the account, a comma, the path: SHA3-256 of exactly that.
  const std::string text = std::string(kTweakDerivationPrefix) + "alice.near,";
  Tweak expected{};
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(text.data(), text.size(), expected.data(), &len, EVP_sha3_256(), nullptr), 1);
  EXPECT_EQ(derive_tweak("alice.near", ""), expected);
}

TEST(KeyDerivation, DerivedEd25519KeyMatchesTheReferenceSnapshot) {
  // derive_public_key_edwards_point_ed25519_has_not_changed: group =
  // (random bytes mod L)·G, tweak = derive_tweak("hello", "my-path").
  const SecretBytes group_secret(unhex(kReferenceRandomBytes));
  auto group = ed25519_public_key_of_scalar(group_secret);
  ASSERT_TRUE(group) << group.error().message;
  auto derived = derive_ed25519_public_key(*group, derive_tweak("hello", "my-path"));
  ASSERT_TRUE(derived) << derived.error().message;
  const std::array<std::uint8_t, 32> snapshot = {20,  165, 244, 0,   43, 136, 109, 255, 211, 150, 44,
                                                 37,  42,  71,  95,  241, 113, 73, 238, 74,  164, 246,
                                                 4,   148, 6,   194, 129, 124, 185, 161, 106, 170};
  EXPECT_EQ(derived->bytes, snapshot);
}

TEST(KeyDerivation, DerivedSecp256k1KeyMatchesTheReferenceSnapshot) {
  // derive_key_secp256k1_has_not_changed: group = (random bytes, big-endian)·G
  // (the point below, computed with Python's cryptography package).
  Secp256k1PublicKey group{unhex_array<64>(
      "77c1ff8a2593f5cbe17dd6f05d4fe21f9f3393d90d47cc67f0cf33593e2436e4"
      "34af6b6ea1bcdb3ca31808472fdda9bb66ab1db74c91da3c7f0c95509adeea3c")};
  auto derived = derive_secp256k1_public_key(group, derive_tweak("hello", "my-path"));
  ASSERT_TRUE(derived) << derived.error().message;
  EXPECT_EQ(NearPublicKey{*derived}.to_string(),
            "secp256k1:4zvzanBjPrvRWAr3mjdPX9sSkS8GZTZ11L6V2pcAbmHRd3HHbTyboHdWauExDmHrEoWnbhDkUwnzVEa8hg52C55p");
}

TEST(KeyDerivation, Secp256k1TweakAtOrAboveTheOrderIsRefused) {
  Secp256k1PublicKey group{unhex_array<64>(
      "77c1ff8a2593f5cbe17dd6f05d4fe21f9f3393d90d47cc67f0cf33593e2436e4"
      "34af6b6ea1bcdb3ca31808472fdda9bb66ab1db74c91da3c7f0c95509adeea3c")};
  const Tweak order = unhex_array<32>("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  auto refused = derive_secp256k1_public_key(group, order);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "The provided tweak is not on the curve of the public key.");
  Tweak below = order;
  below[31] -= 1;
  EXPECT_TRUE(derive_secp256k1_public_key(group, below));
}

TEST(KeyDerivation, Secp256k1GroupKeyOffTheCurveIsRefused) {
  Secp256k1PublicKey off{};
  off.bytes[31] = 1;  // (1, 0) is not on y^2 = x^3 + 7
  auto refused = derive_secp256k1_public_key(off, derive_tweak("a.near", "p"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("not a point of secp256k1"), std::string::npos);
}

TEST(KeyDerivation, Ed25519GroupKeyThatIsNoPrimeOrderPointIsRefused) {
  Ed25519PublicKey identity{};
  identity.bytes[0] = 1;  // (0, 1): small order
  Ed25519PublicKey not_a_point{};
  not_a_point.bytes.fill(0xff);  // non-canonical y
  Ed25519PublicKey off_curve{};
  off_curve.bytes[0] = 2;  // y = 2 has no x on the curve
  for (const auto& bad : {identity, not_a_point, off_curve}) {
    auto refused = derive_ed25519_public_key(bad, derive_tweak("a.near", "p"));
    ASSERT_FALSE(refused) << hex_encode(bad.bytes);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.error().message.find("not a valid Ed25519 point"), std::string::npos);
  }
}

TEST(KeyDerivation, DerivedSecretSignsForTheDerivedPublicKeyOnly) {
  const SecretBytes group_secret(unhex(kReferenceRandomBytes));
  auto group = ed25519_public_key_of_scalar(group_secret);
  ASSERT_TRUE(group);
  const Tweak tweak = derive_tweak("user.near", "solana-1");
  auto derived_public = derive_ed25519_public_key(*group, tweak);
  auto derived_secret = derive_ed25519_secret_scalar(group_secret, tweak);
  ASSERT_TRUE(derived_public);
  ASSERT_TRUE(derived_secret);
  auto public_of_secret = ed25519_public_key_of_scalar(*derived_secret);
  ASSERT_TRUE(public_of_secret);
  EXPECT_EQ(*public_of_secret, *derived_public);

  const Bytes message = unhex("0a0b0c");
  auto sig = ed25519_sign_with_scalar(*derived_secret, message);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(ed25519_verify(*derived_public, message, *sig));
  EXPECT_FALSE(ed25519_verify(*group, message, *sig));
  EXPECT_FALSE(ed25519_verify(*derived_public, unhex("0a0b0d"), *sig));
  // Deterministic: the same key and message give the same signature.
  EXPECT_EQ(*ed25519_sign_with_scalar(*derived_secret, message), *sig);
  // The empty message and a 1232-byte one (the reference's Eddsa bound) sign too.
  EXPECT_TRUE(ed25519_verify(*derived_public, {}, *ed25519_sign_with_scalar(*derived_secret, {})));
  const Bytes big(1232, 0x5a);
  EXPECT_TRUE(ed25519_verify(*derived_public, big, *ed25519_sign_with_scalar(*derived_secret, big)));
}

TEST(KeyDerivation, ScalarSigningAgreesWithRfc8032Keys) {
  // RFC 8032 test 1: the key scalar is SHA-512(seed)[0..32], clamped.
  const Bytes seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  std::array<std::uint8_t, 64> h{};
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(seed.data(), seed.size(), h.data(), &len, EVP_sha512(), nullptr), 1);
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const SecretBytes scalar(std::span<const std::uint8_t>(h.data(), 32));
  auto pk = ed25519_public_key_of_scalar(scalar);
  ASSERT_TRUE(pk);
  EXPECT_EQ(hex_encode(pk->bytes), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = ed25519_sign_with_scalar(scalar, as_bytes("message"));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(ed25519_verify(*pk, as_bytes("message"), *sig));
}

TEST(KeyDerivation, ScalarsOfTheWrongLengthOrZeroAreRefused) {
  const SecretBytes short_scalar(Bytes(31, 1));
  const SecretBytes zero(Bytes(32, 0));
  EXPECT_FALSE(ed25519_public_key_of_scalar(short_scalar));
  EXPECT_FALSE(ed25519_public_key_of_scalar(zero));
  EXPECT_FALSE(ed25519_sign_with_scalar(zero, as_bytes("m")));
  auto refused = derive_ed25519_secret_scalar(short_scalar, derive_tweak("a.near", "p"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "an Ed25519 key scalar must be 32 bytes");
}

TEST(KeyDerivation, TweakScalarIsReducedModL) {
  // L = 2^252 + 27742317777372353535851937790883648493; a tweak of L reduces to 0.
  const Tweak l = unhex_array<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  EXPECT_EQ(ed25519_tweak_scalar(l), (std::array<std::uint8_t, 32>{}));
  // A zero tweak scalar leaves the group key as it is.
  auto group = ed25519_public_key_of_scalar(SecretBytes(unhex(kReferenceRandomBytes)));
  ASSERT_TRUE(group);
  auto same = derive_ed25519_public_key(*group, l);
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, *group);
}

TEST(SignatureRequestJson, RoundTripsInTheReferenceShape) {
  const SignatureRequest r = SignatureRequest::make("user.near", "solana-1", SignPayload{SignPayload::Kind::kEddsa, unhex("0a0b")}, 1);
  const json j = to_json(r);
  EXPECT_EQ(j["payload"], (json{{"Eddsa", "0a0b"}}));
  EXPECT_EQ(j["domain_id"], 1);
  ASSERT_EQ(j["tweak"].size(), 32u);
  EXPECT_EQ(j["tweak"][0], derive_tweak("user.near", "solana-1")[0]);
  auto back = parse_signature_request(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, r);
  // Upper-case hex and unknown fields are read as serde reads them.
  json upper = j;
  upper["payload"] = {{"Eddsa", "0A0B"}};
  upper["extra"] = 1;
  EXPECT_EQ(*parse_signature_request(upper), r);
  // An empty Eddsa payload is a payload.
  json empty = j;
  empty["payload"] = {{"Eddsa", ""}};
  EXPECT_TRUE(parse_signature_request(empty));
}

TEST(SignatureRequestJson, RefusesMalformedRequestsNamingTheField) {
  const json good = to_json(SignatureRequest::make("a.near", "p", SignPayload{SignPayload::Kind::kEcdsa, Bytes(32, 7)}, 0));
  auto error_of = [](const json& j) {
    auto r = parse_signature_request(j);
    return r ? std::string("<parsed>") : r.error().message;
  };
  json j = good;
  j["payload"] = {{"Ecdsa", std::string(62, 'a')}};
  EXPECT_EQ(error_of(j), "request.payload.Ecdsa must be 32 bytes, got 31");
  j["payload"] = {{"Eddsa", std::string(2 * 1233, 'a')}};
  EXPECT_EQ(error_of(j), "request.payload.Eddsa must be at most 1232 bytes, got 1233");
  j["payload"] = {{"Eddsa", "zz"}};
  EXPECT_NE(error_of(j).find("request.payload.Eddsa is not hex"), std::string::npos);
  j["payload"] = {{"Eddsa", "00"}, {"Ecdsa", "00"}};
  EXPECT_EQ(error_of(j), "request.payload must be {\"Ecdsa\":\"<hex>\"} or {\"Eddsa\":\"<hex>\"}");
  j["payload"] = {{"Schnorr", "00"}};
  EXPECT_EQ(error_of(j), "request.payload must be {\"Ecdsa\":\"<hex>\"} or {\"Eddsa\":\"<hex>\"}");
  j = good;
  j["tweak"].erase(0);
  EXPECT_EQ(error_of(j), "request.tweak must be an array of 32 bytes");
  j = good;
  j["tweak"][3] = 256;
  EXPECT_EQ(error_of(j), "request.tweak[3] must be an integer 0..255");
  j = good;
  j["domain_id"] = -1;
  EXPECT_EQ(error_of(j), "request.domain_id must be an unsigned integer (u64)");
  j.erase("domain_id");
  EXPECT_EQ(error_of(j), "request.domain_id is missing");
  EXPECT_EQ(error_of(json::array()), "request must be an object {tweak, payload, domain_id}");
}

TEST(SignatureResponseJson, Ed25519AndSecp256k1ShapesRoundTrip) {
  Ed25519Signature sig{};
  for (std::size_t i = 0; i < sig.size(); ++i) sig[i] = static_cast<std::uint8_t>(i);
  const json ed = to_json(SignatureResponse{sig});
  EXPECT_EQ(ed["scheme"], "Ed25519");
  EXPECT_EQ(ed["signature"].size(), 64u);
  EXPECT_EQ(ed["signature"][63], 63);
  EXPECT_EQ(std::get<Ed25519Signature>(*parse_signature_response(ed)), sig);

  Secp256k1SignatureResponse k;
  k.big_r[0] = 2;
  k.s[31] = 9;
  k.recovery_id = 1;
  const json secp = to_json(SignatureResponse{k});
  EXPECT_EQ(secp, (json{{"scheme", "Secp256k1"},
                        {"big_r", {{"affine_point", "02" + std::string(64, '0')}}},
                        {"s", {{"scalar", std::string(62, '0') + "09"}}},
                        {"recovery_id", 1}}));
  EXPECT_EQ(std::get<Secp256k1SignatureResponse>(*parse_signature_response(secp)), k);

  const SignatureRequest r = SignatureRequest::make("a.near", "", SignPayload{SignPayload::Kind::kEddsa, {}}, 3);
  EXPECT_EQ(respond_args(r, SignatureResponse{sig}), (json{{"request", to_json(r)}, {"response", ed}}));
}

TEST(SignatureResponseJson, RefusesMalformedResponsesNamingTheField) {
  auto error_of = [](const json& j) {
    auto r = parse_signature_response(j);
    return r ? std::string("<parsed>") : r.error().message;
  };
  EXPECT_EQ(error_of(json{{"scheme", "Ed25519"}}), "response.signature is missing");
  EXPECT_EQ(error_of(json{{"scheme", "Ed25519"}, {"signature", json::array({1, 2})}}), "response.signature must be an array of 64 bytes");
  EXPECT_EQ(error_of(json{{"scheme", "Bls"}}), "response.scheme must be \"Ed25519\" or \"Secp256k1\", got \"Bls\"");
  EXPECT_EQ(error_of(json{{"signature", json::array()}}), "response.scheme must be \"Ed25519\" or \"Secp256k1\"");
  EXPECT_EQ(error_of(json{{"scheme", "Secp256k1"}, {"big_r", {{"affine_point", "02"}}}}),
            "response.big_r.affine_point must be 33 bytes, got 1");
}


TEST(Secp256k1Decompress, TheGeneratorDecompressesToItsPublishedCoordinates) {
  auto g = hex_decode("0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798");
  ASSERT_TRUE(g);
  auto xy = secp256k1_decompress(*g);
  ASSERT_TRUE(xy) << xy.error().message;
  EXPECT_EQ(hex_encode(xy->bytes),
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
            "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
  auto odd = *g;
  odd[0] = 0x03;  // the other Y
  auto neg = secp256k1_decompress(odd);
  ASSERT_TRUE(neg);
  EXPECT_NE(neg->bytes, xy->bytes);
  auto bad = *g;
  bad[0] = 0x04;
  EXPECT_FALSE(secp256k1_decompress(bad));
  EXPECT_FALSE(secp256k1_decompress(ByteView(g->data(), 32)));
  auto off = *g;
  off[32] ^= 1;  // x with no point on the curve, or another point: never the generator
  auto r = secp256k1_decompress(off);
  if (r) {
    EXPECT_NE(r->bytes, xy->bytes);
  }
}

}  // namespace
}  // namespace mpc::core
