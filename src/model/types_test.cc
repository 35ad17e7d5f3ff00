#include "model/types.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace mpc::model {

using namespace mpc::core;  // the model is written in core's terms
namespace {

json mainnet_state() {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  EXPECT_TRUE(in) << "missing mainnet fixture";
  return json::parse(in);
}

TEST(Types, TheMainnetStateRoundTripsExactly) {
  json fixture = mainnet_state();
  auto state = parse_protocol_state(fixture);
  ASSERT_TRUE(state) << state.error().message;
  const RunningState* r = state->running();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->keyset.epoch_id, 4u);
  EXPECT_EQ(r->keyset.domains.size(), 2u);
  EXPECT_EQ(r->keyset.domains[0].attempt, 240u);
  EXPECT_EQ(r->keyset.domains[0].key.kind, CurveKind::kSecp256k1);
  EXPECT_EQ(r->domains.domains[0].extra["curve"], "Secp256k1");  // legacy field kept
  EXPECT_NE(r->parameters.participants.find("blacksandtech.near"), nullptr);
  EXPECT_EQ(to_json(*state), fixture);
  auto back = parse_protocol_state(to_json(*state));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *state);
}

TEST(Types, TheMainnetEd25519KeyMatchesItsEdwardsPoint) {
  auto state = parse_protocol_state(mainnet_state());
  const auto& k = state->running()->keyset.domains[1].key;
  ASSERT_EQ(k.kind, CurveKind::kEd25519);
  EXPECT_EQ(k.near_public_key->ed25519().bytes, k.edwards_point);
}

TEST(Types, U64IdsAbove2Pow53RoundTrip) {
  const std::uint64_t big = 18446744073709551615ull;
  json ks = json::parse(R"({"epoch_id":18446744073709551615,"domains":[{"domain_id":9007199254740993,
     "key":{"Ed25519":{"near_public_key_compressed":"ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF",
     "edwards_point":[225,26,63,32,184,108,201,78,91,117,55,216,102,209,196,106,227,228,26,70,161,208,143,122,234,22,150,164,165,0,191,208]}},
     "attempt":9007199254740995}]})");
  auto parsed = parse_keyset(ks);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->epoch_id, big);
  EXPECT_EQ(parsed->domains[0].domain_id, 9007199254740993ull);
  EXPECT_EQ(parsed->domains[0].attempt, 9007199254740995ull);
  EXPECT_EQ(to_json(*parsed), ks);
  EXPECT_NE(to_json(*parsed).dump().find("\"epoch_id\":18446744073709551615"), std::string::npos);
}

TEST(Types, BadInputsNameTheField) {
  auto bad = [](const char* text) {
    auto r = parse_keyset(json::parse(text));
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(bad(R"({"epoch_id":-1,"domains":[]})").find("keyset.epoch_id"), std::string::npos);
  EXPECT_NE(bad(R"({"epoch_id":1.5,"domains":[]})").find("keyset.epoch_id"), std::string::npos);
  EXPECT_NE(bad(R"({"epoch_id":1})").find("keyset.domains"), std::string::npos);
  EXPECT_NE(bad(R"({"epoch_id":1,"domains":[{"domain_id":0,"attempt":0,"key":{"Secp256k1":{"near_public_key":"x"},"Ed25519":{}}}]})")
                .find("keyset.domains[0].key"),
            std::string::npos);
  EXPECT_NE(bad(R"({"epoch_id":1,"domains":[{"domain_id":0,"attempt":0,"key":{"Ed25519":{"near_public_key_compressed":
              "ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF","edwards_point":[1,2,3]}}}]})")
                .find("edwards_point"),
            std::string::npos);
  EXPECT_NE(bad(R"({"epoch_id":1,"domains":[{"domain_id":0,"attempt":0,"key":{"Secp256k1":{"near_public_key":"ed25519:abc"}}}]})")
                .find("near_public_key"),
            std::string::npos);
  EXPECT_FALSE(parse_protocol_state(json("Paused")));
  EXPECT_FALSE(parse_participant_info(json::parse(R"({"url":"x","tls_public_key":"secp256k1:abc"})")));
}

