// The end-to-end tests' independent secp256k1 checks (python_verify_secp256k1
// and openssl_verify_secp256k1, e2e_support.h) on signatures made here with
// OpenSSL's EVP signing: they accept a good signature in every form the
// network gives one, and refuse a bad one. No network is started.
//
// Keys and hashes are fresh random values (OpenSSL's generator, which takes
// no seed): every failure prints the case's public key, hash and response,
// which is all the verifiers see.
#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <set>

#include "core/crypto.h"
#include "core/key_derivation.h"
#include "core/near_key.h"
#include "core/openssl_ptr.h"
#include "e2e/e2e_support.h"

namespace mpc::e2e {
namespace {

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, core::OpensslFree<EVP_PKEY_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, core::OpensslFree<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, core::OpensslFree<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, core::OpensslFree<OSSL_PARAM_free>>;

std::array<std::uint8_t, 32> be32(const BIGNUM* v) {
  std::array<std::uint8_t, 32> out{};
  EXPECT_EQ(BN_bn2binpad(v, out.data(), static_cast<int>(out.size())), 32);
  return out;
}

// secp256k1 through OpenSSL: keys from scalars, EVP signing of a prehash,
// and the recovery id of a signature.
class Curve {
 public:
  Curve() {
    EXPECT_TRUE(group_ && ctx_);
  }
  const BIGNUM* n() const { return EC_GROUP_get0_order(group_.get()); }

  core::SecretBnPtr random_scalar() const {
    core::SecretBnPtr d(BN_secure_new());
    do {
      EXPECT_EQ(BN_priv_rand_range(d.get(), n()), 1);
    } while (BN_is_zero(d.get()));
    return d;
  }

  // (d + tweak) mod n: the secret of the key derive_secp256k1_public_key
  // derives from d·G.
  core::SecretBnPtr add_tweak(const BIGNUM* d, const core::Tweak& tweak) const {
    core::BnPtr t(BN_bin2bn(tweak.data(), static_cast<int>(tweak.size()), nullptr));
    core::SecretBnPtr out(BN_secure_new());
    EXPECT_EQ(BN_mod_add(out.get(), d, t.get(), n(), ctx_.get()), 1);
    return out;
  }

  core::Secp256k1PublicKey public_key(const BIGNUM* d) const {
    core::EcPointPtr p(EC_POINT_new(group_.get()));
    EXPECT_EQ(EC_POINT_mul(group_.get(), p.get(), d, nullptr, nullptr, ctx_.get()), 1);
    std::array<std::uint8_t, 65> enc{};
    EXPECT_EQ(EC_POINT_point2oct(group_.get(), p.get(), POINT_CONVERSION_UNCOMPRESSED, enc.data(), enc.size(), ctx_.get()), 65u);
    core::Secp256k1PublicKey out;
    std::copy(enc.begin() + 1, enc.end(), out.bytes.begin());
    return out;
  }

  std::array<std::uint8_t, 33> compressed(const core::Secp256k1PublicKey& key) const {
    std::array<std::uint8_t, 33> out{};
    out[0] = (key.bytes[63] & 1) != 0 ? 0x03 : 0x02;
    std::copy(key.bytes.begin(), key.bytes.begin() + 32, out.begin() + 1);
    return out;
  }

