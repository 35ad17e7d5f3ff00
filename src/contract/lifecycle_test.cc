// The protocol lifecycle as a specification: init, adding domains and key
// generation, new parameters and resharing, and their cancellations.
#include "support/contract/contract_test_fixture.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mpc::contract {
namespace {

using namespace mpc::contract::fixture;

class LifecycleTest : public ContractTest {};

TEST_F(LifecycleTest, InitStartsRunningAtEpochZeroWithoutDomains) {
  json r = running();
  EXPECT_EQ(r["keyset"], (json{{"epoch_id", 0}, {"domains", json::array()}}));
  EXPECT_EQ(r["parameters"]["threshold"], 2);
  EXPECT_EQ(r["parameters_votes"], (json{{"proposal_by_account", json::object()}}));
  EXPECT_EQ(r["add_domains_votes"], (json{{"proposal_by_account", json::object()}}));
  EXPECT_EQ(error_of(call("mpc.near", "init", json{{"parameters", params_json(3, 2)}})), "The contract is already initialized.");
  EXPECT_EQ(view("version").get<std::string>().rfind("mpc-sandbox-contract ", 0), 0u);
}

TEST_F(LifecycleTest, InitEnforcesThresholdsAndTheContractAccount) {
  MpcContract fresh;
  auto init = [&](int n, int t) {
    const std::string args = json{{"parameters", params_json(n, t)}}.dump();
    auto r = fresh.call(ctx("mpc.near"), "init", core::as_bytes(args));
    return r ? std::string("<success>") : r.error().message;
  };
  EXPECT_EQ(init(3, 1), "Threshold does not meet the minimum absolute requirement");
  EXPECT_EQ(init(3, 4), "Threshold must not exceed number of participants: max 3, found 4");
  EXPECT_EQ(init(5, 2), "Threshold does not meet the minimum relative requirement: require at least 3, found 2");
  EXPECT_EQ(init(10, 5), "Threshold does not meet the minimum relative requirement: require at least 6, found 5");
  EXPECT_EQ(init(1, 1), "Threshold does not meet the minimum absolute requirement");
  const std::string ok = json{{"parameters", params_json(3, 2)}}.dump();
  EXPECT_FALSE(fresh.call(ctx("someone.near"), "init", core::as_bytes(ok)));
  EXPECT_EQ(fresh.view("state", {}).value(), core::Bytes({'"', 'N', 'o', 't', 'I', 'n', 'i', 't', 'i', 'a', 'l', 'i', 'z', 'e', 'd', '"'}));
  EXPECT_TRUE(fresh.call(ctx("mpc.near"), "init", core::as_bytes(ok)));
}

TEST_F(LifecycleTest, InitRejectsDuplicateParticipants) {
  MpcContract fresh;
  json p = params_json(3, 2);
  p["participants"]["participants"][2][0] = "node0.near";
  const std::string args = json{{"parameters", p}}.dump();
  auto r = fresh.call(ctx("mpc.near"), "init", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Duplicate account IDs found.");
}

TEST_F(LifecycleTest, VoteAddDomainsNeedsEveryParticipantThenEveryParticipantVotesTheKey) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}}, {"node0.near", "node1.near"});
  EXPECT_TRUE(state().contains("Running"));  // 2 of 3: the reference needs all of them
  EXPECT_EQ(running()["add_domains_votes"]["proposal_by_account"].size(), 2u);
  EXPECT_EQ(error_of(call("stranger.near", "vote_add_domains", {{"domains", domains}})), "Not a participant: stranger.near");
  ASSERT_TRUE(call("node2.near", "vote_add_domains", {{"domains", domains}}));
  json init = state()["Initializing"];
  EXPECT_EQ(init["generating_key"]["domain"]["id"], 0);
  EXPECT_EQ(init["epoch_id"], 0);
  // No attempt until the leader starts one.
  EXPECT_EQ(init["generating_key"]["instance"], nullptr);
  EXPECT_EQ(init["generating_key"]["next_attempt_id"], 0);
  json pk = ed25519_pk_extended();
  json id = event_id(0, 0, 0);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", pk}}, {"node0.near", "node1.near"});
  EXPECT_TRUE(state().contains("Initializing"));  // keygen needs every participant
  ASSERT_TRUE(call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
  json r = running();
  ASSERT_EQ(r["keyset"]["domains"].size(), 1u);
  EXPECT_EQ(r["keyset"]["domains"][0], (json{{"domain_id", 0}, {"key", pk}, {"attempt", 0}}));
  EXPECT_EQ(r["domains"]["next_domain_id"], 1);
}