TEST(Types, MigrationInfoRoundTrips) {
  auto k = [] { return ed25519_public_key_to_string(Ed25519SecretKey::generate().public_key()); };
  json info = {{"a.near", json::array({{{"public_key", k()}}, nullptr})},
               {"b.near", json::array({nullptr, {{"signer_account_pk", k()},
                                                 {"destination_node_info", {{"url", "https://b"}, {"tls_public_key", k()}}}}})}};
  auto parsed = parse_migration_info(info);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->at("a.near").backup_service);
  EXPECT_FALSE(parsed->at("a.near").migration);
  EXPECT_EQ(to_json(*parsed), info);
}

// A keyset with one Secp256k1 and one Ed25519 domain, and shares matching it.
struct Fixture {
  Keyset keyset;
  std::vector<Keyshare> shares;
};

Fixture consistent_fixture() {
  auto state = parse_protocol_state(mainnet_state());
  Fixture f;
  f.keyset = state->running()->keyset;
  const auto& xy = std::get<Secp256k1PublicKey>(f.keyset.domains[0].key.near_public_key->key).bytes;
  Bytes sec1(33);
  sec1[0] = (xy[63] & 1) ? 3 : 2;
  std::copy(xy.begin(), xy.begin() + 32, sec1.begin() + 1);
  Keyshare a;
  a.key_id = {4, 0, 240};
  a.kind = CurveKind::kSecp256k1;
  a.private_share = SecretString(std::string(64, '1'));
  a.public_key = hex_encode(sec1);
  Keyshare b;
  b.key_id = {4, 1, 0};
  b.kind = CurveKind::kEd25519;
  b.private_share = SecretString(std::string(64, '2'));
  b.public_key = hex_encode(f.keyset.domains[1].key.edwards_point);
  f.shares.push_back(std::move(a));
  f.shares.push_back(std::move(b));
  return f;
}

TEST(Keyshares, ConsistentSharesCoverTheKeyset) {
  auto f = consistent_fixture();
  EXPECT_TRUE(check_keyshares_cover_keyset(f.shares, f.keyset));
  // JSON round trip keeps them consistent.
  json j = json::array({to_json(f.shares[0]), to_json(f.shares[1])});
  auto back = parse_keyshares(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(check_keyshares_cover_keyset(*back, f.keyset));
}

TEST(Keyshares, EveryInconsistencyIsNamed) {
  auto expect_error = [](const std::vector<Keyshare>& shares, const Keyset& ks, const char* needle) {
    auto st = check_keyshares_cover_keyset(shares, ks);
    ASSERT_FALSE(st) << needle;
    EXPECT_NE(st.error().message.find(needle), std::string::npos) << st.error().message;
  };
  {
    auto f = consistent_fixture();
    f.shares[0].key_id.epoch_id = 3;
    expect_error(f.shares, f.keyset, "epoch 3");
  }
  {
    auto f = consistent_fixture();
    f.shares[0].key_id.attempt_id = 239;
    expect_error(f.shares, f.keyset, "attempt 239");
  }
  {
    auto f = consistent_fixture();
    f.shares[0].public_key[0] = f.shares[0].public_key[1] == '2' ? '0' : '0';
    f.shares[0].public_key[1] = f.shares[0].public_key[1] == '2' ? '3' : '2';  // wrong parity
    expect_error(f.shares, f.keyset, "group public key");
  }
  {
    auto f = consistent_fixture();
    f.shares[1].public_key[10] = f.shares[1].public_key[10] == 'a' ? 'b' : 'a';
    expect_error(f.shares, f.keyset, "group public key");
  }
  {
    auto f = consistent_fixture();
    f.shares.pop_back();
    expect_error(f.shares, f.keyset, "missing domain");
  }
  {
    auto f = consistent_fixture();
    f.shares.push_back(f.shares[0].clone());
    expect_error(f.shares, f.keyset, "two keyshares");
  }
  {
    auto f = consistent_fixture();
    f.shares[1].key_id.domain_id = 7;
    expect_error(f.shares, f.keyset, "extra domain");
  }
}

TEST(Keyshares, MalformedShareJsonIsRejectedWithoutEchoingTheSecret) {
  const std::string secret(63, 'a');
  json share = {{"key_id", {{"epoch_id", 1}, {"domain_id", 0}, {"attempt_id", 0}}},
                {"data", {{"Ed25519", {{"private_share", secret}, {"public_key", std::string(64, 'b')}}}}}};
  auto r = parse_keyshare(share);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find(secret), std::string::npos);
  EXPECT_NE(r.error().message.find("private_share"), std::string::npos) << r.error().message;
}

