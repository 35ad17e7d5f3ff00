// The contract as a whole: atomic calls, dispatch errors, serialisation and
// genesis states, views.
#include "support/contract/contract_test_fixture.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mpc::contract {
namespace {

using namespace mpc::contract::fixture;

class StateTest : public ContractTest {};

TEST_F(StateTest, CallThatFailsLeavesTheStateByteIdentical) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node0.near", "vote_new_parameters",
                   {{"prospective_epoch_id", 1}, {"proposal", running()["parameters"]}}));
  const std::string before = contract_.serialize();
  EXPECT_FALSE(call("node1.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 9}, {"domains", json::array()}}}}));
  EXPECT_FALSE(call("node1.near", "start_node_migration", {{"destination_node_info", {{"bad", 1}}}}, 1));
  EXPECT_FALSE(call("node2.near", "cancel_node_migration", json::object(), 5));
  EXPECT_FALSE(call("node2.near", "vote_new_parameters", {{"prospective_epoch_id", 5}, {"proposal", running()["parameters"]}}));
  EXPECT_FALSE(call("node2.near", "vote_add_domains", {{"domains", json::array({{{"id", 9}, {"protocol", "Frost"}}})}}));
  EXPECT_FALSE(call("node2.near", "vote_cancel_resharing", json::object()));
  EXPECT_EQ(contract_.serialize(), before);
}

// The `state` view is made once per protocol state and shared: after every
// call it must equal the view of the same state loaded afresh, and a call
// that leaves the protocol state alone (or fails) keeps the very same text.
TEST_F(StateTest, TheStateViewFollowsEveryProtocolChangeAndIsKeptOtherwise) {
  auto shared = [&] {
    auto v = contract_.view_text("state", {});
    EXPECT_TRUE(v);
    return v ? *v : nullptr;
  };
  auto expect_fresh = [&](const std::string& when) {
    auto loaded = MpcContract::deserialize(contract_.serialize());
    ASSERT_TRUE(loaded) << loaded.error().message;
    auto fresh = loaded->view("state", {});
    ASSERT_TRUE(fresh);
    EXPECT_EQ(*shared(), std::string(fresh->begin(), fresh->end())) << when;
    EXPECT_EQ(contract_.view("state", {}).value(), *fresh) << when;
  };
  expect_fresh("initialized");
  auto before = shared();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  EXPECT_EQ(shared(), before) << "a backup service is not part of the state view";
  EXPECT_FALSE(call("node0.near", "update_participant_url", {{"url", ""}}, 1));
  EXPECT_EQ(shared(), before) << "a failed call changes nothing";
  expect_fresh("after a backup service and a failed call");

  ASSERT_TRUE(call("node0.near", "update_participant_url", {{"url", "https://moved"}}, 1));
  EXPECT_NE(*shared(), *before);
  EXPECT_NE(shared()->find("https://moved"), std::string::npos);
  expect_fresh("after a url update");

  // A clone shares the protocol state until one of the two changes it.
  MpcContract copy = contract_.clone();
  const auto kept = shared();
  auto moved = copy.call(ctx("node1.near", 1), "update_participant_url", core::as_bytes(json{{"url", "https://copy"}}.dump()));
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(shared(), kept);
  EXPECT_EQ(shared()->find("https://copy"), std::string::npos);
  EXPECT_NE((*copy.view_text("state", {}))->find("https://copy"), std::string::npos);

  add_two_domains();
  expect_fresh("after key generation");
  start_resharing();
  expect_fresh("resharing");
  vote_all("vote_cancel_resharing", json::object(), {"node0.near", "node1.near"});
  ASSERT_TRUE(state().contains("Running"));
  expect_fresh("after a cancelled resharing");
}

TEST_F(StateTest, CallTellsAnUnknownMethodFromBadArguments) {
  auto unknown = contract_.call(ctx("node0.near"), "frobnicate", core::as_bytes("{}"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message, "Method frobnicate not found");
  auto bad = contract_.call(ctx("node0.near", 1), "register_backup_service", core::as_bytes("{nope"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
  auto missing = call("node0.near", "register_backup_service", json::object(), 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("backup_service_info"), std::string::npos);
  auto view_unknown = contract_.view("frobnicate", {});
  ASSERT_FALSE(view_unknown);
  EXPECT_EQ(view_unknown.error().code, core::ErrorCode::kNotFound);
}

// Found with fuzz/contract_call_fuzz's NUL property: nlohmann stopped at the
// NUL and the call succeeded, where NEAR's serde_json refuses the arguments.
TEST_F(StateTest, CallRefusesArgumentsWithANulByteAfterTheJson) {
  const unsigned char args[] = {'{', '"', 'u', 'r', 'l', '"', ':', '"', 'h', 't', 't', 'p', 's', ':',
                                '/', '/', 'x', '"', '}', 0x00, 'z', 'z'};
  const std::string before = contract_.serialize();
  auto r = contract_.call(ctx("node2.near", 1), "update_participant_url", core::ByteView(args, sizeof args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(contract_.serialize(), before);
  EXPECT_TRUE(contract_.call(ctx("node2.near", 1), "update_participant_url", core::ByteView(args, 19)));  // the JSON alone
}

TEST_F(StateTest, SerializeRoundTripsAnInitializingStateAndKeygenContinues) {
  add_two_domains();
  json domains = json::array({{{"id", 2}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  ASSERT_TRUE(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  auto back = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), contract_.serialize());
  contract_ = std::move(*back);
  json pk = ed25519_pk_extended();
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 2, 0)}}));
  vote_all("vote_pk", {{"key_event_id", event_id(0, 2, 0)}, {"public_key", pk}});
  EXPECT_EQ(running()["keyset"]["domains"].size(), 3u);
}

TEST_F(StateTest, SerializeRoundTripsTheWholeStateVotesIncluded) {
  add_two_domains();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", running()["parameters"]}}));
  auto back = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), contract_.serialize());
  // Mid-resharing too, votes included.
  start_resharing();
  ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}}));
  ASSERT_TRUE(call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}}));
  auto mid = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(mid) << mid.error().message;
  EXPECT_EQ(mid->serialize(), contract_.serialize());
  EXPECT_EQ(mid->view("state", {}).value(), contract_.view("state", {}).value());
}

