// Signature requests as a specification: `sign` queues and yields, `respond`
// verifies under the derived key and resumes every queued yield, the yield
// callbacks return the signature or fail on timeout; every refusal's text.
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "core/key_derivation.h"
#include "core/ec_keys.h"
#include "core/openssl_ptr.h"
#include "support/contract/contract_test_fixture.h"

namespace mpc::contract {
namespace {

using namespace mpc::contract::fixture;

// A Frost domain whose group secret the test knows, a CaitSith domain with a
// real secp256k1 point, a ForeignTx domain, and a DamgardEtAl domain whose
// secp256k1 group secret the test knows: installed as a genesis state.
constexpr std::uint64_t kFrost = 0;
constexpr std::uint64_t kCaitSith = 1;
constexpr std::uint64_t kForeignTx = 2;
constexpr std::uint64_t kDamgard = 3;
constexpr std::string_view kSecpSecretHex = "3f1c2b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615a2b7";
constexpr std::string_view kSecpOrderHex = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
constexpr std::string_view kGroupSecretHex = "1be2d390d2a3b5c70752bdd3fd3b7151f064cd7ca05322c010d2ef76727fce31";
constexpr std::string_view kSecpGroupHex =
    "77c1ff8a2593f5cbe17dd6f05d4fe21f9f3393d90d47cc67f0cf33593e2436e4"
    "34af6b6ea1bcdb3ca31808472fdda9bb66ab1db74c91da3c7f0c95509adeea3c";

// ---- secp256k1 ECDSA made here with OpenSSL, from a known secret and nonce

core::BnPtr bn(std::string_view hex) {
  const core::Bytes b = *core::hex_decode(hex);
  return core::BnPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
}

std::array<std::uint8_t, 32> be32(const BIGNUM* v) {
  std::array<std::uint8_t, 32> out{};
  EXPECT_EQ(BN_bn2binpad(v, out.data(), 32), 32);
  return out;
}

struct Secp {
  core::EcGroupPtr group{EC_GROUP_new_by_curve_name(NID_secp256k1)};
  core::BnCtxPtr ctx{BN_CTX_new()};
  const BIGNUM* n() const { return EC_GROUP_get0_order(group.get()); }

  // secret·G as X || Y.
  core::Secp256k1PublicKey public_key(const BIGNUM* secret) const {
    core::EcPointPtr p(EC_POINT_new(group.get()));
    EXPECT_EQ(EC_POINT_mul(group.get(), p.get(), secret, nullptr, nullptr, ctx.get()), 1);
    std::array<std::uint8_t, 65> enc{};
    EXPECT_EQ(EC_POINT_point2oct(group.get(), p.get(), POINT_CONVERSION_UNCOMPRESSED, enc.data(), enc.size(), ctx.get()), 65u);
    core::Secp256k1PublicKey out;
    std::copy(enc.begin() + 1, enc.end(), out.bytes.begin());
    return out;
  }

  // (secret + tweak) mod n: the key the network signs a request with.
  core::SecretBnPtr derived_secret(const BIGNUM* secret, const core::Tweak& tweak) const {
    core::BnPtr t(BN_bin2bn(tweak.data(), 32, nullptr));
    core::SecretBnPtr out(BN_secure_new());
    EXPECT_EQ(BN_mod_add(out.get(), secret, t.get(), n(), ctx.get()), 1);
    return out;
  }

  // Textbook ECDSA with the nonce k: R = k·G, r = R.x mod n,
  // s = k⁻¹(e + r·d) mod n, then low s (s > n/2 becomes n − s, which
  // mirrors R), recovery id = R.y's parity (+2 if R.x >= n). big_r as the
  // reference's K256Signature::from_ecdsa_recoverable writes it: 02/03 by
  // the recovery id's parity, then r.
  core::Secp256k1SignatureResponse sign(const BIGNUM* d, const core::Bytes& hash, std::string_view nonce_hex) const {
    core::BnPtr k = bn(nonce_hex);
    core::BnPtr e(BN_bin2bn(hash.data(), static_cast<int>(hash.size()), nullptr));
    core::EcPointPtr big_r(EC_POINT_new(group.get()));
    core::BnPtr x(BN_new()), y(BN_new()), r(BN_new()), s(BN_new()), k_inv(BN_new()), half(BN_new());
    EXPECT_EQ(EC_POINT_mul(group.get(), big_r.get(), k.get(), nullptr, nullptr, ctx.get()), 1);
    EXPECT_EQ(EC_POINT_get_affine_coordinates(group.get(), big_r.get(), x.get(), y.get(), ctx.get()), 1);
    EXPECT_EQ(BN_nnmod(r.get(), x.get(), n(), ctx.get()), 1);
    EXPECT_EQ(BN_mod_mul(s.get(), r.get(), d, n(), ctx.get()), 1);
    EXPECT_EQ(BN_mod_add(s.get(), s.get(), e.get(), n(), ctx.get()), 1);
    EXPECT_NE(BN_mod_inverse(k_inv.get(), k.get(), n(), ctx.get()), nullptr);
    EXPECT_EQ(BN_mod_mul(s.get(), s.get(), k_inv.get(), n(), ctx.get()), 1);
    bool odd = BN_is_odd(y.get()) == 1;
    EXPECT_EQ(BN_rshift1(half.get(), n()), 1);
    if (BN_cmp(s.get(), half.get()) > 0) {
      EXPECT_EQ(BN_sub(s.get(), n(), s.get()), 1);
      odd = !odd;
    }
    core::Secp256k1SignatureResponse out;
    out.recovery_id = static_cast<std::uint8_t>((odd ? 1 : 0) | (BN_cmp(x.get(), n()) >= 0 ? 2 : 0));
    out.big_r[0] = odd ? 0x03 : 0x02;
    const auto r_bytes = be32(r.get());
    std::copy(r_bytes.begin(), r_bytes.end(), out.big_r.begin() + 1);
    out.s = be32(s.get());
    return out;
  }