TEST_F(LifecycleTest, VoteAddDomainsRejectsEmptyAndNonContiguousProposals) {
  EXPECT_EQ(error_of(call("node0.near", "vote_add_domains", {{"domains", json::array()}})),
            "vote_add_domains must add at least one domain");
  json gap = json::array({{{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  EXPECT_EQ(error_of(call("node0.near", "vote_add_domains", {{"domains", gap}})),
            "Newly proposed domain IDs are not contiguous. Expected id: 0");
  auto bad = call("node0.near", "vote_add_domains", {{"domains", "Frost"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(LifecycleTest, VotePkDisagreementEndsTheAttemptAndTheLeaderStartsTheNext) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  json id = event_id(0, 0, 0);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  ASSERT_TRUE(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  auto disagreeing = call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}});
  ASSERT_TRUE(disagreeing) << disagreeing.error().message;  // the call succeeds: the attempt is over
  EXPECT_EQ(disagreeing->logs, std::vector<std::string>{"Public key disagreement; aborting key event instance."});
  json event = state()["Initializing"]["generating_key"];
  EXPECT_EQ(event["instance"], nullptr);
  EXPECT_EQ(event["next_attempt_id"], 1);
  EXPECT_EQ(error_of(call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}})),
            "Expected ongoing reshare");
  EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", id}})), "Key event Id mismatch");
  // The next attempt succeeds and its number is recorded in the keyset.
  id = event_id(0, 0, 1);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  json pk = ed25519_pk_extended();
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", pk}});
  EXPECT_EQ(running()["keyset"]["domains"][0]["attempt"], 1);
}

TEST_F(LifecycleTest, VotePkOnlyCountsParticipantsAndOnlyWhileInitializing) {
  json id = event_id(0, 0, 0);
  EXPECT_EQ(error_of(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}})),
            "Protocol state is not initializing.");
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  json pk = ed25519_pk_extended();
  EXPECT_EQ(error_of(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}})), "Expected ongoing reshare");
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  EXPECT_EQ(error_of(call("stranger.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}})),
            "Not a participant: stranger.near");
  EXPECT_EQ(error_of(call("node1.near", "vote_pk", {{"key_event_id", event_id(0, 0, 1)}, {"public_key", pk}})),
            "Key event Id mismatch");
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", pk}}, {"node1.near", "node0.near"});
  EXPECT_EQ(error_of(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}})), "Vote already casted.");
  EXPECT_TRUE(state().contains("Initializing"));
  // A set, as the reference keeps it: ascending, whatever the vote order.
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["completed"], json::array({0, 1}));
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["public_key"], pk);
  auto bad_key = call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", {{"Ed25519", json::object()}}}});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(LifecycleTest, StartKeygenInstanceIsTheLeadersWithTheNextIdAndOneAttemptAtATime) {
  json id = event_id(0, 0, 0);
  EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", id}})), "Protocol state is not initializing.");
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  EXPECT_EQ(error_of(call("node1.near", "start_keygen_instance", {{"key_event_id", id}})),
            "Voting account is not the leader of the current reshare or keygen instance.");
  EXPECT_EQ(error_of(call("stranger.near", "start_keygen_instance", {{"key_event_id", id}})), "Not a participant: stranger.near");
  for (const json& wrong : {event_id(0, 0, 1), event_id(1, 0, 0), event_id(0, 1, 0)}) {
    EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", wrong}})), "Key event Id mismatch") << wrong;
  }
  EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}, 1)),
            "Method start_keygen_instance doesn't accept deposit");
  auto forwarded = ctx("node0.near");
  forwarded.predecessor_account_id = "multisig.near";
  const std::string args = json{{"key_event_id", id}}.dump();
  auto r = contract_.call(forwarded, "start_keygen_instance", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Caller is not the signer account.");
  auto missing = call("node0.near", "start_keygen_instance", json::object());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kInvalidArgument);

  block_height_ = 50;
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  json event = state()["Initializing"]["generating_key"];
  EXPECT_EQ(event["instance"], (json{{"attempt_id", 0}, {"started_in", 50}, {"expires_on", 81}, {"completed", json::array()},
                                     {"public_key", nullptr}}));
  EXPECT_EQ(event["next_attempt_id"], 1);
  EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}})),
            "Can not start a new reshare or keygen instance while the current instance is still active.");
}