TEST(StateGenesis, DeserializeAcceptsTheRealMainnetRunningState) {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  ASSERT_TRUE(in);
  json fixture = json::parse(in);
  auto c = MpcContract::deserialize(json{{"protocol_state", fixture}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  auto view = c->view("state", {});
  ASSERT_TRUE(view);
  EXPECT_EQ(json::parse(view->begin(), view->end()), fixture);
  auto info = c->view("migration_info", {});
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(info->begin(), info->end()), json::object());
}

TEST(StateGenesis, DeserializeAMainnetGenesisWithMigrationsLetsANodeConclude) {
  json fixture = mainnet_fixture();
  json participant = fixture["Running"]["parameters"]["participants"]["participants"][3];
  const std::string account = participant[0];
  auto access = core::Ed25519SecretKey::generate();
  json dest = {{"signer_account_pk", key_text(access)},
               {"destination_node_info", {{"url", "https://new-host:3000"}, {"tls_public_key", new_key()}}}};
  json backup = {{"public_key", new_key()}};
  json genesis = {{"protocol_state", fixture},
                  {"backup_services", {{account, backup}}},
                  {"migrations", {{account, dest}}}};
  auto c = MpcContract::deserialize(genesis.dump());
  ASSERT_TRUE(c) << c.error().message;
  auto info = c->view("migration_info", {});
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(info->begin(), info->end()), (json{{account, json::array({backup, dest})}}));

  CallContext ctx{account, account, "v1.signer", core::NearPublicKey{access.public_key()}, 0, 1};
  const std::string attest = json{{"proposed_participant_attestation", {{"Mock", "Valid"}}},
                                  {"tls_public_key", dest["destination_node_info"]["tls_public_key"]}}.dump();
  ASSERT_TRUE(c->call(ctx, "submit_participant_info", core::as_bytes(attest)));
  const std::string args = json{{"keyset", fixture["Running"]["keyset"]}}.dump();
  auto r = c->call(ctx, "conclude_node_migration", core::as_bytes(args));
  ASSERT_TRUE(r) << r.error().message;
  auto state = c->view("state", {});
  json after = json::parse(state->begin(), state->end());
  json expected = fixture;
  expected["Running"]["parameters"]["participants"]["participants"][3][2] = dest["destination_node_info"];
  EXPECT_EQ(after, expected);  // legacy domain fields and everything else untouched
  auto back = MpcContract::deserialize(c->serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), c->serialize());
}

