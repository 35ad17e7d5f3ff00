#include "threshold/frost.h"
#include "support/fixtures.h"
#include "support/threshold/frost_testing.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <map>

#include "core/bytes.h"

namespace mpc::threshold {
namespace {

using core::Bytes;

template <std::size_t N>
std::array<std::uint8_t, N> from_hex(const std::string& hex) {
  auto b = core::hex_decode(hex);
  EXPECT_TRUE(b) << hex;
  EXPECT_EQ(b->size(), N) << hex;
  std::array<std::uint8_t, N> out{};
  if (b && b->size() == N) std::copy(b->begin(), b->end(), out.begin());
  return out;
}

std::string hex(core::ByteView b) { return core::hex_encode(b); }

SecretScalar secret_from_hex(const std::string& h) {
  auto s = SecretScalar::from_hex(h);
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : SecretScalar();
}

using testing::openssl_verify;

// The RFC 9591 FROST(Ed25519, SHA-512) vectors, parsed.
struct Vectors {
  Scalar group_secret{};
  Element group_key{};
  Bytes message;
  std::map<Identifier, std::string> shares;  // hex
  std::vector<Identifier> participants;
  struct Round {
    std::array<std::uint8_t, 32> hiding_randomness, binding_randomness;
    Scalar hiding_nonce, binding_nonce;
    Element hiding_commitment, binding_commitment;
    Bytes binding_factor_input;
    Scalar binding_factor;
    Scalar sig_share;
  };
  std::map<Identifier, Round> rounds;
  Signature sig{};
};

Vectors load_vectors() {
  std::ifstream in(mpc::testing::fixture_path("frost/frost-ed25519-sha512.json"));
  EXPECT_TRUE(in) << "fixture frost/frost-ed25519-sha512.json not found";
  Vectors v;
  if (!in) return v;
  auto j = model::json::parse(in);
  v.group_secret = from_hex<32>(j["inputs"]["group_secret_key"]);
  v.group_key = from_hex<32>(j["inputs"]["group_public_key"]);
  v.message = *core::hex_decode(j["inputs"]["message"].get<std::string>());
  for (const auto& s : j["inputs"]["participant_shares"]) {
    v.shares[s["identifier"].get<Identifier>()] = s["participant_share"].get<std::string>();
  }
  for (const auto& id : j["inputs"]["participant_list"]) v.participants.push_back(id.get<Identifier>());
  for (const auto& o : j["round_one_outputs"]["outputs"]) {
    auto& r = v.rounds[o["identifier"].get<Identifier>()];
    r.hiding_randomness = from_hex<32>(o["hiding_nonce_randomness"]);
    r.binding_randomness = from_hex<32>(o["binding_nonce_randomness"]);
    r.hiding_nonce = from_hex<32>(o["hiding_nonce"]);
    r.binding_nonce = from_hex<32>(o["binding_nonce"]);
    r.hiding_commitment = from_hex<32>(o["hiding_nonce_commitment"]);
    r.binding_commitment = from_hex<32>(o["binding_nonce_commitment"]);
    r.binding_factor_input = *core::hex_decode(o["binding_factor_input"].get<std::string>());
    r.binding_factor = from_hex<32>(o["binding_factor"]);
  }
  for (const auto& o : j["round_two_outputs"]["outputs"]) {
    v.rounds[o["identifier"].get<Identifier>()].sig_share = from_hex<32>(o["sig_share"]);
  }
  v.sig = from_hex<64>(j["final_output"]["sig"]);
  return v;
}

CommitmentList commitment_list(const Vectors& v) {
  CommitmentList list;
  for (Identifier id : v.participants) {
    list.push_back(NonceCommitment{id, v.rounds.at(id).hiding_commitment, v.rounds.at(id).binding_commitment});
  }
  return list;
}


TEST(FrostVectors, GroupKeyIsTheSecretTimesGAndSharesInterpolateToIt) {
  const Vectors v = load_vectors();
  auto secret = SecretScalar::from_bytes(v.group_secret);
  ASSERT_TRUE(secret);
  auto pk = public_element(*secret);
  ASSERT_TRUE(pk);
  EXPECT_EQ(hex(*pk), hex(v.group_key));

  // sum of lambda_i * share_i over the signing set = the group secret.
  Scalar acc{};
  for (Identifier id : v.participants) {
    auto lambda = derive_interpolating_value(v.participants, id);
    ASSERT_TRUE(lambda) << lambda.error().message;
    SecretScalar share = secret_from_hex(v.shares.at(id));
    Scalar term;
    crypto_core_ed25519_scalar_mul(term.data(), lambda->data(), share.data());
    crypto_core_ed25519_scalar_add(acc.data(), acc.data(), term.data());
  }
  EXPECT_EQ(hex(acc), hex(v.group_secret));
}

TEST(FrostVectors, NoncesAndCommitmentsFromTheGivenRandomnessMatchBitForBit) {
  const Vectors v = load_vectors();
  ASSERT_EQ(v.rounds.size(), 2u);
  for (const auto& [id, r] : v.rounds) {
    SecretScalar share = secret_from_hex(v.shares.at(id));
    SecretScalar hiding = nonce_generate(r.hiding_randomness, share);
    SecretScalar binding = nonce_generate(r.binding_randomness, share);
    EXPECT_EQ(hex(hiding.view()), hex(r.hiding_nonce)) << "identifier " << id;
    EXPECT_EQ(hex(binding.view()), hex(r.binding_nonce)) << "identifier " << id;

    auto c = commit(share, r.hiding_randomness, r.binding_randomness);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(hex(c->nonces.hiding.view()), hex(r.hiding_nonce));
    EXPECT_EQ(hex(c->nonces.binding.view()), hex(r.binding_nonce));
    EXPECT_EQ(hex(c->hiding_commitment), hex(r.hiding_commitment)) << "identifier " << id;
    EXPECT_EQ(hex(c->binding_commitment), hex(r.binding_commitment)) << "identifier " << id;
  }
}

TEST(FrostVectors, BindingFactorInputsAndBindingFactorsMatchBitForBit) {
  const Vectors v = load_vectors();
  const CommitmentList list = commitment_list(v);
  const auto msg_hash = h4(v.message);
  const auto com_hash = h5(encode_group_commitment_list(list));
  for (Identifier id : v.participants) {
    Bytes input(v.group_key.begin(), v.group_key.end());
    input.insert(input.end(), msg_hash.begin(), msg_hash.end());
    input.insert(input.end(), com_hash.begin(), com_hash.end());
    const Scalar ids = identifier_scalar(id);
    input.insert(input.end(), ids.begin(), ids.end());
    EXPECT_EQ(hex(input), hex(v.rounds.at(id).binding_factor_input)) << "identifier " << id;
    EXPECT_EQ(hex(h1(input)), hex(v.rounds.at(id).binding_factor)) << "identifier " << id;
  }
  auto factors = compute_binding_factors(v.group_key, list, v.message);
  ASSERT_TRUE(factors) << factors.error().message;
  ASSERT_EQ(factors->size(), 2u);
  for (const auto& f : *factors) EXPECT_EQ(hex(f.factor), hex(v.rounds.at(f.identifier).binding_factor));
}

TEST(FrostVectors, SignatureSharesAndFinalSignatureMatchBitForBitAndVerifyWithOpenSsl) {
  const Vectors v = load_vectors();
  const CommitmentList list = commitment_list(v);
  std::vector<Scalar> shares;
  for (Identifier id : v.participants) {
    const auto& r = v.rounds.at(id);
    SecretScalar share = secret_from_hex(v.shares.at(id));
    auto c = commit(share, r.hiding_randomness, r.binding_randomness);
    ASSERT_TRUE(c);
    auto z = sign(id, share, v.group_key, c->nonces, v.message, list);
    ASSERT_TRUE(z) << z.error().message;
    EXPECT_EQ(hex(*z), hex(r.sig_share)) << "identifier " << id;
    EXPECT_TRUE(c->nonces.hiding.is_zero() && c->nonces.binding.is_zero()) << "nonces wiped after signing";
    shares.push_back(*z);

    auto pk_i = public_element(share);
    ASSERT_TRUE(pk_i);
    auto ok = verify_signature_share(id, *pk_i, *z, list, v.group_key, v.message);
    EXPECT_TRUE(ok) << ok.error().message;
  }
  auto sig = aggregate(list, v.message, v.group_key, shares);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(hex(*sig), hex(v.sig));
  EXPECT_TRUE(openssl_verify(v.group_key, v.message, *sig));
  Bytes other = v.message;
  other.push_back('!');
  EXPECT_FALSE(openssl_verify(v.group_key, other, *sig)) << "the OpenSSL check can fail";
}

TEST(FrostSign, UsedNoncesCannotSignAgain) {
  const Vectors v = load_vectors();
  const CommitmentList list = commitment_list(v);
  const auto& r = v.rounds.at(1);
  SecretScalar share = secret_from_hex(v.shares.at(1));
  auto c = commit(share, r.hiding_randomness, r.binding_randomness);
  ASSERT_TRUE(c);
  ASSERT_TRUE(sign(1, share, v.group_key, c->nonces, v.message, list));
  auto again = sign(1, share, v.group_key, c->nonces, v.message, list);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already used"), std::string::npos) << again.error().message;
}

TEST(FrostVerifyShare, TamperedShareAndShareFromAWrongSecretAreDetectedNamingTheIdentifier) {
  const Vectors v = load_vectors();
  const CommitmentList list = commitment_list(v);
  const auto& r3 = v.rounds.at(3);
  SecretScalar share3 = secret_from_hex(v.shares.at(3));
  auto pk3 = public_element(share3);
  ASSERT_TRUE(pk3);

  // The published share with 1 added (mod L).
  Scalar tampered = r3.sig_share;
  Scalar one{};
  one[0] = 1;
  crypto_core_ed25519_scalar_add(tampered.data(), tampered.data(), one.data());
  auto bad = verify_signature_share(3, *pk3, tampered, list, v.group_key, v.message);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_NE(bad.error().message.find("identifier 3"), std::string::npos) << bad.error().message;

  // Participant 3 signing with participant 2's share: its share is wrong.
  SecretScalar wrong = secret_from_hex(v.shares.at(2));
  auto c = commit(wrong, r3.hiding_randomness, r3.binding_randomness);
  ASSERT_TRUE(c);
  CommitmentList list2 = list;
  list2[1].hiding = c->hiding_commitment;
  list2[1].binding = c->binding_commitment;
  auto z = sign(3, wrong, v.group_key, c->nonces, v.message, list2);
  ASSERT_TRUE(z);
  auto bad2 = verify_signature_share(3, *pk3, *z, list2, v.group_key, v.message);
  ASSERT_FALSE(bad2);
  EXPECT_NE(bad2.error().message.find("identifier 3"), std::string::npos) << bad2.error().message;

  // The untampered one verifies; identifier 1's share does not pass as 3's.
  EXPECT_TRUE(verify_signature_share(3, *pk3, r3.sig_share, list, v.group_key, v.message));
  EXPECT_FALSE(verify_signature_share(3, *pk3, v.rounds.at(1).sig_share, list, v.group_key, v.message));
  // An identifier outside the list.
  auto outside = verify_signature_share(2, *pk3, r3.sig_share, list, v.group_key, v.message);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("identifier 2 is not in the commitment list"), std::string::npos);
}

TEST(FrostTweak, SigningWithTweakedSharesVerifiesUnderTheDerivedKeyWithOpenSsl) {
  const Vectors v = load_vectors();
  std::array<std::uint8_t, 32> tweak_bytes;
  for (std::size_t i = 0; i < 32; ++i) tweak_bytes[i] = static_cast<std::uint8_t>(0xa0 + i);  // >= L: reduced
  const Scalar t = tweak_scalar(tweak_bytes);
  EXPECT_NE(hex(t), hex(tweak_bytes)) << "a tweak above L is reduced";
  EXPECT_TRUE(deserialize_scalar(t)) << "the reduced tweak is canonical";

  auto derived = derive_public_key(v.group_key, t);
  ASSERT_TRUE(derived);
  // Y + t·G = (s + t)·G
  auto secret = SecretScalar::from_bytes(v.group_secret);
  ASSERT_TRUE(secret);
  auto direct = public_element(derive_signing_share(*secret, t));
  ASSERT_TRUE(direct);
  EXPECT_EQ(hex(*derived), hex(*direct));

  // Fresh nonces (the vectors' randomness, reused here for a different key).
  CommitmentList list;
  std::map<Identifier, CommitOutput> commits;
  std::map<Identifier, SecretScalar> tweaked;
  for (Identifier id : v.participants) {
    tweaked[id] = derive_signing_share(secret_from_hex(v.shares.at(id)), t);
    auto c = commit(tweaked[id], v.rounds.at(id).hiding_randomness, v.rounds.at(id).binding_randomness);
    ASSERT_TRUE(c);
    list.push_back(NonceCommitment{id, c->hiding_commitment, c->binding_commitment});
    commits.emplace(id, std::move(*c));
  }
  std::vector<Scalar> shares;
  for (Identifier id : v.participants) {
    auto z = sign(id, tweaked[id], *derived, commits.at(id).nonces, v.message, list);
    ASSERT_TRUE(z);
    auto pk_i = public_element(tweaked[id]);
    ASSERT_TRUE(pk_i);
    EXPECT_TRUE(verify_signature_share(id, *pk_i, *z, list, *derived, v.message));
    shares.push_back(*z);
  }
  auto sig = aggregate(list, v.message, *derived, shares);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(openssl_verify(*derived, v.message, *sig));
  EXPECT_FALSE(openssl_verify(v.group_key, v.message, *sig)) << "not under the untweaked key";

  // A zero tweak derives the group key itself.
  auto same = derive_public_key(v.group_key, Scalar{});
  ASSERT_TRUE(same);
  EXPECT_EQ(hex(*same), hex(v.group_key));
}

// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
constexpr const char* kOrderHex = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

TEST(FrostEncoding, ScalarsAtOrAboveTheOrderAreRefused) {
  auto l = from_hex<32>(kOrderHex);
  auto r = deserialize_scalar(l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not canonical"), std::string::npos) << r.error().message;
  auto below = l;
  below[0] -= 1;  // L - 1
  EXPECT_TRUE(deserialize_scalar(below));
  std::array<std::uint8_t, 32> ff;
  ff.fill(0xff);
  EXPECT_FALSE(deserialize_scalar(ff));
  EXPECT_FALSE(deserialize_scalar(Bytes(31, 0)));
  EXPECT_FALSE(SecretScalar::from_bytes(l));
  EXPECT_TRUE(deserialize_scalar(Bytes(32, 0))) << "zero is a canonical scalar";
}

TEST(FrostEncoding, InvalidElementsAreRefusedWithAReason) {
  // Identity (y = 1).
  Bytes identity(32, 0);
  identity[0] = 1;
  auto id = deserialize_element(identity);
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("identity"), std::string::npos);
  // Non-canonical: y = p = 2^255 - 19 (encodes y = 0 non-canonically).
  auto p = from_hex<32>("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_FALSE(deserialize_element(p));
  // A point of order 8.
  EXPECT_FALSE(deserialize_element(from_hex<32>("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")));
  // Order 2: (0, -1).
  auto order2 = from_hex<32>("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_FALSE(deserialize_element(order2));
  // Mixed order: G + (0, -1) is on the curve but outside the prime-order subgroup.
  Element g;
  Scalar one{};
  one[0] = 1;
  ASSERT_EQ(crypto_scalarmult_ed25519_base_noclamp(g.data(), one.data()), 0);
  EXPECT_TRUE(deserialize_element(g));
  Element mixed;
  ASSERT_EQ(crypto_core_ed25519_add(mixed.data(), g.data(), order2.data()), 0);
  auto m = deserialize_element(mixed);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("prime-order subgroup"), std::string::npos);
  // Not on the curve: some small y has no x; find one.
  bool found_off_curve = false;
  for (std::uint8_t y = 2; y < 50 && !found_off_curve; ++y) {
    Bytes e(32, 0);
    e[0] = y;
    unsigned char out[32];
    // crypto_core_ed25519_add refuses exactly the encodings that are not points.
    if (crypto_core_ed25519_add(out, e.data(), g.data()) != 0) {
      found_off_curve = true;
      EXPECT_FALSE(deserialize_element(e)) << "y = " << int(y);
    }
  }
  EXPECT_TRUE(found_off_curve);
  EXPECT_FALSE(deserialize_element(Bytes(33, 1)));
}

TEST(FrostInterpolation, RefusesAnIdentifierOutsideTheListRepeatsAndZero) {
  const std::vector<Identifier> list = {1, 3, 4};
  EXPECT_TRUE(derive_interpolating_value(list, 3));
  auto outside = derive_interpolating_value(list, 2);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("not in the participant list"), std::string::npos);
  const std::vector<Identifier> repeated = {1, 3, 3};
  EXPECT_FALSE(derive_interpolating_value(repeated, 1));
  const std::vector<Identifier> zero = {0, 1};
  EXPECT_FALSE(derive_interpolating_value(zero, 1));
  // Lagrange coefficients at 0 sum to 1.
  Scalar sum{};
  for (Identifier x : list) {
    auto l = derive_interpolating_value(list, x);
    ASSERT_TRUE(l);
    crypto_core_ed25519_scalar_add(sum.data(), sum.data(), l->data());
  }
  Scalar one{};
  one[0] = 1;
  EXPECT_EQ(hex(sum), hex(one));
}

TEST(FrostCommitmentList, UnsortedRepeatedEmptyOrZeroListsAreRefused) {
  const Vectors v = load_vectors();
  CommitmentList list = commitment_list(v);
  EXPECT_TRUE(check_commitment_list(list));
  CommitmentList reversed(list.rbegin(), list.rend());
  EXPECT_FALSE(compute_binding_factors(v.group_key, reversed, v.message));
  CommitmentList repeated = {list[0], list[0]};
  EXPECT_FALSE(check_commitment_list(repeated));
  EXPECT_FALSE(check_commitment_list({}));
  CommitmentList zero = list;
  zero[0].identifier = 0;
  EXPECT_FALSE(check_commitment_list(zero));
}

TEST(FrostIdentifiers, ParticipantPHasIdentifierPPlusOne) {
  EXPECT_EQ(*identifier_for_participant(0), 1u);
  EXPECT_EQ(*identifier_for_participant(41), 42u);
  EXPECT_FALSE(identifier_for_participant(UINT64_MAX));
  EXPECT_EQ(hex(identifier_scalar(0x0102)), "0201" + std::string(60, '0'));
}

TEST(FrostKeyPackage, BuiltFromAnEd25519KeyshareAndRefusingBadOnesWithoutEchoingTheShare) {
  const Vectors v = load_vectors();
  model::Keyshare k;
  k.kind = model::CurveKind::kEd25519;
  k.private_share = core::SecretString(v.shares.at(1));
  k.public_key = hex(v.group_key);
  auto kp = key_package_from_keyshare(k);
  ASSERT_TRUE(kp) << kp.error().message;
  EXPECT_EQ(hex(kp->group_key), hex(v.group_key));
  EXPECT_EQ(hex(kp->share.view()), v.shares.at(1));
  EXPECT_EQ(hex(kp->verifying_share), hex(*public_element(kp->share)));

  model::Keyshare secp = k.clone();
  secp.kind = model::CurveKind::kSecp256k1;
  auto e1 = key_package_from_keyshare(secp);
  ASSERT_FALSE(e1);
  EXPECT_NE(e1.error().message.find("Secp256k1"), std::string::npos) << e1.error().message;

  model::Keyshare not_hex = k.clone();
  std::string bad = v.shares.at(1);
  bad[10] = 'z';
  not_hex.private_share = core::SecretString(bad);
  auto e2 = key_package_from_keyshare(not_hex);
  ASSERT_FALSE(e2);
  EXPECT_NE(e2.error().message.find("private_share"), std::string::npos);
  EXPECT_EQ(e2.error().message.find(bad.substr(0, 10)), std::string::npos) << "the share is never echoed";

  model::Keyshare above = k.clone();
  above.private_share = core::SecretString(std::string(kOrderHex));
  auto e3 = key_package_from_keyshare(above);
  ASSERT_FALSE(e3);
  EXPECT_NE(e3.error().message.find("not canonical"), std::string::npos);

  model::Keyshare zero = k.clone();
  zero.private_share = core::SecretString(std::string(64, '0'));
  EXPECT_FALSE(key_package_from_keyshare(zero));

  model::Keyshare bad_key = k.clone();
  bad_key.public_key = "01" + std::string(62, '0');  // the identity
  auto e4 = key_package_from_keyshare(bad_key);
  ASSERT_FALSE(e4);
  EXPECT_NE(e4.error().message.find("public_key"), std::string::npos);
}

TEST(FrostSecretScalar, IsWipedWhenMovedFrom) {
  SecretScalar a = secret_from_hex(std::string(62, '0') + "07");
  SecretScalar b = std::move(a);
  EXPECT_TRUE(a.is_zero());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_FALSE(b.is_zero());
}

}  // namespace
}  // namespace mpc::threshold