TEST_F(LifecycleTest, AnAttemptExpiresOnItsBlockAndTheLeaderStartsTheNext) {
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  block_height_ = 10;
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}}));
  json pk = ed25519_pk_extended();
  block_height_ = 40;  // expires_on 41: the last block of the attempt
  ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", pk}}));
  block_height_ = 41;
  EXPECT_EQ(error_of(call("node2.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", pk}})),
            "Expected ongoing reshare");
  EXPECT_EQ(error_of(call("node0.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 0, 0)}})),
            "Expected ongoing reshare");
  // Still shown until a call drops it; the next start does.
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["expires_on"], 41);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}}));
  json instance = state()["Initializing"]["generating_key"]["instance"];
  EXPECT_EQ(instance["attempt_id"], 1);
  EXPECT_EQ(instance["completed"], json::array());
  vote_all("vote_pk", {{"key_event_id", event_id(0, 0, 1)}, {"public_key", pk}});
  EXPECT_EQ(running()["keyset"]["domains"][0], (json{{"domain_id", 0}, {"key", pk}, {"attempt", 1}}));
}

TEST_F(LifecycleTest, VoteAbortEndsTheAttemptUnlessTheVoterAlreadyVotedSuccess) {
  json id = event_id(0, 0, 0);
  EXPECT_EQ(error_of(call("node0.near", "vote_abort_key_event_instance", {{"key_event_id", id}})),
            "Protocol state is not running, nor resharing.");  // the reference's text for Running
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  EXPECT_EQ(error_of(call("node1.near", "vote_abort_key_event_instance", {{"key_event_id", id}})), "Expected ongoing reshare");
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  EXPECT_EQ(error_of(call("node1.near", "vote_abort_key_event_instance", {{"key_event_id", id}})), "Vote already casted.");
  EXPECT_EQ(error_of(call("stranger.near", "vote_abort_key_event_instance", {{"key_event_id", id}})),
            "Not a participant: stranger.near");
  EXPECT_EQ(error_of(call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 0, 1)}})),
            "Key event Id mismatch");
  ASSERT_TRUE(call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", id}}));
  json event = state()["Initializing"]["generating_key"];
  EXPECT_EQ(event["instance"], nullptr);
  EXPECT_EQ(event["next_attempt_id"], 1);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}}));
}

TEST_F(LifecycleTest, InitConfigSetsTheKeyEventTimeout) {
  MpcContract fresh;
  auto init = [&](const json& init_config) {
    const std::string args = json{{"parameters", params_json(3, 2)}, {"init_config", init_config}}.dump();
    return fresh.call(ctx("mpc.near"), "init", core::as_bytes(args));
  };
  auto unknown = init({{"tee_upgrade_deadline_duration_seconds", 5}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(unknown.error().message,
            "Failed to deserialize input from JSON: init_config.tee_upgrade_deadline_duration_seconds is not a setting of this "
            "contract (it has key_event_timeout_blocks and attestation_mode only)");
  EXPECT_FALSE(init({{"key_event_timeout_blocks", -5}}));
  EXPECT_EQ(core::to_string(fresh.view("state", {}).value()), "\"NotInitialized\"");
  ASSERT_TRUE(init({{"key_event_timeout_blocks", 5}}));
  EXPECT_EQ(json::parse(core::to_string(fresh.view("config", {}).value())), (json{{"key_event_timeout_blocks", 5}}));
  contract_ = std::move(fresh);
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  block_height_ = 100;
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}}));
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["expires_on"], 106);
  // The fixture's contract was initialised without one: the reference's default.
  EXPECT_EQ(json::parse(core::to_string(MpcContract().view("config", {}).value())), (json{{"key_event_timeout_blocks", 30}}));
}