TEST(StateGenesis, DeserializeRejectsMalformedMigrationMaps) {
  json fixture = mainnet_fixture();
  EXPECT_FALSE(MpcContract::deserialize(json{{"protocol_state", fixture}, {"backup_services", json::array()}}.dump()));
  auto bad = MpcContract::deserialize(
      json{{"protocol_state", fixture}, {"migrations", {{"a.near", {{"signer_account_pk", "ed25519:x"}}}}}}.dump());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("migrations.a.near"), std::string::npos) << bad.error().message;
  json negative = fixture;
  negative["Running"]["keyset"]["epoch_id"] = -1;
  EXPECT_FALSE(MpcContract::deserialize(json{{"protocol_state", negative}}.dump()));
}

TEST(StateGenesis, DeserializeRejectsMalformedStates) {
  EXPECT_FALSE(MpcContract::deserialize("not json"));
  EXPECT_FALSE(MpcContract::deserialize(R"({"protocol_state":"Frozen"})"));
  EXPECT_FALSE(MpcContract::deserialize(R"({"protocol_state":{"Running":{"keyset":{}}}})"));
  EXPECT_TRUE(MpcContract::deserialize(R"({"protocol_state":"NotInitialized"})"));
  json fixture = mainnet_fixture();
  json resharing = {{"Resharing",
                     {{"previous_running_state", fixture["Running"]},
                      {"reshared_keys", json::array()},
                      {"resharing_key", json::object()},
                      {"cancellation_requests", json::array()}}}};
  auto r = MpcContract::deserialize(json{{"protocol_state", resharing}}.dump());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("resharing_key"), std::string::npos) << r.error().message;
  json init = {{"Initializing", {{"domains", fixture["Running"]["domains"]}, {"epoch_id", 4}, {"generated_keys", json::array()}}}};
  EXPECT_FALSE(MpcContract::deserialize(json{{"protocol_state", init}}.dump()));
}

json state_view(const MpcContract& c) {
  auto v = c.view("state", {});
  EXPECT_TRUE(v) << v.error().message;
  return json::parse(v->begin(), v->end());
}

// A Resharing genesis in an older form: the key event's instance has no
// block heights, no domain records a reconstruction threshold and the
// previous running state has no vote maps.
json older_resharing_genesis() {
  json running = mainnet_fixture()["Running"];
  for (auto& d : running["domains"]["domains"]) d.erase("reconstruction_threshold");
  running.erase("parameters_votes");
  running.erase("add_domains_votes");
  json event = {{"epoch_id", running["keyset"]["epoch_id"].get<std::uint64_t>() + 1},
                {"domain", running["domains"]["domains"][0]},
                {"parameters", running["parameters"]},
                {"instance", {{"attempt_id", 3}, {"completed", json::array()}, {"public_key", nullptr}}},
                {"next_attempt_id", 4}};
  return json{{"Resharing",
               {{"previous_running_state", running},
                {"reshared_keys", json::array()},
                {"resharing_key", event},
                {"cancellation_requests", json::array()}}}};
}