  // An ECDSA signature of the 32-byte prehash `hash` by d (OpenSSL's EVP
  // signing, its own nonce), as the contract returns one: low s, recovery id,
  // big_r = 02/03 by the recovery id's parity || r.
  core::Secp256k1SignatureResponse sign(const BIGNUM* d, const core::Bytes& hash) const {
    const auto pub = public_key(d);
    std::array<unsigned char, 65> point{};
    point[0] = 0x04;
    std::copy(pub.bytes.begin(), pub.bytes.end(), point.begin() + 1);
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    EXPECT_EQ(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0), 1);
    EXPECT_EQ(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
    EXPECT_EQ(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()), 1);
    ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr from(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    EXPECT_EQ(EVP_PKEY_fromdata_init(from.get()), 1);
    EXPECT_EQ(EVP_PKEY_fromdata(from.get(), &raw, EVP_PKEY_KEYPAIR, params.get()), 1);
    core::EvpPkeyPtr key(raw);

    PkeyCtxPtr signer(EVP_PKEY_CTX_new(key.get(), nullptr));
    EXPECT_EQ(EVP_PKEY_sign_init(signer.get()), 1);
    std::size_t len = 0;
    EXPECT_EQ(EVP_PKEY_sign(signer.get(), nullptr, &len, hash.data(), hash.size()), 1);
    core::Bytes der(len);
    EXPECT_EQ(EVP_PKEY_sign(signer.get(), der.data(), &len, hash.data(), hash.size()), 1);
    const unsigned char* p = der.data();
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    EXPECT_TRUE(sig);
    core::BnPtr r(BN_dup(ECDSA_SIG_get0_r(sig.get())));
    core::BnPtr s(BN_dup(ECDSA_SIG_get0_s(sig.get())));
    core::BnPtr half(BN_new());
    EXPECT_EQ(BN_rshift1(half.get(), n()), 1);
    if (BN_cmp(s.get(), half.get()) > 0) {  // low s
      EXPECT_EQ(BN_sub(s.get(), n(), s.get()), 1);
    }

    core::Secp256k1SignatureResponse out;
    const auto r_bytes = be32(r.get());
    std::copy(r_bytes.begin(), r_bytes.end(), out.big_r.begin() + 1);
    out.s = be32(s.get());
    out.recovery_id = recovery_id(r.get(), s.get(), hash, pub);
    out.big_r[0] = (out.recovery_id & 1) != 0 ? 0x03 : 0x02;
    return out;
  }

  // The recovery id b in {0, 1} for which r⁻¹(s·R − e·G) = pub, R the point
  // with x = r and y of parity b (R.x >= n, ids 2 and 3, has probability
  // about 2^-128 and is not made here).
  std::uint8_t recovery_id(const BIGNUM* r, const BIGNUM* s, const core::Bytes& hash, const core::Secp256k1PublicKey& pub) const {
    core::BnPtr e(BN_bin2bn(hash.data(), static_cast<int>(hash.size()), nullptr));
    core::BnPtr r_inv(BN_mod_inverse(nullptr, r, n(), ctx_.get()));
    core::BnPtr u1(BN_new()), u2(BN_new()), zero(BN_new());
    EXPECT_TRUE(r_inv && u1 && u2 && zero);
    BN_zero(zero.get());
    EXPECT_EQ(BN_nnmod(e.get(), e.get(), n(), ctx_.get()), 1);
    EXPECT_EQ(BN_mod_mul(u1.get(), e.get(), r_inv.get(), n(), ctx_.get()), 1);
    EXPECT_EQ(BN_mod_sub(u1.get(), zero.get(), u1.get(), n(), ctx_.get()), 1);
    EXPECT_EQ(BN_mod_mul(u2.get(), s, r_inv.get(), n(), ctx_.get()), 1);
    for (std::uint8_t b = 0; b < 2; ++b) {
      core::EcPointPtr big_r(EC_POINT_new(group_.get()));
      if (EC_POINT_set_compressed_coordinates(group_.get(), big_r.get(), r, b, ctx_.get()) != 1) continue;
      core::EcPointPtr q(EC_POINT_new(group_.get()));
      EXPECT_EQ(EC_POINT_mul(group_.get(), q.get(), u1.get(), big_r.get(), u2.get(), ctx_.get()), 1);
      std::array<std::uint8_t, 65> enc{};
      if (EC_POINT_point2oct(group_.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, enc.data(), enc.size(), ctx_.get()) != 65) continue;
      if (std::equal(pub.bytes.begin(), pub.bytes.end(), enc.begin() + 1)) return b;
    }
    ADD_FAILURE() << "no recovery id 0 or 1 recovers the signing key";
    return 0;
  }