TEST_F(LifecycleTest, VoteCancelKeygenReturnsToRunningWithTheKeysItHad) {
  add_two_domains();
  json domains = json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  EXPECT_EQ(error_of(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 2}})), "Next domain ID mismatch");
  EXPECT_EQ(error_of(call("stranger.near", "vote_cancel_keygen", {{"next_domain_id", 3}})), "Not a participant: stranger.near");
  ASSERT_TRUE(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  ASSERT_TRUE(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  EXPECT_TRUE(state().contains("Initializing"));  // one voter, threshold 2
  ASSERT_TRUE(call("node2.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  json r = running();
  EXPECT_EQ(r["keyset"]["domains"].size(), 2u);
  EXPECT_EQ(r["domains"]["domains"].size(), 2u);
  EXPECT_EQ(r["domains"]["next_domain_id"], 3);  // the cancelled id stays consumed
}

TEST_F(LifecycleTest, ResharingMovesToTheNextEpochWithTheNewParameters) {
  add_two_domains();
  json r = running();
  json proposal = r["parameters"];
  proposal["participants"]["participants"].push_back(
      json::array({"node3.near", 3, {{"url", "https://node3"}, {"tls_public_key", new_key()}}}));
  proposal["participants"]["next_id"] = 4;
  proposal["threshold"] = 3;
  json args = {{"prospective_epoch_id", 1}, {"proposal", proposal}};
  EXPECT_EQ(error_of(call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 2}, {"proposal", proposal}})),
            "Provided Epoch Id, 2, does not match expected, 1.");
  // A newcomer may vote only once `threshold` current participants have.
  EXPECT_EQ(error_of(call("node3.near", "vote_new_parameters", args)),
            "Candidates can only cast a vote after `threshold` participants casted one to admit them");
  vote_all("vote_new_parameters", args);
  EXPECT_TRUE(state().contains("Running"));  // the new participant has not voted yet
  ASSERT_TRUE(call("node3.near", "vote_new_parameters", args));
  ASSERT_TRUE(state().contains("Resharing"));
  json resharing = state()["Resharing"];
  EXPECT_EQ(resharing["previous_running_state"]["keyset"], r["keyset"]);
  EXPECT_EQ(resharing["resharing_key"]["epoch_id"], 1);
  EXPECT_EQ(resharing["resharing_key"]["domain"]["id"], 0);
  EXPECT_EQ(resharing["resharing_key"]["instance"], nullptr);
  EXPECT_EQ(error_of(call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}})), "Expected ongoing reshare");
  EXPECT_EQ(error_of(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(1, 0, 0)}})),
            "Protocol state is not initializing.");
  // The leader is the lowest id of the new parameters.
  EXPECT_EQ(error_of(call("node3.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}})),
            "Voting account is not the leader of the current reshare or keygen instance.");
  ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}}));
  EXPECT_EQ(error_of(call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 1, 0)}})), "Key event Id mismatch");
  ASSERT_TRUE(call("node3.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}}));
  EXPECT_EQ(error_of(call("node3.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}})), "Vote already casted.");
  // The attempt's key is the one being reshared, as in the reference.
  json instance = state()["Resharing"]["resharing_key"]["instance"];
  EXPECT_EQ(instance["public_key"], r["keyset"]["domains"][0]["key"]);
  EXPECT_EQ(instance["completed"], json::array({3}));
  vote_all("vote_reshared", {{"key_event_id", event_id(1, 0, 0)}}, {"node0.near", "node1.near", "node2.near"});
  EXPECT_EQ(state()["Resharing"]["resharing_key"]["domain"]["id"], 1);
  EXPECT_EQ(state()["Resharing"]["resharing_key"]["instance"], nullptr);
  EXPECT_EQ(state()["Resharing"]["resharing_key"]["next_attempt_id"], 0);
  ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 1, 0)}}));
  ASSERT_TRUE(call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(1, 1, 0)}}));
  ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 1, 1)}}));
  vote_all("vote_reshared", {{"key_event_id", event_id(1, 1, 1)}}, {"node0.near", "node1.near", "node2.near", "node3.near"});
  json after = running();
  EXPECT_EQ(after["keyset"]["epoch_id"], 1);
  EXPECT_EQ(after["keyset"]["domains"][0]["key"], r["keyset"]["domains"][0]["key"]);
  EXPECT_EQ(after["keyset"]["domains"][1]["key"], r["keyset"]["domains"][1]["key"]);
  EXPECT_EQ(after["keyset"]["domains"][1]["attempt"], 1);
  EXPECT_EQ(after["parameters"], proposal);
  EXPECT_EQ(after["parameters_votes"], (json{{"proposal_by_account", json::object()}}));
}