  // OpenSSL's own ECDSA verification of (r, s) over the prehash `hash`.
  bool verifies(const core::Secp256k1PublicKey& key, const core::Bytes& hash, const core::Secp256k1SignatureResponse& sig) const {
    auto pkey = core::ec_public_key_xy("secp256k1", key.bytes);
    return pkey && core::ecdsa_verify_prehash(pkey.get(), hash, core::ByteView(sig.big_r.data() + 1, 32), sig.s);
  }

};

// The reference's serde text of a secp256k1 response, written out by hand.
std::string reference_text(const core::Secp256k1SignatureResponse& r) {
  return R"({"scheme":"Secp256k1","big_r":{"affine_point":")" + core::hex_encode(r.big_r) + R"("},"s":{"scalar":")" +
         core::hex_encode(r.s) + R"("},"recovery_id":)" + std::to_string(r.recovery_id) + "}";
}

core::Hash256 data_id(int n) {
  core::Hash256 id{};
  id[0] = static_cast<std::uint8_t>(n);
  id[31] = 0xd1;
  return id;
}

class SigningTest : public ContractTest {
 protected:
  void SetUp() override {
    ContractTest::SetUp();
    group_secret_ = core::SecretBytes(*core::hex_decode(kGroupSecretHex));
    group_ = *core::ed25519_public_key_of_scalar(group_secret_);
    json running = this->running();
    running["domains"] = {{"domains", json::array({{{"id", kFrost}, {"protocol", "Frost"}, {"purpose", "Sign"}},
                                                   {{"id", kCaitSith}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                                                   {{"id", kForeignTx}, {"protocol", "CaitSith"}, {"purpose", "ForeignTx"}},
                                                   {{"id", kDamgard}, {"protocol", "DamgardEtAl"}, {"purpose", "Sign"}}})},
                          {"next_domain_id", 4}};
    json point = json::array();
    for (auto b : group_.bytes) point.push_back(b);
    const json ed_key = {{"Ed25519", {{"near_public_key_compressed", core::ed25519_public_key_to_string(group_)}, {"edwards_point", point}}}};
    const json secp_key = {{"Secp256k1", {{"near_public_key", "secp256k1:" + core::base58_encode(*core::hex_decode(kSecpGroupHex))}}}};
    const core::SecretBytes secp_secret(*core::hex_decode(kSecpSecretHex));
    secp_secret_.reset(BN_secure_new());
    ASSERT_NE(BN_bin2bn(secp_secret.data(), static_cast<int>(secp_secret.size()), secp_secret_.get()), nullptr);
    BN_set_flags(secp_secret_.get(), BN_FLG_CONSTTIME);
    secp_group_ = secp_.public_key(secp_secret_.get());
    const json damgard_key = {{"Secp256k1", {{"near_public_key", "secp256k1:" + core::base58_encode(secp_group_.bytes)}}}};
    running["keyset"] = {{"epoch_id", 0},
                         {"domains", json::array({{{"domain_id", kFrost}, {"key", ed_key}, {"attempt", 0}},
                                                  {{"domain_id", kCaitSith}, {"key", secp_key}, {"attempt", 0}},
                                                  {{"domain_id", kForeignTx}, {"key", secp_key}, {"attempt", 0}},
                                                  {{"domain_id", kDamgard}, {"key", damgard_key}, {"attempt", 0}}})}};
    auto c = MpcContract::deserialize(json{{"protocol_state", {{"Running", running}}}}.dump());
    ASSERT_TRUE(c) << c.error().message;
    contract_ = std::move(*c);
  }

  static json eddsa_request(const std::string& hex, std::uint64_t domain = kFrost, const std::string& path = "solana-1") {
    return json{{"path", path}, {"payload_v2", {{"Eddsa", hex}}}, {"domain_id", domain}};
  }
  static json ecdsa_request(const std::string& hex, std::uint64_t domain = kCaitSith) {
    return json{{"path", "m/44'/60'"}, {"payload_v2", {{"Ecdsa", hex}}}, {"domain_id", domain}};
  }

  // `sign` by `account` as the host calls it: with a data id for the yield.
  core::Result<CallOutcome> sign(const std::string& account, const json& request, core::u128 deposit = 1, int id = 1,
                                 std::uint64_t gas = kMaxPrepaidGas, std::uint64_t height = 10) {
    CallContext c = ctx(account, deposit);
    c.yield_data_id = data_id(id);
    c.prepaid_gas = gas;
    c.block_height = height;
    const std::string text = json{{"request", request}}.dump();
    return contract_.call(c, "sign", core::as_bytes(text));
  }

  static core::SignatureRequest request_of(const std::string& predecessor, const json& request) {
    return core::SignatureRequest::make(predecessor, request["path"].get<std::string>(),
                                        *core::parse_sign_payload(request["payload_v2"]), request["domain_id"].get<std::uint64_t>());
  }

  // A signature by the key derived for the request.
  core::Ed25519Signature signature_for(const core::SignatureRequest& r) const {
    auto secret = core::derive_ed25519_secret_scalar(group_secret_, r.tweak);
    EXPECT_TRUE(secret);
    return *core::ed25519_sign_with_scalar(*secret, r.payload.bytes);
  }

  core::Result<CallOutcome> respond(const std::string& account, const core::SignatureRequest& r,
                                    const core::SignatureResponse& response, core::u128 deposit = 0) {
    const std::string text = core::respond_args(r, response).dump();
    return contract_.call(ctx(account, deposit), "respond", core::as_bytes(text));
  }

  core::Result<CallOutcome> callback(const std::string& method, const core::SignatureRequest& r,
                                     std::vector<std::optional<core::Bytes>> results, const std::string& predecessor = "mpc.near") {
    CallContext c = ctx(predecessor);
    c.predecessor_account_id = predecessor;
    c.promise_results = std::move(results);
    const std::string text = json{{"request", to_json(r)}}.dump();
    return contract_.call(c, method, core::as_bytes(text));
  }

  json view_with(const std::string& method, const json& args) {
    const std::string text = args.dump();
    auto r = contract_.view(method, core::as_bytes(text));
    EXPECT_TRUE(r) << r.error().message;
    return r ? json::parse(r->begin(), r->end()) : json();
  }
  json pending() { return view_with("pending_signature_requests", json::object()); }

  // A secp256k1 signature by the key derived for the request (nonce `k`).
  core::Secp256k1SignatureResponse ecdsa_signature_for(const core::SignatureRequest& r,
                                                       std::string_view k = "7a1f00c3d2e4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f40312233445566778f") const {
    auto d = secp_.derived_secret(secp_secret_.get(), r.tweak);
    return secp_.sign(d.get(), r.payload.bytes, k);
  }
  core::Secp256k1PublicKey secp_derived(const core::SignatureRequest& r) const {
    return *core::derive_secp256k1_public_key(secp_group_, r.tweak);
  }

  core::SecretBytes group_secret_;
  core::Ed25519PublicKey group_;
  Secp secp_;
  core::SecretBnPtr secp_secret_;
  core::Secp256k1PublicKey secp_group_;
};

// ---------------------------------------------------------------- sign

TEST_F(SigningTest, SignQueuesTheRequestYieldsAndRefundsTheExcessDeposit) {
  const json req = eddsa_request("0a0b0c");
  auto out = sign("user.near", req, 5, 7, kMaxPrepaidGas, 42);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->refund, 4u);
  EXPECT_TRUE(out->return_value.empty());
  ASSERT_TRUE(out->yield);
  EXPECT_EQ(out->yield->data_id, data_id(7));
  EXPECT_EQ(out->yield->callback_method, "return_signature_and_clean_state_on_success");
  const core::SignatureRequest key = request_of("user.near", req);
  EXPECT_EQ(json::parse(out->yield->callback_args.begin(), out->yield->callback_args.end()), (json{{"request", to_json(key)}}));
  ASSERT_EQ(out->logs.size(), 1u);
  EXPECT_EQ(out->logs[0].rfind("sign: predecessor=user.near, request=", 0), 0u);

