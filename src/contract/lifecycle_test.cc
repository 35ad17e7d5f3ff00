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
  json pk = ed25519_pk_extended();
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
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

TEST_F(LifecycleTest, VotePkConflictingKeysRestartTheAttempt) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
  ASSERT_TRUE(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  json event = state()["Initializing"]["generating_key"];
  EXPECT_EQ(event["instance"]["attempt_id"], 1);
  EXPECT_EQ(event["next_attempt_id"], 2);
  EXPECT_EQ(error_of(call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}})),
            "Key event Id mismatch");
  // The new attempt succeeds and its number is recorded in the keyset.
  id["attempt_id"] = 1;
  json pk = ed25519_pk_extended();
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", pk}});
  EXPECT_EQ(running()["keyset"]["domains"][0]["attempt"], 1);
}

TEST_F(LifecycleTest, VotePkOnlyCountsParticipantsAndOnlyWhileInitializing) {
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
  EXPECT_EQ(error_of(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}})),
            "Protocol state is not initializing.");
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  json pk = ed25519_pk_extended();
  EXPECT_EQ(error_of(call("stranger.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}})),
            "Not a participant: stranger.near");
  vote_all("vote_pk", {{"key_event_id", id}, {"public_key", pk}}, {"node0.near", "node0.near", "node1.near"});
  EXPECT_TRUE(state().contains("Initializing"));  // a repeated vote counts once
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["completed"], json::array({0, 1}));
  auto bad_key = call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", {{"Ed25519", json::object()}}}});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, core::ErrorCode::kInvalidArgument);
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
  EXPECT_EQ(error_of(call("node0.near", "vote_reshared", {{"key_event_id", {{"epoch_id", 1}, {"domain_id", 1}, {"attempt_id", 0}}}})),
            "Key event Id mismatch");
  for (int d = 0; d < 2; ++d) {
    json id = {{"epoch_id", 1}, {"domain_id", d}, {"attempt_id", 0}};
    vote_all("vote_reshared", {{"key_event_id", id}}, {"node0.near", "node1.near", "node2.near", "node3.near"});
  }
  json after = running();
  EXPECT_EQ(after["keyset"]["epoch_id"], 1);
  EXPECT_EQ(after["keyset"]["domains"][0]["key"], r["keyset"]["domains"][0]["key"]);
  EXPECT_EQ(after["keyset"]["domains"][1]["key"], r["keyset"]["domains"][1]["key"]);
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
  for (int d = 0; d < 2; ++d) vote_all("vote_reshared", {{"key_event_id", {{"epoch_id", 2}, {"domain_id", d}, {"attempt_id", 0}}}});
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

TEST_F(LifecycleTest, VotePkRefusesABlsKeyWithoutItsPrefix) {
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "DamgardEtAl"}}})}});
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
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
  for (const auto& p : participants) {
    ASSERT_EQ(call_as(p, "vote_reshared", {{"key_event_id", {{"epoch_id", epoch}, {"domain_id", 0}, {"attempt_id", 0}}}}),
              "<success>");
  }
  const json id = {{"epoch_id", epoch}, {"domain_id", 1}, {"attempt_id", 0}};
  for (std::size_t i = 0; i + 1 < participants.size(); ++i) {
    ASSERT_EQ(call_as(participants[i], "vote_reshared", {{"key_event_id", id}}), "<success>");
  }
  const std::string before = c->serialize();
  EXPECT_EQ(call_as(participants.back(), "vote_reshared", {{"key_event_id", id}}),
            "Domain 1 has no key in the previous keyset to reshare.");
  EXPECT_EQ(c->serialize(), before);
  auto back = MpcContract::deserialize(before);
  EXPECT_TRUE(back) << back.error().message;
}

}  // namespace
}  // namespace mpc::contract