TEST(StateGenesis, DeserializeFillsInWhatAnOlderResharingStateLacks) {
  const json genesis = older_resharing_genesis();
  auto c = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  const json r = state_view(*c)["Resharing"];
  const std::uint64_t threshold = genesis["Resharing"]["previous_running_state"]["parameters"]["threshold"];
  // The attempt counts from block 0 and lasts the default 30 blocks (it
  // expires on started_in + 1 + 30).
  EXPECT_EQ(r["resharing_key"]["instance"]["started_in"], 0);
  EXPECT_EQ(r["resharing_key"]["instance"]["expires_on"], 31);
  EXPECT_EQ(r["resharing_key"]["domain"]["reconstruction_threshold"], threshold);
  for (const auto& d : r["previous_running_state"]["domains"]["domains"]) EXPECT_EQ(d["reconstruction_threshold"], threshold);
  EXPECT_EQ(r["previous_running_state"]["parameters_votes"], (json{{"proposal_by_account", json::object()}}));
  EXPECT_EQ(r["previous_running_state"]["add_domains_votes"], (json{{"proposal_by_account", json::object()}}));
  // Filled in once: the stored form now has them and round-trips.
  auto back = MpcContract::deserialize(c->serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), c->serialize());
}

TEST(StateGenesis, DeserializeKeepsTheFieldsItDoesNotKnowAsGiven) {
  json genesis = older_resharing_genesis();
  json& r = genesis["Resharing"];
  r["legacy"] = {{"a", 1}};
  r["previous_running_state"]["legacy"] = "kept";
  r["previous_running_state"]["previously_cancelled_resharing_epoch_id"] = nullptr;  // how the reference shows None
  r["resharing_key"]["legacy"] = json::array({1, 2});
  r["resharing_key"]["instance"]["legacy"] = false;
  r["resharing_key"]["instance"]["started_in"] = 12;
  auto c = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  const json view = state_view(*c)["Resharing"];
  EXPECT_EQ(view["legacy"], r["legacy"]);
  EXPECT_EQ(view["previous_running_state"]["legacy"], "kept");
  EXPECT_EQ(view["previous_running_state"]["previously_cancelled_resharing_epoch_id"], nullptr);
  EXPECT_EQ(view["resharing_key"]["legacy"], r["resharing_key"]["legacy"]);
  EXPECT_EQ(view["resharing_key"]["instance"]["legacy"], false);
  EXPECT_EQ(view["resharing_key"]["instance"]["started_in"], 12);
  EXPECT_EQ(view["resharing_key"]["instance"]["expires_on"], 43);
  // The legacy "curve" of the mainnet domains, too.
  EXPECT_EQ(view["previous_running_state"]["domains"]["domains"][0]["curve"], "Secp256k1");
}

TEST(StateGenesis, DeserializeRejectsKeyEventsAndVotesThatDoNotParse) {
  auto error_of = [](const json& state) {
    auto c = MpcContract::deserialize(json{{"protocol_state", state}}.dump());
    return c ? std::string("<loaded>") : c.error().message;
  };
  json bad = older_resharing_genesis();
  bad["Resharing"]["resharing_key"]["instance"]["completed"] = json::array({"node0.near"});
  EXPECT_NE(error_of(bad).find("resharing_key.instance.completed"), std::string::npos) << error_of(bad);
  bad = older_resharing_genesis();
  bad["Resharing"]["resharing_key"]["instance"]["public_key"] = {{"Ed25519", json::object()}};
  EXPECT_NE(error_of(bad).find("resharing_key.instance.public_key"), std::string::npos) << error_of(bad);
  bad = older_resharing_genesis();
  bad["Resharing"]["resharing_key"]["parameters"]["threshold"] = 1;
  EXPECT_EQ(error_of(bad), "protocol_state.Resharing.resharing_key.parameters: Threshold does not meet the minimum absolute requirement");
  json running = mainnet_fixture();
  running["Running"]["parameters_votes"]["proposal_by_account"]["a.near"] = {{"threshold", 2}};
  EXPECT_NE(error_of(running).find("Running.parameters_votes.proposal_by_account.a.near"), std::string::npos) << error_of(running);
  running = mainnet_fixture();
  running["Running"]["previously_cancelled_resharing_epoch_id"] = "soon";
  EXPECT_NE(error_of(running).find("previously_cancelled_resharing_epoch_id"), std::string::npos) << error_of(running);
}