  EXPECT_EQ(pending(), json::array({{{"request", to_json(key)},
                                      {"predecessor_id", "user.near"},
                                      {"path", "solana-1"},
                                      {"block_height", 42},
                                      {"yields", 1}}}));
  json data = json::array();
  for (auto b : data_id(7)) data.push_back(b);
  EXPECT_EQ(view_with("get_pending_request", {{"request", to_json(key)}}), (json{{"data_id", data}}));
}

TEST_F(SigningTest, SignDerivesTheTweakFromThePredecessorAndThePath) {
  ASSERT_TRUE(sign("alice.near", eddsa_request("01")));
  ASSERT_TRUE(sign("bob.near", eddsa_request("01"), 1, 2));
  json p = pending();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]["request"]["tweak"], to_json(request_of("alice.near", eddsa_request("01")))["tweak"]);
  EXPECT_NE(p[0]["request"]["tweak"], p[1]["request"]["tweak"]);
}

TEST_F(SigningTest, SignRefusesWithoutDepositTooLittleGasOrAnUnknownDomain) {
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01"), 0)), "Attached deposit is lower than required. Attached: 0, required: 1");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01"), 1, 1, 15'000'000'000'000 - 1)),
            "Provided gas is lower than required. Provided: 14999999999999, required: 15000000000000");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01", 7))), "The provided domain ID, 7, was not found.");
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request(std::string(64, '1'), kForeignTx))),
            "Domain 2 has purpose ForeignTx, but this method requires Sign.");
  EXPECT_EQ(pending(), json::array());
}

TEST_F(SigningTest, SignRefusesOutsideRunningAndResharing) {
  MpcContract fresh;
  CallContext c = ctx("user.near", 1);
  const std::string args = json{{"request", eddsa_request("01")}}.dump();
  auto r = fresh.call(c, "sign", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Protocol state is not running, nor resharing.");
}

TEST_F(SigningTest, SignChecksThePayloadAgainstTheDomainProtocol) {
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request(std::string(64, '1'), kFrost))), "Payload is not EdDSA");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01", kCaitSith))), "Payload is not Ecdsa");
  // The secp256k1 order n itself is no scalar.
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"))),
            "Ecdsa payload cannot be converted to Scalar");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01", kDamgard))), "Payload is not Ecdsa");
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", kDamgard))),
            "Ecdsa payload cannot be converted to Scalar");
  // n − 1 is the largest scalar.
  EXPECT_TRUE(sign("user.near", ecdsa_request("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140", kDamgard), 1, 9));
  // Eddsa payloads: empty up to 1232 bytes.
  EXPECT_TRUE(sign("user.near", eddsa_request("")));
  EXPECT_TRUE(sign("user.near", eddsa_request(std::string(2 * 1232, 'a')), 1, 2));
  EXPECT_EQ(error_of(sign("user.near", eddsa_request(std::string(2 * 1233, 'a')), 1, 3)),
            "Failed to deserialize input from JSON: request.payload_v2.Eddsa must be at most 1232 bytes, got 1233");
}