TEST_F(LifecycleTest, VoteNewParametersRejectsProposalsThatBreakTheReferenceRules) {
  add_two_domains();
  const json current = running()["parameters"];
  auto vote = [&](const json& proposal, const std::string& who = "node0.near") {
    return error_of(call(who, "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}}));
  };
  json p = current;
  p["participants"]["participants"][1][2]["url"] = "https://elsewhere";
  EXPECT_EQ(vote(p), "Existing participant node1.near changed info (url or tls_public_key).");
  p = current;
  p["participants"]["participants"][1][1] = 7;
  p["participants"]["next_id"] = 8;
  EXPECT_EQ(vote(p), "Existing participant node1.near changed ID from 1 to 7.");
  p = current;
  p["participants"]["participants"][2] = json::array({"node9.near", 2, {{"url", "https://n9"}, {"tls_public_key", new_key()}}});
  EXPECT_EQ(vote(p), "New participant node9.near reuses ID 2 already assigned to existing participant node2.near.");
  p = current;
  p["participants"]["participants"].push_back(json::array({"node9.near", 4, {{"url", "https://n9"}, {"tls_public_key", new_key()}}}));
  p["participants"]["next_id"] = 5;
  p["threshold"] = 3;
  EXPECT_EQ(vote(p), "New Participant ids need to be unique and contiguous.");
  p["participants"]["participants"][3][1] = 3;
  EXPECT_EQ(vote(p), "New Participant ids need to not skip any unused participant ids.");
  p = current;
  p["participants"]["participants"] = json::array({current["participants"]["participants"][0],
                                                    json::array({"node8.near", 3, {{"url", "https://n8"}, {"tls_public_key", new_key()}}})});
  p["participants"]["next_id"] = 4;
  EXPECT_EQ(vote(p), "Set of proposed participants must contain at least `threshold` old participants.");
  p = current;
  p["participants"]["participants"].erase(2);
  EXPECT_EQ(vote(p, "node2.near"), "Not a participant: node2.near");  // only members of the proposal vote
  EXPECT_EQ(vote(p, "node0.near"), "<success>");
  EXPECT_EQ(running()["parameters_votes"]["proposal_by_account"]["node0.near"], p);
}

TEST_F(LifecycleTest, VoteNewParametersWithoutKeysChangesTheParametersAtOnce) {
  json proposal = running()["parameters"];
  proposal["threshold"] = 3;
  vote_all("vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}});
  json r = running();
  EXPECT_EQ(r["keyset"]["epoch_id"], 1);
  EXPECT_EQ(r["parameters"]["threshold"], 3);
}

TEST_F(LifecycleTest, VoteCancelResharingRestoresThePreviousRunningStateAndSkipsTheCancelledEpoch) {
  add_two_domains();
  json before = running();
  json proposal = start_resharing();
  EXPECT_EQ(error_of(call("stranger.near", "vote_cancel_resharing", json::object())), "Not a participant: stranger.near");
  ASSERT_TRUE(call("node0.near", "vote_cancel_resharing", json::object()));
  EXPECT_TRUE(state().contains("Resharing"));
  ASSERT_TRUE(call("node1.near", "vote_cancel_resharing", json::object()));
  json after = running();
  EXPECT_EQ(after["keyset"], before["keyset"]);
  EXPECT_EQ(after["parameters"], before["parameters"]);
  EXPECT_EQ(after["previously_cancelled_resharing_epoch_id"], 1);
  EXPECT_EQ(error_of(call("node0.near", "vote_cancel_resharing", json::object())), "Protocol state is not resharing.");
  // Epoch 1 was used by the cancelled attempt: the next resharing is epoch 2.
  EXPECT_EQ(error_of(call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}})),
            "Provided Epoch Id, 1, does not match expected, 2.");
  vote_all("vote_new_parameters", {{"prospective_epoch_id", 2}, {"proposal", proposal}});
  for (int d = 0; d < 2; ++d) {
    ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(2, d, 0)}}));
    vote_all("vote_reshared", {{"key_event_id", event_id(2, d, 0)}});
  }
  json r = running();
  EXPECT_EQ(r["keyset"]["epoch_id"], 2);
  EXPECT_FALSE(r.contains("previously_cancelled_resharing_epoch_id"));
}

TEST_F(LifecycleTest, VoteNewParametersNamesTheMalformedFieldOfTheProposal) {
  json proposal = running()["parameters"];
  proposal["participants"]["participants"][1][2]["url"] = 443;
  auto r = call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message,
            "Failed to deserialize input from JSON: proposal.participants.participants[1][2].url must be a string");
}