 private:
  core::EcGroupPtr group_{EC_GROUP_new_by_curve_name(NID_secp256k1)};
  core::BnCtxPtr ctx_{BN_CTX_new()};
};

std::string response_json(const core::Secp256k1SignatureResponse& r) { return core::to_json(core::SignatureResponse{r}).dump(); }

std::string near_text(const core::Secp256k1PublicKey& key) { return core::NearPublicKey{key}.to_string(); }

struct Case {
  core::SecretBnPtr secret;
  core::Secp256k1PublicKey key;
  core::Bytes hash;
  core::Secp256k1SignatureResponse response;
  std::string describe() const {
    return "key " + near_text(key) + ", hash " + core::hex_encode(hash) + ", response " + response_json(response);
  }
};

Case make_case(const Curve& c) {
  Case k;
  k.secret = c.random_scalar();
  k.key = c.public_key(k.secret.get());
  k.hash = core::random_bytes(32);
  k.response = c.sign(k.secret.get(), k.hash);
  return k;
}

TEST(Secp256k1Check, GoodSignaturesPassBothVerifiersWhateverTheRecoveryId) {
  Curve c;
  std::set<int> recovery_ids;
  // Until both recovery ids were seen (each round is a coin toss; 64 rounds
  // miss one with probability 2^-63).
  for (int round = 0; round < 64 && (round < 4 || recovery_ids.size() < 2); ++round) {
    const Case k = make_case(c);
    SCOPED_TRACE(k.describe());
    recovery_ids.insert(k.response.recovery_id);
    // The forms of the derived key: the derived_public_key view's text, and
    // SEC1 hex compressed and uncompressed.
    EXPECT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(k.response)), 0);
    EXPECT_EQ(python_verify_secp256k1(core::hex_encode(c.compressed(k.key)), k.hash, response_json(k.response)), 0);
    EXPECT_EQ(python_verify_secp256k1("04" + core::hex_encode(k.key.bytes), k.hash, response_json(k.response)), 0);
    EXPECT_EQ(openssl_verify_secp256k1(k.key, k.hash, k.response), 0);
  }
  EXPECT_EQ(recovery_ids, (std::set<int>{0, 1}));
}

// A request's derived key as the contract's derived_public_key view prints
// it, and a signature by the derived secret (group secret + tweak).
TEST(Secp256k1Check, ASignatureByTheDerivedSecretVerifiesUnderTheDerivedPublicKeyText) {
  Curve c;
  const auto group_secret = c.random_scalar();
  const auto group = c.public_key(group_secret.get());
  const auto tweak = core::derive_tweak("alice.near", "m/44'/60'/0'/0/0");
  auto derived = core::derive_secp256k1_public_key(group, tweak);
  ASSERT_TRUE(derived) << derived.error().message;
  const auto derived_secret = c.add_tweak(group_secret.get(), tweak);
  ASSERT_EQ(c.public_key(derived_secret.get()), *derived);
  const auto hash = core::random_bytes(32);
  const auto response = c.sign(derived_secret.get(), hash);
  SCOPED_TRACE("group " + near_text(group) + ", derived " + near_text(*derived) + ", hash " + core::hex_encode(hash) +
               ", response " + response_json(response));
  EXPECT_EQ(python_verify_secp256k1(near_text(*derived), hash, response_json(response)), 0);
  EXPECT_EQ(openssl_verify_secp256k1(*derived, hash, response), 0);
  // Not under the group key itself.
  EXPECT_EQ(python_verify_secp256k1(near_text(group), hash, response_json(response)), 1);
  EXPECT_EQ(openssl_verify_secp256k1(group, hash, response), 1);
}

TEST(Secp256k1Check, AFlippedBitIsRefusedByBoth) {
  Curve c;
  const Case k = make_case(c);
  SCOPED_TRACE(k.describe());
  ASSERT_EQ(openssl_verify_secp256k1(k.key, k.hash, k.response), 0);
  for (std::size_t bit : {0u, 77u, 255u}) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    auto s_flipped = k.response;
    s_flipped.s[31 - bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(s_flipped)), 1);
    EXPECT_EQ(openssl_verify_secp256k1(k.key, k.hash, s_flipped), 1);

    auto r_flipped = k.response;
    r_flipped.big_r[32 - bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(r_flipped)), 1);
    EXPECT_EQ(openssl_verify_secp256k1(k.key, k.hash, r_flipped), 1);

    auto hash_flipped = k.hash;
    hash_flipped[31 - bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_EQ(python_verify_secp256k1(near_text(k.key), hash_flipped, response_json(k.response)), 1);
    EXPECT_EQ(openssl_verify_secp256k1(k.key, hash_flipped, k.response), 1);
  }
}