TEST_F(SigningTest, SignReadsTheLegacyPayloadAndKeyVersionAndRefusesBothFormsAtOnce) {
  const json legacy = {{"path", "p"}, {"payload", json(std::vector<int>(32, 7))}, {"key_version", kCaitSith}};
  EXPECT_NE(error_of(sign("user.near", legacy)).find("(CaitSith) are not served"), std::string::npos);  // read as Ecdsa, domain 1
  json legacy_damgard = legacy;
  legacy_damgard["key_version"] = kDamgard;
  ASSERT_TRUE(sign("user.near", legacy_damgard));
  EXPECT_EQ(pending()[0]["request"], to_json(core::SignatureRequest::make(
                                         "user.near", "p", {core::SignPayload::Kind::kEcdsa, core::Bytes(32, 7)}, kDamgard)));
  json legacy_frost = legacy;
  legacy_frost["key_version"] = kFrost;
  EXPECT_EQ(error_of(sign("user.near", legacy_frost)), "Payload is not EdDSA");
  json both = eddsa_request("01");
  both["payload"] = json(std::vector<int>(32, 7));
  EXPECT_EQ(error_of(sign("user.near", both)), "Failed to deserialize input from JSON: request: payload_v2 and payload are mutually exclusive");
  both = eddsa_request("01");
  both["key_version"] = 0;
  EXPECT_EQ(error_of(sign("user.near", both)), "Failed to deserialize input from JSON: request: domain_id and key_version are mutually exclusive");
  json none = eddsa_request("01");
  none.erase("domain_id");
  EXPECT_EQ(error_of(sign("user.near", none)), "Failed to deserialize input from JSON: request: missing field `domain_id`");
  none = eddsa_request("01");
  none.erase("payload_v2");
  EXPECT_EQ(error_of(sign("user.near", none)), "Failed to deserialize input from JSON: request: missing field `payload_v2`");
  none = eddsa_request("01");
  none.erase("path");
  EXPECT_EQ(error_of(sign("user.near", none)), "Failed to deserialize input from JSON: request: missing field `path`");
}

TEST_F(SigningTest, SignQueuesDuplicatesUpToTheFanOutLimit) {
  const json req = eddsa_request("cafe");
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(sign("user.near", req, 1, i)) << i;
  EXPECT_EQ(pending()[0]["yields"], 128);
  EXPECT_EQ(error_of(sign("user.near", req, 1, 200)),
            "Pending-request queue is full for this request key (limit: 128). Try again once an in-flight response or "
            "timeout has cleared room.");
  EXPECT_EQ(pending()[0]["yields"], 128);
}

TEST_F(SigningTest, SignBoundsThePendingRequestsOfAllCallers) {
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(sign("user.near", eddsa_request(std::to_string(1000 + i)), 1, i)) << i;
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("ff"), 1, 1)),
            "Too many pending signature requests (limit: 1024). Try again once responses or timeouts have cleared room.");
  EXPECT_EQ(view_with("pending_signature_requests", {{"limit", 1024}}).size(), 1024u);
  EXPECT_EQ(pending().size(), 100u);  // the view's default
}

// ---------------------------------------------------------------- respond

TEST_F(SigningTest, RespondWithAValidSignatureResumesEveryQueuedYield) {
  const json req = eddsa_request("48656c6c6f");
  ASSERT_TRUE(sign("user.near", req, 1, 1));
  ASSERT_TRUE(sign("user.near", req, 1, 2));  // the same request again: fan-out
  const core::SignatureRequest key = request_of("user.near", req);
  const core::Ed25519Signature sig = signature_for(key);
  auto out = respond("node1.near", key, sig);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->resumed.size(), 2u);
  EXPECT_EQ(out->resumed[0].data_id, data_id(1));
  EXPECT_EQ(out->resumed[1].data_id, data_id(2));
  const json payload = json::parse(out->resumed[0].payload.begin(), out->resumed[0].payload.end());
  EXPECT_EQ(payload, to_json(core::SignatureResponse{sig}));
  EXPECT_EQ(payload["scheme"], "Ed25519");
  EXPECT_TRUE(out->return_value.empty());
  EXPECT_EQ(pending(), json::array());
  EXPECT_EQ(view_with("get_pending_request", {{"request", to_json(key)}}), json(nullptr));
  // Responding again finds nothing.
  EXPECT_EQ(error_of(respond("node2.near", key, sig)), "This sign request has timed out, was completed, or never existed.");
}