TEST(StateGenesis, DeserializeTakesTheKeyEventTimeoutFromTheConfigAndKeepsIt) {
  json genesis = {{"protocol_state", older_resharing_genesis()}, {"config", {{"key_event_timeout_blocks", 100}}}};
  genesis["protocol_state"]["Resharing"]["resharing_key"]["instance"]["started_in"] = 7;
  auto c = MpcContract::deserialize(genesis.dump());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(state_view(*c)["Resharing"]["resharing_key"]["instance"]["expires_on"], 108);  // 7 + 1 + 100
  auto config = c->view("config", {});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(json::parse(config->begin(), config->end()), (json{{"key_event_timeout_blocks", 100}}));
  EXPECT_EQ(json::parse(c->serialize())["config"], (json{{"key_event_timeout_blocks", 100}}));
  auto back = MpcContract::deserialize(c->serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), c->serialize());
  // Without one (or null): the reference's default.
  auto plain = MpcContract::deserialize(json{{"protocol_state", "NotInitialized"}, {"config", nullptr}}.dump());
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(json::parse(core::to_string(plain->view("config", {}).value())), (json{{"key_event_timeout_blocks", 30}}));
}

TEST(StateGenesis, DeserializeRefusesAConfigItCannotHonour) {
  auto error_of = [](const json& config) {
    auto c = MpcContract::deserialize(json{{"protocol_state", "NotInitialized"}, {"config", config}}.dump());
    return c ? std::string("<loaded>") : c.error().message;
  };
  EXPECT_EQ(error_of({{"key_event_timeout_blocks", -1}}), "config.key_event_timeout_blocks must be an unsigned integer (blocks)");
  EXPECT_EQ(error_of({{"key_event_timeout_blocks", "30"}}), "config.key_event_timeout_blocks must be an unsigned integer (blocks)");
  EXPECT_EQ(error_of({{"key_event_timeout_blocks", 30}, {"sign_call_gas_attachment_requirement_tera_gas", 15}}),
            "config.sign_call_gas_attachment_requirement_tera_gas is not a setting of this contract (it has "
            "key_event_timeout_blocks and attestation_mode only)");
  EXPECT_EQ(error_of(json::array()), "config must be an object");
}

TEST(StateGenesis, DeserializeReadsAKeyEventWithoutAnInstanceAndSortsParticipantSets) {
  json genesis = older_resharing_genesis();
  genesis["Resharing"]["resharing_key"]["instance"] = nullptr;
  auto none = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(state_view(*none)["Resharing"]["resharing_key"]["instance"], nullptr);
  genesis["Resharing"]["resharing_key"].erase("instance");  // an older genesis: none either
  auto absent = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_EQ(state_view(*absent)["Resharing"]["resharing_key"]["instance"], nullptr);
  // The reference keeps `completed` as a set: ascending, once each.
  genesis = older_resharing_genesis();
  genesis["Resharing"]["resharing_key"]["instance"]["completed"] = json::array({2, 0, 2});
  auto sorted = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(sorted) << sorted.error().message;
  EXPECT_EQ(state_view(*sorted)["Resharing"]["resharing_key"]["instance"]["completed"], json::array({0, 2}));
}

TEST(StateGenesis, DeserializeANullCancelledEpochMeansNoneUntilAResharingIsCancelled) {
  json genesis = json::parse(R"({"Running":{"domains":{"domains":[],"next_domain_id":0},
                                            "keyset":{"epoch_id":5,"domains":[]},
                                            "previously_cancelled_resharing_epoch_id":null}})");
  genesis["Running"]["parameters"] = params_json(3, 2);
  auto c = MpcContract::deserialize(json{{"protocol_state", genesis}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  const json parameters = genesis["Running"]["parameters"];
  auto vote = [&](const std::string& who, std::uint64_t epoch) {
    const std::string args = json{{"prospective_epoch_id", epoch}, {"proposal", parameters}}.dump();
    CallContext ctx{who, who, "mpc.near", core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()}, 0, 1};
    auto r = c->call(ctx, "vote_new_parameters", core::as_bytes(args));
    return r ? std::string("<success>") : r.error().message;
  };
  EXPECT_EQ(vote("node0.near", 6), "<success>");  // keyset epoch + 1
  EXPECT_EQ(state_view(*c)["Running"]["previously_cancelled_resharing_epoch_id"], nullptr);
}

}  // namespace
}  // namespace mpc::contract