TEST(Rules, WhichKeysetToBackUpFollowsTheProtocolState) {
  auto running = parse_protocol_state(mainnet_state());
  ASSERT_TRUE(keyset_to_back_up(*running));
  EXPECT_EQ(keyset_to_back_up(*running)->epoch_id, 4u);
  ResharingState resharing;
  resharing.previous_running_state = *running->running();
  EXPECT_EQ(keyset_to_back_up(ProtocolState{resharing})->epoch_id, 4u);
  EXPECT_FALSE(keyset_to_back_up(ProtocolState{NotInitializedState{}}));
  EXPECT_FALSE(keyset_to_back_up(ProtocolState{InitializingState{}}));
  RunningState empty = *running->running();
  empty.keyset.domains.clear();
  EXPECT_FALSE(keyset_to_back_up(ProtocolState{empty}));
}


TEST(Types, OutOfRangeAndNonIntegerIdsAreRejectedByName) {
  auto msg = [](const char* text) {
    auto r = parse_key_event_id(json::parse(text));
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(msg(R"({"epoch_id":18446744073709551616,"domain_id":0,"attempt_id":0})").find("key_event_id.epoch_id"), std::string::npos);
  EXPECT_NE(msg(R"({"epoch_id":1,"domain_id":"0","attempt_id":0})").find("key_event_id.domain_id"), std::string::npos);
  EXPECT_NE(msg(R"({"epoch_id":1,"domain_id":0,"attempt_id":2.0})").find("key_event_id.attempt_id"), std::string::npos);
  auto ok = parse_key_event_id(json::parse(R"({"epoch_id":18446744073709551615,"domain_id":0,"attempt_id":7})"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->epoch_id, 18446744073709551615ull);
  EXPECT_EQ(to_json(*ok).dump(), R"({"attempt_id":7,"domain_id":0,"epoch_id":18446744073709551615})");
}

TEST(Types, ParticipantErrorsNameTheEntry) {
  json p = json::parse(R"({"next_id":2,"participants":[["a.near",0,{"url":"https://a","tls_public_key":"ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF"}],
                                                    ["b.near",-1,{"url":"https://b","tls_public_key":"ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF"}]]})");
  auto r = parse_participants(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("participants.participants[1][1]"), std::string::npos) << r.error().message;
  p["participants"][1][1] = 1;
  p["participants"][1][2]["tls_public_key"] = "ed25519:not-base58!";
  r = parse_participants(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("participants.participants[1][2].tls_public_key"), std::string::npos) << r.error().message;
  p["participants"][1][2]["tls_public_key"] = "ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF";
  r = parse_participants(p);
  ASSERT_TRUE(r) << r.error().message;
  const auto& key = r->participants[0].info.tls_public_key;
  EXPECT_EQ(r->find_by_tls_key(key)->account_id, "a.near");  // first match
  EXPECT_EQ(r->find("b.near")->id, 1u);
  EXPECT_EQ(r->find("c.near"), nullptr);
  EXPECT_EQ(to_json(*r), p);
}

TEST(Types, InitializingAndResharingStatesRoundTripWithTheirVoteBookkeeping) {
  json running = mainnet_state()["Running"];
  json event = {{"epoch_id", 5}, {"domain", running["domains"]["domains"][0]}, {"parameters", running["parameters"]},
                {"instance", {{"attempt_id", 3}, {"completed", json::array({1, 2})}, {"public_key", nullptr}}},
                {"next_attempt_id", 4}};
  json resharing = {{"Resharing",
                     {{"previous_running_state", running},
                      {"reshared_keys", json::array({running["keyset"]["domains"][0]})},
                      {"resharing_key", event},
                      {"cancellation_requests", json::array({"a.near"})}}}};
  auto r = parse_protocol_state(resharing);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_STREQ(r->name(), "Resharing");
  EXPECT_EQ(to_json(*r), resharing);
  EXPECT_EQ(keyset_to_back_up(*r)->epoch_id, 4u);

  json initializing = {{"Initializing",
                        {{"domains", running["domains"]},
                         {"epoch_id", 4},
                         {"generated_keys", json::array({running["keyset"]["domains"][0]})},
                         {"generating_key", event},
                         {"cancel_votes", json::array({0})}}}};
  auto i = parse_protocol_state(initializing);
  ASSERT_TRUE(i) << i.error().message;
  EXPECT_EQ(to_json(*i), initializing);
  EXPECT_FALSE(which_keyset_to_back_up(*i));
  EXPECT_EQ(to_json(ProtocolState{}), json("NotInitialized"));

  initializing["Initializing"]["generated_keys"][0]["attempt"] = -3;
  auto bad = parse_protocol_state(initializing);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("Initializing.generated_keys[0].attempt"), std::string::npos) << bad.error().message;
}