TEST_F(SigningTest, RespondRefusesASignatureThatDoesNotVerifyUnderTheDerivedKey) {
  const json req = eddsa_request("0102");
  ASSERT_TRUE(sign("user.near", req));
  const core::SignatureRequest key = request_of("user.near", req);
  // Signed by the group key itself, not the key derived for user.near.
  const core::Ed25519Signature by_group = *core::ed25519_sign_with_scalar(group_secret_, key.payload.bytes);
  EXPECT_EQ(error_of(respond("node0.near", key, by_group)), "The provided signature is invalid.");
  // Signed by the derived key of another caller.
  const core::Ed25519Signature other = signature_for(request_of("other.near", req));
  EXPECT_EQ(error_of(respond("node0.near", key, other)), "The provided signature is invalid.");
  core::Ed25519Signature flipped = signature_for(key);
  flipped[5] ^= 1;
  EXPECT_EQ(error_of(respond("node0.near", key, flipped)), "The provided signature is invalid.");
  EXPECT_EQ(pending().size(), 1u);  // still pending
}

TEST_F(SigningTest, RespondRefusesNonParticipantsDepositsUnknownDomainsAndMismatchedSchemes) {
  const json req = eddsa_request("0102");
  ASSERT_TRUE(sign("user.near", req));
  const core::SignatureRequest key = request_of("user.near", req);
  const core::Ed25519Signature sig = signature_for(key);
  EXPECT_EQ(error_of(respond("user.near", key, sig)),
            "assertion failed: `Err(CallerNotParticipant)` does not match `Ok(())`: Caller must be an attested participant");
  EXPECT_EQ(error_of(respond("node0.near", key, sig, 1)), "Method respond doesn't accept deposit");
  core::SignatureRequest unknown = key;
  unknown.domain_id = 9;
  EXPECT_EQ(error_of(respond("node0.near", unknown, sig)), "No such domain.");
  core::Secp256k1SignatureResponse secp;
  secp.big_r[0] = 2;
  EXPECT_EQ(error_of(respond("node0.near", key, secp)),
            "The provided signature scheme does not match. MPC response: Secp256k1, user request: Ed25519");
  core::SignatureRequest on_secp = key;
  on_secp.domain_id = kCaitSith;
  EXPECT_EQ(error_of(respond("node0.near", on_secp, sig)),
            "The provided signature scheme does not match. MPC response: Ed25519, user request: Secp256k1");
  EXPECT_EQ(pending().size(), 1u);
  // Arguments that do not parse are refused before anything else.
  const std::string bad = json{{"request", to_json(key)}, {"response", {{"scheme", "Ed25519"}}}}.dump();
  EXPECT_EQ(error_of(contract_.call(ctx("node0.near"), "respond", core::as_bytes(bad))),
            "Failed to deserialize input from JSON: response.signature is missing");
}

TEST_F(SigningTest, RespondRefusesAPayloadOfTheOtherKindForTheKeysCurve) {
  core::SignatureRequest ecdsa{core::derive_tweak("user.near", "p"), {core::SignPayload::Kind::kEcdsa, core::Bytes(32, 1)}, kFrost};
  EXPECT_EQ(error_of(respond("node0.near", ecdsa, signature_for(ecdsa))), "Payload is not EdDSA");
  core::SignatureRequest eddsa{core::derive_tweak("user.near", "p"), {core::SignPayload::Kind::kEddsa, core::Bytes(32, 1)}, kDamgard};
  core::SignatureRequest as_ecdsa = eddsa;
  as_ecdsa.payload.kind = core::SignPayload::Kind::kEcdsa;
  EXPECT_EQ(error_of(respond("node0.near", eddsa, ecdsa_signature_for(as_ecdsa))), "Payload is not ECDSA");
}

TEST_F(SigningTest, RespondIsOpenToTheNewParticipantsWhileResharing) {
  const json req = eddsa_request("0102");
  ASSERT_TRUE(sign("user.near", req));
  start_resharing();
  const core::SignatureRequest key = request_of("user.near", req);
  auto out = respond("node2.near", key, signature_for(key));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->resumed.size(), 1u);
  // Signing goes on too, against the previous Running state's domains.
  EXPECT_TRUE(sign("user.near", eddsa_request("0103")));
}

TEST_F(SigningTest, PendingRequestsSurviveAChangeOfProtocolStateAsInTheReference) {
  ASSERT_TRUE(sign("user.near", eddsa_request("0102")));
  json domains = json::array({{{"id", 4}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  ASSERT_TRUE(state().contains("Initializing"));
  EXPECT_EQ(pending().size(), 1u);
  const core::SignatureRequest key = request_of("user.near", eddsa_request("0102"));
  EXPECT_EQ(error_of(respond("node0.near", key, signature_for(key))), "The protocol is not Running.");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("0103"))), "Protocol state is not running, nor resharing.");
}

// ---------------------------------------------------------------- secp256k1 (DamgardEtAl)

TEST_F(SigningTest, SignQueuesAnEcdsaRequestForADamgardEtAlDomain) {
  const json req = ecdsa_request(std::string(64, 'a'), kDamgard);
  auto out = sign("user.near", req, 1, 4);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->yield);
  EXPECT_EQ(out->yield->callback_method, "return_signature_and_clean_state_on_success");
  const core::SignatureRequest key = request_of("user.near", req);
  EXPECT_EQ(json::parse(out->yield->callback_args.begin(), out->yield->callback_args.end()), (json{{"request", to_json(key)}}));
  ASSERT_EQ(pending().size(), 1u);
  EXPECT_EQ(pending()[0]["request"], to_json(key));
  EXPECT_EQ(pending()[0]["request"]["payload"], (json{{"Ecdsa", std::string(64, 'a')}}));
}

