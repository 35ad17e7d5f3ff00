// The MPC contract as a specification: lifecycle, votes and node migrations.
#include "contract/contract.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "core/u128.h"

namespace mpc::contract {
namespace {

using json = nlohmann::json;

std::string key_text(const core::Ed25519SecretKey& k) { return core::ed25519_public_key_to_string(k.public_key()); }
std::string new_key() { return key_text(core::Ed25519SecretKey::generate()); }

json participants_json(int n, int first_id = 0) {
  json list = json::array();
  for (int i = 0; i < n; ++i) {
    list.push_back(json::array({"node" + std::to_string(first_id + i) + ".near", first_id + i,
                                {{"url", "https://node" + std::to_string(first_id + i)}, {"tls_public_key", new_key()}}}));
  }
  return list;
}

json params_json(int n, int threshold) {
  return json{{"participants", {{"next_id", n}, {"participants", participants_json(n)}}}, {"threshold", threshold}};
}

json ed25519_pk_extended() {
  auto k = core::Ed25519SecretKey::generate();
  json point = json::array();
  for (auto b : k.public_key().bytes) point.push_back(b);
  return json{{"Ed25519", {{"near_public_key_compressed", key_text(k)}, {"edwards_point", point}}}};
}

class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    access_key_ = core::Ed25519SecretKey::generate();
    ASSERT_TRUE(call("mpc.near", "init", json{{"parameters", params_json(3, 2)}}));
  }

  CallContext ctx(const std::string& account, core::u128 deposit = 0) const {
    return CallContext{account, account, "mpc.near", core::NearPublicKey{access_key_.public_key()}, deposit, 1};
  }
  core::Result<CallOutcome> call(const std::string& account, const std::string& method, const json& args,
                                 core::u128 deposit = 0) {
    const std::string text = args.dump();
    return contract_.call(ctx(account, deposit), method, core::as_bytes(text));
  }
  core::Result<CallOutcome> call_with_key(const std::string& account, const core::NearPublicKey& key,
                                          const std::string& method, const json& args) {
    auto c = ctx(account);
    c.signer_public_key = key;
    const std::string text = args.dump();
    return contract_.call(c, method, core::as_bytes(text));
  }
  json view(const std::string& method) {
    auto r = contract_.view(method, {});
    EXPECT_TRUE(r) << r.error().message;
    return json::parse(r->begin(), r->end());
  }
  json state() { return view("state"); }
  json running() { return state()["Running"]; }