TEST(Types, PublicKeyExtendedNeedsExactlyOneKnownVariant) {
  EXPECT_FALSE(parse_public_key_extended(json::object()));
  auto unknown = parse_public_key_extended(json::parse(R"({"Ristretto":{}})"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("Ristretto"), std::string::npos);
  auto bls = parse_public_key_extended(json::parse(R"({"Bls12381":{"public_key":"bls12381g2:abc"}})"));
  ASSERT_TRUE(bls) << bls.error().message;
  EXPECT_EQ(to_json(*bls), json::parse(R"({"Bls12381":{"public_key":"bls12381g2:abc"}})"));
  auto bad_point = parse_public_key_extended(json::parse(R"({"Ed25519":{"near_public_key_compressed":
      "ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF","edwards_point":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,
      17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,256]}})"));
  ASSERT_FALSE(bad_point);
  EXPECT_NE(bad_point.error().message.find("key.Ed25519.edwards_point"), std::string::npos) << bad_point.error().message;
}

TEST(Keyshares, Bls12381SharesKeepThePrivateShareSecretAndCheckAgainstTheKeyset) {
  const Bytes group(96, 0x5a);
  KeyForDomain entry;
  entry.domain_id = 2;
  entry.attempt = 1;
  entry.key.kind = CurveKind::kBls12381;
  entry.key.bls_public_key = "bls12381g2:" + base58_encode(group);
  json share = {{"key_id", {{"epoch_id", 9}, {"domain_id", 2}, {"attempt_id", 1}}},
                {"data", {{"Bls12381", {{"private_share", std::string(64, 'c')}, {"public_key", hex_encode(group)}}}}}};
  auto k = parse_keyshare(share);
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->private_share.reveal(), std::string(64, 'c'));
  EXPECT_EQ(to_json(*k), share);
  EXPECT_TRUE(check_keyshare_consistent(*k, 9, entry));
  entry.key.bls_public_key = "bls12381g2:" + base58_encode(Bytes(96, 0x5b));
  EXPECT_FALSE(check_keyshare_consistent(*k, 9, entry));
}

// ---- key events as the state view shows them ----

// A Resharing state's resharing_key as the contract shows it: participants
// listed out of id order, attempt 3 started in block 100.
json key_event_json() {
  json participants = json::array();
  for (auto [account, id] : std::vector<std::pair<std::string, int>>{{"c.near", 7}, {"a.near", 5}, {"b.near", 2}}) {
    participants.push_back(json::array({account, id,
                                        {{"url", "https://" + account}, {"tls_public_key", "ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF"}}}));
  }
  return json{{"epoch_id", 4},
              {"domain", {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}, {"reconstruction_threshold", 2}}},
              {"parameters", {{"participants", {{"next_id", 8}, {"participants", participants}}}, {"threshold", 2}}},
              {"instance", {{"attempt_id", 3}, {"started_in", 100}, {"expires_on", 131}, {"completed", json::array({2, 7})},
                            {"public_key", mainnet_state()["Running"]["keyset"]["domains"][1]["key"]}}},
              {"next_attempt_id", 4}};
}

TEST(KeyEvents, ParseKeyEventReadsTheAttemptAndItsLeader) {
  const json j = key_event_json();
  auto e = parse_key_event(j);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->epoch_id, 4u);
  EXPECT_EQ(e->domain.id, 1u);
  EXPECT_EQ(e->parameters.participants.participants.size(), 3u);
  EXPECT_EQ(e->next_attempt_id, 4u);
  ASSERT_TRUE(e->instance);
  EXPECT_EQ(e->instance->attempt_id, 3u);
  EXPECT_EQ(e->instance->started_in, 100u);
  EXPECT_EQ(e->instance->expires_on, 131u);
  EXPECT_EQ(e->instance->completed, (std::vector<std::uint64_t>{2, 7}));
  ASSERT_TRUE(e->instance->public_key);
  EXPECT_EQ(to_json(*e->instance->public_key), j["instance"]["public_key"]);
  EXPECT_EQ(e->leader(), 2u);  // the lowest id, not the first listed
  EXPECT_EQ(e->next_id(), (KeyEventId{4, 1, 4}));
  auto again = parse_key_event(j);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *e);
}