TEST_F(SigningTest, SignRefusesCaitSithDomainsWhoseSharesAreOnlyHeld) {
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request(std::string(64, '1'), kCaitSith))),
            "Sign requests for domain 1 (CaitSith) are not served: this network does not run the CaitSith protocol and "
            "signs secp256k1 only with DamgardEtAl domains. The domain's key shares are still held, backed up and migrated.");
  // The payload is checked first, as the reference does.
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("01", kCaitSith))), "Payload is not Ecdsa");
  EXPECT_EQ(pending(), json::array());
  // Its keys stay readable.
  EXPECT_EQ(view_with("public_key", {{"domain_id", kCaitSith}}).get<std::string>(),
            "secp256k1:" + core::base58_encode(*core::hex_decode(kSecpGroupHex)));
}

TEST_F(SigningTest, RespondWithARecoverableSecp256k1SignatureResumesEveryYieldWithTheReferenceJson) {
  const json req = ecdsa_request("4a5c0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4031223344556677f", kDamgard);
  ASSERT_TRUE(sign("user.near", req, 1, 1));
  ASSERT_TRUE(sign("user.near", req, 1, 2));
  const core::SignatureRequest key = request_of("user.near", req);
  const core::Secp256k1SignatureResponse sig = ecdsa_signature_for(key);
  // A real signature: OpenSSL verifies it under the derived key (the group
  // key plus tweak·G, as derived_public_key shows it) and not the group key.
  const core::Secp256k1PublicKey derived = secp_derived(key);
  ASSERT_TRUE(secp_.verifies(derived, key.payload.bytes, sig));
  ASSERT_FALSE(secp_.verifies(secp_group_, key.payload.bytes, sig));
  EXPECT_EQ(view_with("derived_public_key", {{"path", "m/44'/60'"}, {"predecessor", "user.near"}, {"domain_id", kDamgard}}),
            json("secp256k1:" + core::base58_encode(derived.bytes)));

  auto out = respond("node1.near", key, sig);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->resumed.size(), 2u);
  EXPECT_EQ(out->resumed[0].data_id, data_id(1));
  EXPECT_EQ(out->resumed[1].data_id, data_id(2));
  const std::string expected = reference_text(sig);
  EXPECT_EQ(std::string(out->resumed[0].payload.begin(), out->resumed[0].payload.end()), expected);
  EXPECT_EQ(out->resumed[1].payload, out->resumed[0].payload);
  EXPECT_EQ(pending(), json::array());

  // The yield callback hands the caller exactly that text.
  auto back = callback("return_signature_and_clean_state_on_success", key, {out->resumed[0].payload});
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(std::string(back->return_value.begin(), back->return_value.end()), expected);
  EXPECT_FALSE(back->then);
  // Responding again finds nothing.
  EXPECT_EQ(error_of(respond("node2.near", key, sig)), "This sign request has timed out, was completed, or never existed.");
}

TEST_F(SigningTest, RespondAcceptsBothRecoveryParitiesAndReadsOnlyRFromBigR) {
  // Several nonces: the low-s normalization flips the parity for some.
  const json req = ecdsa_request(std::string(64, '3'), kDamgard);
  const core::SignatureRequest key = request_of("user.near", req);
  std::set<int> parities;
  const char* nonces[] = {"01", "02", "03", "04", "05", "06", "07", "08"};
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(sign("user.near", req, 1, i));
    const auto sig = ecdsa_signature_for(key, nonces[i]);
    parities.insert(sig.recovery_id);
    ASSERT_TRUE(respond("node0.near", key, sig)) << i;
  }
  EXPECT_EQ(parities, (std::set<int>{0, 1}));
  // As in the reference, big_r's prefix byte is not read (r is its x bytes;
  // the recovery id gives the parity): a response carrying R's own prefix
  // (which may differ after low-s normalization) verifies.
  ASSERT_TRUE(sign("user.near", req, 1, 9));
  auto sig = ecdsa_signature_for(key);
  sig.big_r[0] ^= 1;
  auto out = respond("node0.near", key, sig);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(std::string(out->resumed[0].payload.begin(), out->resumed[0].payload.end()), reference_text(sig));
}