  // Adds domains 0 (Secp256k1-like config) and 1 by votes and generates keys.
  void add_two_domains() {
    json domains = json::array({{{"id", 0}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                                {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
    vote_all("vote_add_domains", {{"domains", domains}});
    ASSERT_TRUE(state().contains("Initializing"));
    for (int d = 0; d < 2; ++d) {
      json pk = ed25519_pk_extended();
      json id = {{"epoch_id", 0}, {"domain_id", d}, {"attempt_id", 0}};
      for (int n = 0; n < 3; ++n) {
        auto r = call("node" + std::to_string(n) + ".near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}});
        ASSERT_TRUE(r) << r.error().message;
      }
    }
    ASSERT_TRUE(state().contains("Running"));
  }

  // Every listed account casts the same vote; each must succeed.
  void vote_all(const std::string& method, const json& args,
                std::vector<std::string> who = {"node0.near", "node1.near", "node2.near"}) {
    for (const auto& a : who) {
      auto r = call(a, method, args);
      ASSERT_TRUE(r) << a << " " << method << ": " << r.error().message;
    }
  }
  static std::string error_of(const core::Result<CallOutcome>& r) { return r ? std::string("<success>") : r.error().message; }

  // Moves to Resharing at epoch 1 with the same participants, threshold 3.
  json start_resharing() {
    json proposal = running()["parameters"];
    proposal["threshold"] = 3;
    vote_all("vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}});
    EXPECT_TRUE(state().contains("Resharing"));
    return proposal;
  }

  json destination(const core::Ed25519SecretKey& access) {
    return json{{"signer_account_pk", key_text(access)},
                {"destination_node_info", {{"url", "https://new-node"}, {"tls_public_key", new_key()}}}};
  }

  core::Ed25519SecretKey access_key_ = core::Ed25519SecretKey::generate();
  MpcContract contract_;
};

// ---- lifecycle ----

TEST_F(ContractTest, init__starts_running_at_epoch_zero_without_domains) {
  json r = running();
  EXPECT_EQ(r["keyset"], (json{{"epoch_id", 0}, {"domains", json::array()}}));
  EXPECT_EQ(r["parameters"]["threshold"], 2);
  EXPECT_EQ(r["parameters_votes"], (json{{"proposal_by_account", json::object()}}));
  EXPECT_EQ(r["add_domains_votes"], (json{{"proposal_by_account", json::object()}}));
  EXPECT_EQ(error_of(call("mpc.near", "init", json{{"parameters", params_json(3, 2)}})), "The contract is already initialized.");
  EXPECT_EQ(view("version").get<std::string>().rfind("mpc-sandbox-contract ", 0), 0u);
}

TEST_F(ContractTest, init__enforces_thresholds_and_the_contract_account) {
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

TEST_F(ContractTest, init__rejects_duplicate_participants) {
  MpcContract fresh;
  json p = params_json(3, 2);
  p["participants"]["participants"][2][0] = "node0.near";
  const std::string args = json{{"parameters", p}}.dump();
  auto r = fresh.call(ctx("mpc.near"), "init", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Duplicate account IDs found.");
}

TEST_F(ContractTest, vote_add_domains__needs_every_participant_then_every_participant_votes_the_key) {
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

TEST_F(ContractTest, vote_add_domains__rejects_empty_and_non_contiguous_proposals) {
  EXPECT_EQ(error_of(call("node0.near", "vote_add_domains", {{"domains", json::array()}})),
            "vote_add_domains must add at least one domain");
  json gap = json::array({{{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  EXPECT_EQ(error_of(call("node0.near", "vote_add_domains", {{"domains", gap}})),
            "Newly proposed domain IDs are not contiguous. Expected id: 0");
  auto bad = call("node0.near", "vote_add_domains", {{"domains", "Frost"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(ContractTest, vote_pk__conflicting_keys_restart_the_attempt) {
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

TEST_F(ContractTest, vote_pk__only_counts_participants_and_only_while_initializing) {
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

TEST_F(ContractTest, vote_cancel_keygen__returns_to_running_with_the_keys_it_had) {
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

TEST_F(ContractTest, resharing__moves_to_the_next_epoch_with_the_new_parameters) {
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

TEST_F(ContractTest, vote_new_parameters__rejects_proposals_that_break_the_reference_rules) {
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

TEST_F(ContractTest, vote_new_parameters__without_keys_changes_the_parameters_at_once) {
  json proposal = running()["parameters"];
  proposal["threshold"] = 3;
  vote_all("vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}});
  json r = running();
  EXPECT_EQ(r["keyset"]["epoch_id"], 1);
  EXPECT_EQ(r["parameters"]["threshold"], 3);
}

TEST_F(ContractTest, vote_cancel_resharing__restores_the_previous_running_state_and_skips_the_cancelled_epoch) {
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

// ---- node migrations (interop §3) ----

TEST_F(ContractTest, register_backup_service__requires_a_participant_and_one_yocto_and_refunds_the_rest) {
  json args = {{"backup_service_info", {{"public_key", new_key()}}}};
  EXPECT_EQ(error_of(call("node0.near", "register_backup_service", args, 0)),
            "Attached deposit is lower than required. Attached: 0, required: 1");
  // The participant check comes before the deposit check.
  EXPECT_EQ(error_of(call("stranger.near", "register_backup_service", args, 0)), "Not a participant: stranger.near");
  auto ok = call("node0.near", "register_backup_service", args, 10);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->refund, static_cast<core::u128>(9));
  json info = view("migration_info");
  EXPECT_EQ(info["node0.near"], json::array({args["backup_service_info"], nullptr}));
  // Upsert.
  json args2 = {{"backup_service_info", {{"public_key", new_key()}}}};
  ASSERT_TRUE(call("node0.near", "register_backup_service", args2, 1));
  EXPECT_EQ(view("migration_info")["node0.near"][0], args2["backup_service_info"]);
}

TEST_F(ContractTest, register_backup_service__accepts_prospective_participants_during_resharing) {
  add_two_domains();
  json proposal = running()["parameters"];
  proposal["participants"]["participants"].push_back(
      json::array({"node3.near", 3, {{"url", "https://node3"}, {"tls_public_key", new_key()}}}));
  proposal["participants"]["next_id"] = 4;
  proposal["threshold"] = 3;
  EXPECT_EQ(error_of(call("node3.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1)),
            "Not a participant: node3.near");
  vote_all("vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}},
           {"node0.near", "node1.near", "node2.near", "node3.near"});
  ASSERT_TRUE(state().contains("Resharing"));
  ASSERT_TRUE(call("node3.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  EXPECT_TRUE(view("migration_info").contains("node3.near"));
}

TEST_F(ContractTest, register_backup_service__is_refused_before_init) {
  MpcContract fresh;
  auto c = ctx("node0.near", 1);
  const std::string args = json{{"backup_service_info", {{"public_key", new_key()}}}}.dump();
  auto r = fresh.call(c, "register_backup_service", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Unexpected protocol state: NotInitialized");
}

TEST_F(ContractTest, migration_methods__reject_calls_through_another_contract) {
  add_two_domains();
  auto c = ctx("node0.near", 1);
  c.predecessor_account_id = "proxy.near";
  for (const auto& [method, args] : std::vector<std::pair<std::string, json>>{
           {"register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}},
           {"start_node_migration", {{"destination_node_info", destination(access_key_)}}},
           {"conclude_node_migration", {{"keyset", running()["keyset"]}}},
           {"cancel_node_migration", json::object()},
           {"update_participant_url", {{"url", "https://x"}}}}) {
    const std::string text = args.dump();
    auto r = contract_.call(c, method, core::as_bytes(text));
    ASSERT_FALSE(r) << method;
    EXPECT_EQ(r.error().message, "Caller is not the signer account.") << method;
  }
}

TEST_F(ContractTest, start_node_migration__requires_running_a_participant_and_a_deposit) {
  auto access = core::Ed25519SecretKey::generate();
  json args = {{"destination_node_info", destination(access)}};
  EXPECT_EQ(error_of(call("node0.near", "start_node_migration", args, 0)),
            "Attached deposit is lower than required. Attached: 0, required: 1");
  EXPECT_EQ(error_of(call("stranger.near", "start_node_migration", args, 0)), "Not a participant: stranger.near");
  auto ok = call("node0.near", "start_node_migration", args, 3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->refund, static_cast<core::u128>(2));
  EXPECT_EQ(view("migration_info")["node0.near"], json::array({nullptr, args["destination_node_info"]}));
  // Last call wins.
  json args2 = {{"destination_node_info", destination(core::Ed25519SecretKey::generate())}};
  ASSERT_TRUE(call("node0.near", "start_node_migration", args2, 1));
  EXPECT_EQ(view("migration_info")["node0.near"][1], args2["destination_node_info"]);
  // Bad destination: not an ed25519 key.
  json bad = args;
  bad["destination_node_info"]["signer_account_pk"] = "secp256k1:abc";
  EXPECT_EQ(call("node1.near", "start_node_migration", bad, 1).error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(ContractTest, start_node_migration__refuses_a_tls_key_that_is_already_someones) {
  add_two_domains();
  const json participants = running()["parameters"]["participants"]["participants"];
  auto with_tls = [&](const json& tls) {
    json d = destination(core::Ed25519SecretKey::generate());
    d["destination_node_info"]["tls_public_key"] = tls;
    return json{{"destination_node_info", d}};
  };
  const json node1_key = participants[1][2]["tls_public_key"];
  const json own_key = participants[0][2]["tls_public_key"];
  EXPECT_EQ(error_of(call("node0.near", "start_node_migration", with_tls(node1_key), 1)),
            "The destination TLS key " + node1_key.get<std::string>() +
                " is already the TLS key of participant node1.near; a migration needs a new node key.");
  EXPECT_EQ(error_of(call("node0.near", "start_node_migration", with_tls(own_key), 1)),
            "The destination TLS key " + own_key.get<std::string>() +
                " is already the TLS key of participant node0.near; a migration needs a new node key.");
  // A key another account's migration claims.
  const json claimed = new_key();
  ASSERT_TRUE(call("node1.near", "start_node_migration", with_tls(claimed), 1));
  EXPECT_EQ(error_of(call("node0.near", "start_node_migration", with_tls(claimed), 1)),
            "The destination TLS key " + claimed.get<std::string>() + " is already claimed by the ongoing migration of node1.near.");
  EXPECT_FALSE(view("migration_info").contains("node0.near"));
  // The claimant may restate its own migration; once it moves on, the key is free.
  ASSERT_TRUE(call("node1.near", "start_node_migration", with_tls(claimed), 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", with_tls(new_key()), 1));
  EXPECT_TRUE(call("node0.near", "start_node_migration", with_tls(claimed), 1));
}

TEST(ContractGenesis, conclude_node_migration__checks_the_tls_key_again_at_conclusion) {
  // A state in which node1's migration targets what has since become
  // node2's TLS key (as a genesis may hold, or a later rule change): the
  // conclusion re-checks and refuses, and changes nothing.
  auto access = core::Ed25519SecretKey::generate();
  json fixture = json{{"Running",
                       {{"domains", {{"domains", json::array()}, {"next_domain_id", 0}}},
                        {"keyset", {{"epoch_id", 0}, {"domains", json::array()}}},
                        {"parameters", params_json(3, 2)}}}};
  const json taken = fixture["Running"]["parameters"]["participants"]["participants"][2][2]["tls_public_key"];
  json dest = {{"signer_account_pk", key_text(access)},
               {"destination_node_info", {{"url", "https://new-host:3000"}, {"tls_public_key", taken}}}};
  auto c = MpcContract::deserialize(json{{"protocol_state", fixture}, {"migrations", {{"node1.near", dest}}}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  const std::string before = c->serialize();
  CallContext ctx{"node1.near", "node1.near", "mpc.near", core::NearPublicKey{access.public_key()}, 0, 1};
  const std::string args = json{{"keyset", fixture["Running"]["keyset"]}}.dump();
  auto r = c->call(ctx, "conclude_node_migration", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "The destination TLS key " + taken.get<std::string>() +
                                   " is already the TLS key of participant node2.near; a migration needs a new node key.");
  EXPECT_EQ(c->serialize(), before);
}

TEST_F(ContractTest, start_node_migration__is_refused_outside_running) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  auto r = call("node0.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1);
  EXPECT_EQ(error_of(r), "The protocol is not Running.");
}

TEST_F(ContractTest, conclude_node_migration__replaces_the_participant_info_and_keeps_its_id) {
  add_two_domains();
  json dest = destination(access_key_);
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", dest}}, 1));
  auto r = call("node1.near", "conclude_node_migration", {{"keyset", running()["keyset"]}});
  ASSERT_TRUE(r) << r.error().message;
  for (const auto& e : running()["parameters"]["participants"]["participants"]) {
    if (e[0] == "node1.near") {
      EXPECT_EQ(e[1], 1);
      EXPECT_EQ(e[2], dest["destination_node_info"]);
    }
  }
  EXPECT_FALSE(view("migration_info").contains("node1.near"));
}

TEST_F(ContractTest, conclude_node_migration__rejects_stale_keyset) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  json stale = running()["keyset"];
  stale["domains"].erase(1);
  auto r = call("node1.near", "conclude_node_migration", {{"keyset", stale}});
  EXPECT_EQ(error_of(r).rfind("The submitted keyset differs from the expected keyset. Found: ", 0), 0u) << error_of(r);
  json older = running()["keyset"];
  older["domains"][0]["attempt"] = 5;
  EXPECT_FALSE(call("node1.near", "conclude_node_migration", {{"keyset", older}}));
  EXPECT_TRUE(view("migration_info").contains("node1.near"));
}

TEST_F(ContractTest, conclude_node_migration__without_a_migration_says_so) {
  add_two_domains();
  EXPECT_EQ(error_of(call("node2.near", "conclude_node_migration", {{"keyset", running()["keyset"]}})),
            "Node does not have an ongoing recovery");
}

TEST_F(ContractTest, conclude_node_migration__rejects_a_key_other_than_the_destination_access_key) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  auto other = core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()};
  auto r = call_with_key("node1.near", other, "conclude_node_migration", {{"keyset", running()["keyset"]}});
  EXPECT_EQ(error_of(r), "The transaction was submitted by a different public key than expected. Found: " + other.to_string() +
                             ", expected: " + core::NearPublicKey{access_key_.public_key()}.to_string());
  EXPECT_TRUE(view("migration_info").contains("node1.near"));  // the failed call reverted
}

TEST_F(ContractTest, conclude_node_migration__checks_in_the_reference_order) {
  add_two_domains();
  json keyset = running()["keyset"];
  json stale = keyset;
  stale["epoch_id"] = 7;
  json malformed = keyset;
  malformed["domains"][0]["key"] = {{"Ed25519", {{"near_public_key_compressed", "ed25519:x"}}}};
  // Not a participant comes before any keyset check.
  EXPECT_EQ(error_of(call("stranger.near", "conclude_node_migration", {{"keyset", malformed}})), "Not a participant: stranger.near");
  // A keyset mismatch comes before the missing migration.
  EXPECT_EQ(error_of(call("node2.near", "conclude_node_migration", {{"keyset", stale}})).rfind("The submitted keyset differs", 0), 0u);
  // A wrong signer key is reported only once a migration exists.
  auto other = core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()};
  EXPECT_EQ(error_of(call_with_key("node2.near", other, "conclude_node_migration", {{"keyset", keyset}})),
            "Node does not have an ongoing recovery");
  // Missing arguments fail before anything else.
  auto none = call("stranger.near", "conclude_node_migration", json::object());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(ContractTest, conclude_node_migration__checks_running_before_anything_else) {
  add_two_domains();
  start_resharing();
  auto r = call("stranger.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 0}, {"domains", json::array()}}}});
  EXPECT_EQ(error_of(r), "The protocol is not Running.");
}

TEST_F(ContractTest, cancel_node_migration__removes_it_and_conclude_then_fails) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  // Payable: the node's function-call key cannot cancel, the operator can.
  EXPECT_EQ(error_of(call("node1.near", "cancel_node_migration", json::object())),
            "Attached deposit is lower than required. Attached: 0, required: 1");
  EXPECT_EQ(error_of(call("stranger.near", "cancel_node_migration", json::object(), 1)), "Not a participant: stranger.near");
  auto ok = call("node1.near", "cancel_node_migration", json::object(), 4);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->refund, static_cast<core::u128>(3));
  EXPECT_FALSE(view("migration_info").contains("node1.near"));
  EXPECT_EQ(error_of(call("node1.near", "conclude_node_migration", {{"keyset", running()["keyset"]}})),
            "Node does not have an ongoing recovery");
  EXPECT_EQ(error_of(call("node1.near", "cancel_node_migration", json::object(), 1)), "Node does not have an ongoing recovery");
}

TEST_F(ContractTest, cancel_node_migration__keeps_the_backup_service) {
  add_two_domains();
  json backup = {{"public_key", new_key()}};
  ASSERT_TRUE(call("node1.near", "register_backup_service", {{"backup_service_info", backup}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node1.near", "cancel_node_migration", json::object(), 1));
  EXPECT_EQ(view("migration_info")["node1.near"], json::array({backup, nullptr}));
}

TEST_F(ContractTest, update_participant_url__changes_only_the_callers_url) {
  add_two_domains();
  json before = running()["parameters"]["participants"]["participants"];
  EXPECT_EQ(error_of(call("node1.near", "update_participant_url", {{"url", "https://moved:443"}})),
            "Attached deposit is lower than required. Attached: 0, required: 1");
  EXPECT_EQ(error_of(call("stranger.near", "update_participant_url", {{"url", "https://moved:443"}}, 1)),
            "Not a participant: stranger.near");
  auto ok = call("node1.near", "update_participant_url", {{"url", "https://moved:443"}}, 2);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->refund, static_cast<core::u128>(1));
  json after = running()["parameters"]["participants"]["participants"];
  EXPECT_EQ(after[1][2]["url"], "https://moved:443");
  EXPECT_EQ(after[1][2]["tls_public_key"], before[1][2]["tls_public_key"]);
  EXPECT_EQ(after[1][1], 1);
  EXPECT_EQ(after[0], before[0]);
  start_resharing();
  EXPECT_EQ(error_of(call("node1.near", "update_participant_url", {{"url", "https://again"}}, 1)), "The protocol is not Running.");
}

TEST_F(ContractTest, resharing_or_adding_domains_clears_every_ongoing_migration) {
  add_two_domains();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node0.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  start_resharing();
  json info = view("migration_info");
  EXPECT_FALSE(info.contains("node1.near"));
  EXPECT_EQ(info["node0.near"][1], nullptr);  // migration gone
  EXPECT_NE(info["node0.near"][0], nullptr);  // backup service kept
  // Cancelling the resharing does not bring migrations back.
  vote_all("vote_cancel_resharing", json::object(), {"node0.near", "node1.near"});
  EXPECT_EQ(view("migration_info")["node0.near"][1], nullptr);
  // Adding domains clears them too.
  ASSERT_TRUE(call("node2.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  vote_all("vote_add_domains", {{"domains", json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  ASSERT_TRUE(state().contains("Initializing"));
  EXPECT_FALSE(view("migration_info").contains("node2.near"));
}

TEST_F(ContractTest, participants_leaving_lose_their_backup_service_and_migration) {
  add_two_domains();
  ASSERT_TRUE(call("node2.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node1.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  json proposal = running()["parameters"];
  proposal["participants"]["participants"].erase(2);  // node2 leaves
  json args = {{"prospective_epoch_id", 1}, {"proposal", proposal}};
  vote_all("vote_new_parameters", args, {"node0.near", "node1.near"});
  ASSERT_TRUE(state().contains("Resharing"));
  EXPECT_TRUE(view("migration_info").contains("node2.near"));  // still a current participant
  for (int d = 0; d < 2; ++d) {
    json id = {{"epoch_id", 1}, {"domain_id", d}, {"attempt_id", 0}};
    EXPECT_EQ(error_of(call("node2.near", "vote_reshared", {{"key_event_id", id}})), "Not a participant: node2.near");
    vote_all("vote_reshared", {{"key_event_id", id}}, {"node0.near", "node1.near"});
  }
  ASSERT_TRUE(state().contains("Running"));
  json info = view("migration_info");
  EXPECT_FALSE(info.contains("node2.near"));
  EXPECT_TRUE(info.contains("node1.near"));
}

TEST_F(ContractTest, a_failing_call_leaves_the_state_byte_identical) {
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

TEST_F(ContractTest, unknown_methods_and_bad_arguments_are_distinguished) {
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

TEST_F(ContractTest, serialize_round_trips_an_initializing_state_and_keygen_continues) {
  add_two_domains();
  json domains = json::array({{{"id", 2}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  ASSERT_TRUE(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  auto back = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), contract_.serialize());
  contract_ = std::move(*back);
  json pk = ed25519_pk_extended();
  vote_all("vote_pk", {{"key_event_id", {{"epoch_id", 0}, {"domain_id", 2}, {"attempt_id", 0}}}, {"public_key", pk}});
  EXPECT_EQ(running()["keyset"]["domains"].size(), 3u);
}

TEST_F(ContractTest, serialize_round_trips_the_whole_state) {
  add_two_domains();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", running()["parameters"]}}));
  auto back = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), contract_.serialize());
  // Mid-resharing too, votes included.
  start_resharing();
  ASSERT_TRUE(call("node0.near", "vote_reshared", {{"key_event_id", {{"epoch_id", 1}, {"domain_id", 0}, {"attempt_id", 0}}}}));
  auto mid = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(mid) << mid.error().message;
  EXPECT_EQ(mid->serialize(), contract_.serialize());
  EXPECT_EQ(mid->view("state", {}).value(), contract_.view("state", {}).value());
}

TEST(ContractGenesis, accepts_the_real_mainnet_running_state) {
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

json mainnet_fixture() {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  EXPECT_TRUE(in);
  return json::parse(in);
}

TEST(ContractGenesis, a_mainnet_genesis_with_migrations_lets_a_node_conclude) {
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

TEST(ContractGenesis, rejects_malformed_migration_maps) {
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

TEST(ContractGenesis, rejects_malformed_states) {
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

}  // namespace
}  // namespace mpc::contract