TEST(KeyEvents, ActiveIdEndsOnTheExpiryBlock) {
  auto e = parse_key_event(key_event_json());
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->active_id(100), (KeyEventId{4, 1, 3}));
  EXPECT_EQ(e->active_id(130), (KeyEventId{4, 1, 3}));  // the last block of the attempt
  EXPECT_EQ(e->active_id(131), std::nullopt);
  EXPECT_EQ(e->active_id(5000), std::nullopt);
}

TEST(KeyEvents, ParseKeyEventWithoutAnAttempt) {
  json j = key_event_json();
  j["instance"] = nullptr;
  auto none = parse_key_event(j);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->instance);
  EXPECT_EQ(none->active_id(100), std::nullopt);
  EXPECT_EQ(none->next_id(), (KeyEventId{4, 1, 4}));
  j.erase("instance");
  auto absent = parse_key_event(j);
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_EQ(*absent, *none);
  j = key_event_json();
  j["instance"]["public_key"] = nullptr;  // started, nobody voted yet
  auto unvoted = parse_key_event(j);
  ASSERT_TRUE(unvoted) << unvoted.error().message;
  EXPECT_FALSE(unvoted->instance->public_key);
}

TEST(KeyEvents, ParseKeyEventErrorsNameTheField) {
  auto error_of = [](const json& j) {
    auto e = parse_key_event(j);
    return e ? std::string("<parsed>") : e.error().message;
  };
  EXPECT_EQ(error_of(json::array()), "key_event must be a JSON object");
  json j = key_event_json();
  j["instance"]["completed"][1] = "b.near";
  EXPECT_EQ(error_of(j), "key_event.instance.completed[1] must be an unsigned participant id");
  j = key_event_json();
  j["instance"].erase("expires_on");
  EXPECT_EQ(error_of(j), "key_event.instance.expires_on is missing");
  j = key_event_json();
  j["instance"] = 3;
  EXPECT_EQ(error_of(j), "key_event.instance must be a JSON object");
  j = key_event_json();
  j["next_attempt_id"] = -1;
  EXPECT_EQ(error_of(j), "key_event.next_attempt_id must be an unsigned integer (u64), got -1");
  j = key_event_json();
  j["domain"].erase("id");
  EXPECT_EQ(error_of(j), "key_event.domain.id is missing");
  j = key_event_json();
  j["parameters"]["participants"]["participants"] = json::array();
  EXPECT_EQ(error_of(j), "key_event.parameters.participants.participants must not be empty (a key event has a leader)");
  j = key_event_json();
  j["instance"]["public_key"] = {{"Ed25519", json::object()}};
  EXPECT_EQ(error_of(j).rfind("key_event.instance.public_key.Ed25519", 0), 0u) << error_of(j);
}

TEST(GroupKeys, TheKeysharesFormOfAKeyAndTheExtendedFormOfANearKey) {
  // secp256k1: the generator's X || Y compresses to 02 || X (Y even).
  auto xy = hex_decode("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                       "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
  ASSERT_TRUE(xy);
  Secp256k1PublicKey g;
  std::copy(xy->begin(), xy->end(), g.bytes.begin());
  const auto secp = public_key_extended_of(NearPublicKey{g});
  EXPECT_EQ(secp.kind, CurveKind::kSecp256k1);
  auto compressed = keyshare_group_key(secp);
  ASSERT_TRUE(compressed);
  EXPECT_EQ(hex_encode(*compressed), "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  // Ed25519: the point itself, and the extended form carries it twice.
  Ed25519PublicKey ed;
  ed.bytes.fill(7);
  const auto edx = public_key_extended_of(NearPublicKey{ed});
  EXPECT_EQ(edx.kind, CurveKind::kEd25519);
  EXPECT_EQ(edx.edwards_point, ed.bytes);
  EXPECT_EQ(*keyshare_group_key(edx), Bytes(ed.bytes.begin(), ed.bytes.end()));
  // A key without its bytes has no such form.
  PublicKeyExtended empty;
  empty.kind = CurveKind::kSecp256k1;
  EXPECT_FALSE(keyshare_group_key(empty));
  empty.kind = CurveKind::kBls12381;
  empty.bls_public_key = "no-prefix";
  EXPECT_FALSE(keyshare_group_key(empty));
}

}  // namespace
}  // namespace mpc::model