TEST_F(SigningTest, RespondRefusesSecp256k1SignaturesThatDoNotRecoverTheDerivedKey) {
  const json req = ecdsa_request("0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000", kDamgard);
  ASSERT_TRUE(sign("user.near", req));
  const core::SignatureRequest key = request_of("user.near", req);
  const core::Secp256k1SignatureResponse good = ecdsa_signature_for(key);
  const std::string invalid = "The provided signature is invalid.";

  // A corrupted s.
  auto wrong = good;
  wrong.s[31] ^= 1;
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);
  // A corrupted r.
  wrong = good;
  wrong.big_r[32] ^= 1;
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);
  // High s: n − s with the other parity is the same signature mirrored; OpenSSL
  // accepts it, the reference's low-s rule does not.
  auto high = good;
  {
    core::BnPtr s(BN_bin2bn(good.s.data(), 32, nullptr));
    ASSERT_EQ(BN_sub(s.get(), secp_.n(), s.get()), 1);
    high.s = be32(s.get());
    high.recovery_id ^= 1;
    high.big_r[0] ^= 1;
  }
  ASSERT_TRUE(secp_.verifies(secp_derived(key), key.payload.bytes, high));
  EXPECT_EQ(error_of(respond("node0.near", key, high)), invalid);
  // The other recovery id recovers another key; 2 and 3 name an R whose x is r + n.
  for (std::uint8_t rid : {std::uint8_t(good.recovery_id ^ 1), std::uint8_t(good.recovery_id | 2), std::uint8_t(good.recovery_id ^ 3)}) {
    wrong = good;
    wrong.recovery_id = rid;
    EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid) << int(rid);
  }
  // Recovery ids above 3: the reference's ecrecover host error.
  wrong = good;
  wrong.recovery_id = 4;
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), "V recovery byte 0 through 3 are valid but was provided 4");
  // Signed by the group (underived) key.
  const auto by_group = secp_.sign(secp_secret_.get(), key.payload.bytes, "1234");
  ASSERT_TRUE(secp_.verifies(secp_group_, key.payload.bytes, by_group));
  EXPECT_EQ(error_of(respond("node0.near", key, by_group)), invalid);
  // Signed by the key derived for another caller.
  EXPECT_EQ(error_of(respond("node0.near", key, ecdsa_signature_for(request_of("other.near", req)))), invalid);
  // A signature of another hash.
  core::SignatureRequest other_hash = key;
  other_hash.payload.bytes[0] ^= 1;
  EXPECT_EQ(error_of(respond("node0.near", key, ecdsa_signature_for(other_hash))), invalid);
  // Out-of-range values: r = 0, s = 0, r = n, s = n.
  const core::Bytes order = *core::hex_decode(kSecpOrderHex);
  wrong = good;
  std::fill(wrong.big_r.begin() + 1, wrong.big_r.end(), 0);
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);
  wrong = good;
  wrong.s.fill(0);
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);
  wrong = good;
  std::copy(order.begin(), order.end(), wrong.big_r.begin() + 1);
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);
  wrong = good;
  std::copy(order.begin(), order.end(), wrong.s.begin());
  EXPECT_EQ(error_of(respond("node0.near", key, wrong)), invalid);

  // Nothing changed: the request still waits, and the good signature resumes it.
  EXPECT_EQ(pending().size(), 1u);
  EXPECT_TRUE(respond("node0.near", key, good));
}

TEST_F(SigningTest, RespondChecksTheSecp256k1SchemeAndTheCaller) {
  const json req = ecdsa_request(std::string(64, '5'), kDamgard);
  ASSERT_TRUE(sign("user.near", req));
  const core::SignatureRequest key = request_of("user.near", req);
  const auto sig = ecdsa_signature_for(key);
  EXPECT_EQ(error_of(respond("user.near", key, sig)),
            "assertion failed: `Err(CallerNotParticipant)` does not match `Ok(())`: Caller must be an attested participant");
  EXPECT_EQ(error_of(respond("node0.near", key, core::Ed25519Signature{})),
            "The provided signature scheme does not match. MPC response: Ed25519, user request: Secp256k1");
  // The same signature for a request nobody made (another domain's key).
  core::SignatureRequest unknown = key;
  unknown.domain_id = kCaitSith;
  EXPECT_EQ(error_of(respond("node0.near", unknown, sig)), "The provided signature is invalid.");
  EXPECT_EQ(pending().size(), 1u);
}

// ---------------------------------------------------------------- the yield callbacks

TEST_F(SigningTest, CallbackReturnsTheResumedSignatureAsTheCallersResult) {
  const json req = eddsa_request("0102");
  ASSERT_TRUE(sign("user.near", req));
  const core::SignatureRequest key = request_of("user.near", req);
  auto resumed = respond("node0.near", key, signature_for(key));
  ASSERT_TRUE(resumed);
  auto out = callback("return_signature_and_clean_state_on_success", key, {resumed->resumed[0].payload});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->return_value, resumed->resumed[0].payload);
  EXPECT_FALSE(out->then);
}

TEST_F(SigningTest, CallbackOnTimeoutDropsTheOldestYieldOnlyAndFailsThroughFailOnTimeout) {
  const json req = eddsa_request("0102");
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(sign("user.near", req, 1, i, kMaxPrepaidGas, 10 + i));
  const core::SignatureRequest key = request_of("user.near", req);
  auto out = callback("return_signature_and_clean_state_on_success", key, {std::nullopt});
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(out->then);
  EXPECT_EQ(out->then->method, "fail_on_timeout");
  EXPECT_TRUE(out->return_value.empty());
  EXPECT_EQ(pending()[0]["yields"], 2);
  EXPECT_EQ(pending()[0]["block_height"], 12);  // the oldest left
  json second = json::array();
  for (auto b : data_id(2)) second.push_back(b);
  EXPECT_EQ(view_with("get_pending_request", {{"request", to_json(key)}})["data_id"], second);
  ASSERT_TRUE(callback("return_signature_and_clean_state_on_success", key, {std::nullopt}));
  ASSERT_TRUE(callback("return_signature_and_clean_state_on_success", key, {std::nullopt}));
  EXPECT_EQ(pending(), json::array());
  // A request in no queue still fails its caller.
  auto again = callback("return_signature_and_clean_state_on_success", key, {std::nullopt});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->then);

  auto fail = callback("fail_on_timeout", key, {});
  EXPECT_EQ(error_of(fail), "Request has timed out.");
}

TEST_F(SigningTest, CallbacksArePrivateToTheContract) {
  const core::SignatureRequest key = request_of("user.near", eddsa_request("01"));
  EXPECT_EQ(error_of(callback("return_signature_and_clean_state_on_success", key, {std::nullopt}, "user.near")),
            "Method return_signature_and_clean_state_on_success is private");
  EXPECT_EQ(error_of(callback("fail_on_timeout", key, {}, "user.near")), "Method fail_on_timeout is private");
  EXPECT_EQ(error_of(callback("return_signature_and_clean_state_on_success", key, {})),
            "Method return_signature_and_clean_state_on_success expects the result of exactly one promise");
}