TEST(Secp256k1Check, AnotherKeyIsRefusedByBoth) {
  Curve c;
  const Case k = make_case(c);
  const auto other = c.public_key(c.random_scalar().get());
  SCOPED_TRACE(k.describe() + ", other key " + near_text(other));
  EXPECT_EQ(python_verify_secp256k1(near_text(other), k.hash, response_json(k.response)), 1);
  EXPECT_EQ(openssl_verify_secp256k1(other, k.hash, k.response), 1);
}

// OpenSSL checks (r, s) only; the recovery id and low s are Python's. For a
// signature of each recovery id, so that a verifier that ignored R's parity
// fails here.
TEST(Secp256k1Check, AWrongRecoveryIdOrAHighSIsRefusedByPython) {
  Curve c;
  std::set<int> seen;
  for (int round = 0; round < 64 && seen.size() < 2; ++round) {
    const Case k = make_case(c);
    if (!seen.insert(k.response.recovery_id).second) continue;
    SCOPED_TRACE(k.describe());
    ASSERT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(k.response)), 0);
    for (std::uint8_t flip : {1, 2, 3}) {
      auto wrong = k.response;
      wrong.recovery_id ^= flip;
      SCOPED_TRACE("recovery id " + std::to_string(wrong.recovery_id));
      EXPECT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(wrong)), 1);
      EXPECT_EQ(openssl_verify_secp256k1(k.key, k.hash, wrong), 0);
    }
    // n − s with the mirrored R: the same ECDSA signature in its high-s form.
    core::BnPtr s(BN_bin2bn(k.response.s.data(), 32, nullptr));
    ASSERT_EQ(BN_sub(s.get(), c.n(), s.get()), 1);
    auto high = k.response;
    high.s = be32(s.get());
    high.recovery_id ^= 1;
    high.big_r[0] ^= 1;
    EXPECT_EQ(python_verify_secp256k1(near_text(k.key), k.hash, response_json(high)), 1);
    EXPECT_EQ(openssl_verify_secp256k1(k.key, k.hash, high), 0);
  }
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

TEST(Secp256k1Check, BadInputIsExitTwo) {
  Curve c;
  const Case k = make_case(c);
  SCOPED_TRACE(k.describe());
  const std::string key = near_text(k.key);
  const std::string good = response_json(k.response);
  EXPECT_EQ(python_verify_secp256k1(key, core::Bytes(31, 1), good), 2);
  EXPECT_EQ(python_verify_secp256k1("secp256k1:" + core::base58_encode(core::Bytes(63, 1)), k.hash, good), 2);
  EXPECT_EQ(python_verify_secp256k1(near_text(core::Secp256k1PublicKey{}), k.hash, good), 2);  // (0, 0): not on the curve
  EXPECT_EQ(python_verify_secp256k1("ed25519:" + core::base58_encode(core::Bytes(32, 1)), k.hash, good), 2);
  EXPECT_EQ(python_verify_secp256k1("zz", k.hash, good), 2);
  EXPECT_EQ(python_verify_secp256k1(key, k.hash, "{not json"), 2);
  auto j = nlohmann::json::parse(good);
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"scheme", "Ed25519"}, {"recovery_id", 4}, {"recovery_id", true}, {"recovery_id", "1"}}) {
    auto bad = j;
    bad[field] = value;
    SCOPED_TRACE(bad.dump());
    EXPECT_EQ(python_verify_secp256k1(key, k.hash, bad.dump()), 2);
  }
  auto short_s = j;
  short_s["s"]["scalar"] = core::hex_encode(core::Bytes(31, 1));
  EXPECT_EQ(python_verify_secp256k1(key, k.hash, short_s.dump()), 2);
  auto bad_prefix = j;
  bad_prefix["big_r"]["affine_point"] = "04" + j["big_r"]["affine_point"].get<std::string>().substr(2);
  EXPECT_EQ(python_verify_secp256k1(key, k.hash, bad_prefix.dump()), 2);

  EXPECT_EQ(openssl_verify_secp256k1(k.key, core::Bytes(31, 1), k.response), 2);
  EXPECT_EQ(openssl_verify_secp256k1(core::Secp256k1PublicKey{}, k.hash, k.response), 2);
}

}  // namespace
}  // namespace mpc::e2e