// The reference's nodes vote the key as near-mpc-crypto-types' PublicKey: a
// string with its curve prefix. The keyset shows it in the extended form.
TEST_F(LifecycleTest, VotePkTakesTheReferencesPrefixedKeyText) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}},
                              {{"id", 1}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  const json extended = ed25519_pk_extended();
  const std::string text = extended["Ed25519"]["near_public_key_compressed"];
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}}));
  auto bad = call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", "ed25519:notbase58!"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("public_key"), std::string::npos) << bad.error().message;
  vote_all("vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", text}});
  // secp256k1: the generator's X||Y.
  const std::string secp = "secp256k1:" + core::base58_encode(*core::hex_decode(
                                              "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                                              "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"));
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 1, 0)}}));
  vote_all("vote_pk", {{"key_event_id", event_id(0, 1, 0)}, {"public_key", secp}});
  json r = running();
  ASSERT_EQ(r["keyset"]["domains"].size(), 2u);
  EXPECT_EQ(r["keyset"]["domains"][0]["key"], extended);
  EXPECT_EQ(r["keyset"]["domains"][1]["key"], (json{{"Secp256k1", {{"near_public_key", secp}}}}));
}

TEST_F(LifecycleTest, VotePkRefusesABlsKeyWithoutItsPrefix) {
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "DamgardEtAl"}}})}});
  json id = event_id(0, 0, 0);
  ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
  auto r = call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", {{"Bls12381", {{"public_key", "abc"}}}}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Failed to deserialize input from JSON: public_key.Bls12381.public_key must start with bls12381g2:");
  json bls = {{"Bls12381", {{"public_key", "bls12381g2:3tFRbMqmoa6AAALMrEFAYCEoHcqKxeW38"}}}};
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", bls}});
  EXPECT_EQ(running()["keyset"]["domains"][0]["key"], bls);
}

TEST(LifecycleFromGenesis, VoteResharedRefusesADomainThePreviousKeysetHasNoKeyFor) {
  // Only a genesis can list a domain without a key: the resharing stops at
  // it, and can be cancelled.
  json running = mainnet_fixture()["Running"];
  running["keyset"]["domains"].erase(1);
  auto c = MpcContract::deserialize(json{{"protocol_state", {{"Running", running}}}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  const std::uint64_t epoch = running["keyset"]["epoch_id"].get<std::uint64_t>() + 1;
  auto call_as = [&](const json& entry, const std::string& method, const json& args) {
    const std::string who = entry[0];
    CallContext ctx{who, who, "v1.signer", core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()}, 0, 1};
    const std::string text = args.dump();
    auto r = c->call(ctx, method, core::as_bytes(text));
    return r ? std::string("<success>") : r.error().message;
  };
  const json participants = running["parameters"]["participants"]["participants"];
  for (const auto& p : participants) {
    ASSERT_EQ(call_as(p, "vote_new_parameters", {{"prospective_epoch_id", epoch}, {"proposal", running["parameters"]}}), "<success>");
  }
  json leader = participants[0];
  for (const auto& p : participants) {
    if (p[1].get<std::uint64_t>() < leader[1].get<std::uint64_t>()) leader = p;
  }
  const json id0 = {{"epoch_id", epoch}, {"domain_id", 0}, {"attempt_id", 0}};
  ASSERT_EQ(call_as(leader, "start_reshare_instance", {{"key_event_id", id0}}), "<success>");
  for (const auto& p : participants) ASSERT_EQ(call_as(p, "vote_reshared", {{"key_event_id", id0}}), "<success>");
  const json id1 = {{"epoch_id", epoch}, {"domain_id", 1}, {"attempt_id", 0}};
  ASSERT_EQ(call_as(leader, "start_reshare_instance", {{"key_event_id", id1}}), "<success>");
  // The vote carries the previous key, which this domain has none of.
  const std::string before = c->serialize();
  for (const auto& p : participants) {
    EXPECT_EQ(call_as(p, "vote_reshared", {{"key_event_id", id1}}), "Domain 1 has no key in the previous keyset to reshare.");
  }
  EXPECT_EQ(c->serialize(), before);
  auto back = MpcContract::deserialize(before);
  EXPECT_TRUE(back) << back.error().message;
  EXPECT_EQ(call_as(participants[0], "vote_cancel_resharing", json::object()), "<success>");
}

}  // namespace
}  // namespace mpc::contract