// ---------------------------------------------------------------- views and the durable form

TEST_F(SigningTest, PendingSignatureRequestsListsTheOldestFirstWithinTheLimit) {
  ASSERT_TRUE(sign("a.near", eddsa_request("01"), 1, 1, kMaxPrepaidGas, 5));
  ASSERT_TRUE(sign("b.near", eddsa_request("02"), 1, 2, kMaxPrepaidGas, 6));
  ASSERT_TRUE(sign("a.near", eddsa_request("01"), 1, 3, kMaxPrepaidGas, 7));  // a duplicate keeps its place
  json all = pending();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["predecessor_id"], "a.near");
  EXPECT_EQ(all[0]["yields"], 2);
  EXPECT_EQ(all[1]["predecessor_id"], "b.near");
  EXPECT_EQ(view_with("pending_signature_requests", {{"limit", 1}}).size(), 1u);
  const std::string zero = json{{"limit", 0}}.dump();
  auto refused = contract_.view("pending_signature_requests", core::as_bytes(zero));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "Failed to deserialize input from JSON: args.limit must be an integer from 1 to 1024");
  auto no_request = contract_.view("get_pending_request", core::as_bytes(std::string("{}")));
  ASSERT_FALSE(no_request);
  EXPECT_EQ(no_request.error().message, "Failed to deserialize input from JSON: request is missing");
}

TEST_F(SigningTest, DurableFormKeepsPendingRequestsAndTheirYields) {
  const std::string without = contract_.serialize();
  EXPECT_EQ(json::parse(without).count("pending_signature_requests"), 0u);
  ASSERT_TRUE(sign("a.near", eddsa_request("01"), 1, 1, kMaxPrepaidGas, 5));
  ASSERT_TRUE(sign("b.near", eddsa_request("02"), 1, 2, kMaxPrepaidGas, 6));
  ASSERT_TRUE(sign("a.near", eddsa_request("01"), 1, 3, kMaxPrepaidGas, 7));
  const std::string with = contract_.serialize();
  auto loaded = MpcContract::deserialize(with);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->serialize(), with);
  const json before = pending();
  contract_ = std::move(*loaded);
  EXPECT_EQ(pending(), before);
  // The loaded contract goes on: a respond resumes both yields of a.near's request.
  const core::SignatureRequest key = request_of("a.near", eddsa_request("01"));
  auto out = respond("node0.near", key, signature_for(key));
  ASSERT_TRUE(out);
  ASSERT_EQ(out->resumed.size(), 2u);
  EXPECT_EQ(out->resumed[1].data_id, data_id(3));

  json broken = json::parse(with);
  broken["pending_signature_requests"][0]["yields"] = json::array();
  auto refused = MpcContract::deserialize(broken.dump());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "pending_signature_requests[0].yields must be an array of 1 to 128 yields");
}

}  // namespace
}  // namespace mpc::contract

namespace mpc::contract {
namespace {

class KeyViewsTest : public SigningTest {};

TEST_F(KeyViewsTest, DerivedPublicKeyIsTheGroupKeyPlusTheCallersTweakAndVerifiesItsSignatures) {
  const json derived = view_with("derived_public_key", {{"path", "solana-1"}, {"predecessor", "alice.near"}, {"domain_id", kFrost}});
  ASSERT_TRUE(derived.is_string());
  const auto tweak = core::derive_tweak("alice.near", "solana-1");
  const auto expected = core::derive_ed25519_public_key(group_, tweak);
  ASSERT_TRUE(expected);
  EXPECT_EQ(derived.get<std::string>(), core::ed25519_public_key_to_string(*expected));
  // What the network signs for alice's request verifies under it.
  const auto request = request_of("alice.near", eddsa_request("68656c6c6f"));
  const auto sig = signature_for(request);
  EXPECT_TRUE(core::ed25519_verify(*expected, request.payload.bytes, sig));

  EXPECT_EQ(view_with("public_key", {{"domain_id", kFrost}}).get<std::string>(), core::ed25519_public_key_to_string(group_));
  const json secp = view_with("derived_public_key", {{"path", "m/44'/60'"}, {"predecessor", "alice.near"}, {"domain_id", kCaitSith}});
  ASSERT_TRUE(secp.is_string());
  EXPECT_EQ(secp.get<std::string>().rfind("secp256k1:", 0), 0u) << secp;
  EXPECT_NE(secp, view_with("public_key", {{"domain_id", kCaitSith}}));
}

TEST_F(KeyViewsTest, DerivedPublicKeyNeedsAPredecessorAndAKnownDomain) {
  auto no_predecessor = contract_.view("derived_public_key", core::as_bytes(json{{"path", "p"}, {"domain_id", kFrost}}.dump()));
  ASSERT_FALSE(no_predecessor);
  EXPECT_NE(no_predecessor.error().message.find("predecessor is required"), std::string::npos) << no_predecessor.error().message;
  auto unknown = contract_.view("derived_public_key", core::as_bytes(json{{"path", "p"}, {"predecessor", "a.near"}, {"domain_id", 77}}.dump()));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("No such domain."), std::string::npos) << unknown.error().message;
}

}  // namespace
}  // namespace mpc::contract
