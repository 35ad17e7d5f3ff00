// Signature requests as a specification: `sign` queues and yields, `respond`
// verifies under the derived key and resumes every queued yield, the yield
// callbacks return the signature or fail on timeout; every refusal's text.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/key_derivation.h"
#include "support/contract/contract_test_fixture.h"

namespace mpc::contract {
namespace {

using namespace mpc::contract::fixture;

// A Frost domain whose group secret the test knows, a CaitSith domain with a
// real secp256k1 point, and a ForeignTx domain: installed as a genesis state.
constexpr std::uint64_t kFrost = 0;
constexpr std::uint64_t kCaitSith = 1;
constexpr std::uint64_t kForeignTx = 2;
constexpr std::string_view kGroupSecretHex = "1be2d390d2a3b5c70752bdd3fd3b7151f064cd7ca05322c010d2ef76727fce31";
constexpr std::string_view kSecpGroupHex =
    "77c1ff8a2593f5cbe17dd6f05d4fe21f9f3393d90d47cc67f0cf33593e2436e4"
    "34af6b6ea1bcdb3ca31808472fdda9bb66ab1db74c91da3c7f0c95509adeea3c";

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
                                                   {{"id", kForeignTx}, {"protocol", "CaitSith"}, {"purpose", "ForeignTx"}}})},
                          {"next_domain_id", 3}};
    json point = json::array();
    for (auto b : group_.bytes) point.push_back(b);
    const json ed_key = {{"Ed25519", {{"near_public_key_compressed", core::ed25519_public_key_to_string(group_)}, {"edwards_point", point}}}};
    const json secp_key = {{"Secp256k1", {{"near_public_key", "secp256k1:" + core::base58_encode(*core::hex_decode(kSecpGroupHex))}}}};
    running["keyset"] = {{"epoch_id", 0},
                         {"domains", json::array({{{"domain_id", kFrost}, {"key", ed_key}, {"attempt", 0}},
                                                  {{"domain_id", kCaitSith}, {"key", secp_key}, {"attempt", 0}},
                                                  {{"domain_id", kForeignTx}, {"key", secp_key}, {"attempt", 0}}})}};
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

  core::SecretBytes group_secret_;
  core::Ed25519PublicKey group_;
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
  // A good ECDSA request: there is no threshold ECDSA yet.
  EXPECT_EQ(error_of(sign("user.near", ecdsa_request(std::string(64, '1')))),
            "Sign requests for domain 1 (CaitSith) are not supported yet: this network has no threshold ECDSA; only Frost "
            "(Ed25519) domains sign.");
  // Eddsa payloads: empty up to 1232 bytes.
  EXPECT_TRUE(sign("user.near", eddsa_request("")));
  EXPECT_TRUE(sign("user.near", eddsa_request(std::string(2 * 1232, 'a')), 1, 2));
  EXPECT_EQ(error_of(sign("user.near", eddsa_request(std::string(2 * 1233, 'a')), 1, 3)),
            "Failed to deserialize input from JSON: request.payload_v2.Eddsa must be at most 1232 bytes, got 1233");
}

TEST_F(SigningTest, SignReadsTheLegacyPayloadAndKeyVersionAndRefusesBothFormsAtOnce) {
  const json legacy = {{"path", "p"}, {"payload", json(std::vector<int>(32, 7))}, {"key_version", kCaitSith}};
  EXPECT_NE(error_of(sign("user.near", legacy)).find("not supported yet"), std::string::npos);  // read as Ecdsa, domain 1
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

TEST_F(SigningTest, RespondRefusesAnEcdsaPayloadForAnEd25519KeyAndSecp256k1ResponsesForNow) {
  core::SignatureRequest ecdsa{core::derive_tweak("user.near", "p"), {core::SignPayload::Kind::kEcdsa, core::Bytes(32, 1)}, kFrost};
  EXPECT_EQ(error_of(respond("node0.near", ecdsa, signature_for(ecdsa))), "Payload is not EdDSA");
  ecdsa.domain_id = kCaitSith;
  core::Secp256k1SignatureResponse secp;
  secp.big_r[0] = 2;
  EXPECT_EQ(error_of(respond("node0.near", ecdsa, secp)),
            "Secp256k1 signature responses are not supported yet: this network has no threshold ECDSA.");
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
  json domains = json::array({{{"id", 3}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  ASSERT_TRUE(state().contains("Initializing"));
  EXPECT_EQ(pending().size(), 1u);
  const core::SignatureRequest key = request_of("user.near", eddsa_request("0102"));
  EXPECT_EQ(error_of(respond("node0.near", key, signature_for(key))), "The protocol is not Running.");
  EXPECT_EQ(error_of(sign("user.near", eddsa_request("0103"))), "Protocol state is not running, nor resharing.");
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
