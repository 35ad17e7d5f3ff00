#include "core/types.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace mpc::core {
namespace {

json mainnet_state() {
  const char* shared = std::getenv("MPC_SHARED_DIR");
  if (shared == nullptr) shared = MPC_SHARED_DIR_DEFAULT;
  std::ifstream in(std::string(shared) + "/fixtures/reference/contract_state_mainnet_running.json");
  EXPECT_TRUE(in) << "missing mainnet fixture";
  return json::parse(in);
}

TEST(Types, the_mainnet_state_round_trips_exactly) {
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

TEST(Types, the_mainnet_ed25519_key_matches_its_edwards_point) {
  auto state = parse_protocol_state(mainnet_state());
  const auto& k = state->running()->keyset.domains[1].key;
  ASSERT_EQ(k.kind, CurveKind::kEd25519);
  EXPECT_EQ(k.near_public_key->ed25519().bytes, k.edwards_point);
}

TEST(Types, u64_ids_above_2_pow_53_round_trip) {
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

TEST(Types, bad_inputs_name_the_field) {
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

TEST(Types, migration_info_round_trips) {
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

TEST(Keyshares, consistent_shares_cover_the_keyset) {
  auto f = consistent_fixture();
  EXPECT_TRUE(check_keyshares_cover_keyset(f.shares, f.keyset));
  // JSON round trip keeps them consistent.
  json j = json::array({to_json(f.shares[0]), to_json(f.shares[1])});
  auto back = parse_keyshares(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(check_keyshares_cover_keyset(*back, f.keyset));
}

TEST(Keyshares, every_inconsistency_is_named) {
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

TEST(Keyshares, malformed_share_json_is_rejected_without_echoing_the_secret) {
  const std::string secret(63, 'a');
  json share = {{"key_id", {{"epoch_id", 1}, {"domain_id", 0}, {"attempt_id", 0}}},
                {"data", {{"Ed25519", {{"private_share", secret}, {"public_key", std::string(64, 'b')}}}}}};
  auto r = parse_keyshare(share);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find(secret), std::string::npos);
  EXPECT_NE(r.error().message.find("private_share"), std::string::npos) << r.error().message;
}

TEST(Rules, which_keyset_to_back_up_follows_the_protocol_state) {
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

}  // namespace
}  // namespace mpc::core
