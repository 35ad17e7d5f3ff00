// The MPC contract as a specification: lifecycle, votes and node migrations.
#include "contract/contract.h"

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
    ASSERT_TRUE(call("node0.near", "vote_add_domains", {{"domains", domains}}));
    ASSERT_TRUE(call("node1.near", "vote_add_domains", {{"domains", domains}}));
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

  json destination(const core::Ed25519SecretKey& access) {
    return json{{"signer_account_pk", key_text(access)},
                {"destination_node_info", {{"url", "https://new-node"}, {"tls_public_key", new_key()}}}};
  }

  core::Ed25519SecretKey access_key_ = core::Ed25519SecretKey::generate();
  MpcContract contract_;
};

TEST_F(ContractTest, init__starts_running_at_epoch_zero_without_domains) {
  json r = running();
  EXPECT_EQ(r["keyset"], (json{{"epoch_id", 0}, {"domains", json::array()}}));
  EXPECT_EQ(r["parameters"]["threshold"], 2);
  EXPECT_EQ(r["parameters_votes"], (json{{"proposal_by_account", json::object()}}));
  auto again = call("mpc.near", "init", json{{"parameters", params_json(3, 2)}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "The contract is already initialized.");
}

TEST_F(ContractTest, init__enforces_thresholds_and_the_contract_account) {
  MpcContract fresh;
  auto c = ctx("someone.near");
  for (auto [n, t] : std::vector<std::pair<int, int>>{{3, 1}, {3, 4}, {5, 2}, {1, 1}}) {
    const std::string args = json{{"parameters", params_json(n, t)}}.dump();
    auto r = fresh.call(ctx("mpc.near"), "init", core::as_bytes(args));
    EXPECT_FALSE(r) << n << "/" << t;
  }
  const std::string ok = json{{"parameters", params_json(3, 2)}}.dump();
  EXPECT_FALSE(fresh.call(c, "init", core::as_bytes(ok)));
  EXPECT_TRUE(fresh.call(ctx("mpc.near"), "init", core::as_bytes(ok)));
}

TEST_F(ContractTest, add_domains__needs_threshold_votes_then_all_participants_vote_the_key) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  ASSERT_TRUE(call("node0.near", "vote_add_domains", {{"domains", domains}}));
  EXPECT_TRUE(state().contains("Running"));  // 1 of threshold 2
  auto outsider = call("stranger.near", "vote_add_domains", {{"domains", domains}});
  ASSERT_FALSE(outsider);
  EXPECT_TRUE(state().contains("Running"));
  ASSERT_TRUE(call("node1.near", "vote_add_domains", {{"domains", domains}}));
  json init = state()["Initializing"];
  EXPECT_EQ(init["generating_key"]["domain"]["id"], 0);
  json pk = ed25519_pk_extended();
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
  ASSERT_TRUE(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
  ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
  EXPECT_TRUE(state().contains("Initializing"));  // keygen needs every participant
  ASSERT_TRUE(call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
  json r = running();
  ASSERT_EQ(r["keyset"]["domains"].size(), 1u);
  EXPECT_EQ(r["keyset"]["domains"][0]["key"], pk);
  EXPECT_EQ(r["domains"]["next_domain_id"], 1);
}

TEST_F(ContractTest, vote_pk__conflicting_keys_restart_the_attempt) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  ASSERT_TRUE(call("node0.near", "vote_add_domains", {{"domains", domains}}));
  ASSERT_TRUE(call("node1.near", "vote_add_domains", {{"domains", domains}}));
  json id = {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}};
  ASSERT_TRUE(call("node0.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}}));
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"]["attempt_id"], 1);
  auto stale = call("node2.near", "vote_pk", {{"key_event_id", id}, {"public_key", ed25519_pk_extended()}});
  ASSERT_FALSE(stale);
}

TEST_F(ContractTest, vote_cancel_keygen__returns_to_running_with_the_keys_it_had) {
  add_two_domains();
  json domains = json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  ASSERT_TRUE(call("node0.near", "vote_add_domains", {{"domains", domains}}));
  ASSERT_TRUE(call("node1.near", "vote_add_domains", {{"domains", domains}}));
  ASSERT_TRUE(call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  ASSERT_TRUE(call("node2.near", "vote_cancel_keygen", {{"next_domain_id", 3}}));
  json r = running();
  EXPECT_EQ(r["keyset"]["domains"].size(), 2u);
  EXPECT_EQ(r["domains"]["domains"].size(), 2u);
  EXPECT_EQ(r["domains"]["next_domain_id"], 3);
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
  EXPECT_FALSE(call("node0.near", "vote_new_parameters", {{"prospective_epoch_id", 2}, {"proposal", proposal}}));
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) ASSERT_TRUE(call(who, "vote_new_parameters", args));
  EXPECT_TRUE(state().contains("Running"));  // the new participant has not voted yet
  ASSERT_TRUE(call("node3.near", "vote_new_parameters", args));
  ASSERT_TRUE(state().contains("Resharing"));
  EXPECT_EQ(state()["Resharing"]["previous_running_state"]["keyset"], r["keyset"]);
  for (int d = 0; d < 2; ++d) {
    json id = {{"epoch_id", 1}, {"domain_id", d}, {"attempt_id", 0}};
    for (int n = 0; n < 4; ++n) ASSERT_TRUE(call("node" + std::to_string(n) + ".near", "vote_reshared", {{"key_event_id", id}}));
  }
  json after = running();
  EXPECT_EQ(after["keyset"]["epoch_id"], 1);
  EXPECT_EQ(after["keyset"]["domains"][0]["key"], r["keyset"]["domains"][0]["key"]);
  EXPECT_EQ(after["parameters"], proposal);
}

TEST_F(ContractTest, vote_cancel_resharing__restores_the_previous_running_state) {
  add_two_domains();
  json before = running();
  json proposal = before["parameters"];
  proposal["threshold"] = 3;
  json args = {{"prospective_epoch_id", 1}, {"proposal", proposal}};
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) ASSERT_TRUE(call(who, "vote_new_parameters", args));
  ASSERT_TRUE(state().contains("Resharing"));
  ASSERT_TRUE(call("node0.near", "vote_cancel_resharing", json::object()));
  ASSERT_TRUE(call("node1.near", "vote_cancel_resharing", json::object()));
  json after = running();
  EXPECT_EQ(after["keyset"], before["keyset"]);
  EXPECT_EQ(after["parameters"], before["parameters"]);
}

// ---- node migrations (interop §3) ----

TEST_F(ContractTest, register_backup_service__requires_a_participant_and_one_yocto_and_refunds_the_rest) {
  json args = {{"backup_service_info", {{"public_key", new_key()}}}};
  auto no_deposit = call("node0.near", "register_backup_service", args, 0);
  ASSERT_FALSE(no_deposit);
  EXPECT_NE(no_deposit.error().message.find("deposit"), std::string::npos);
  EXPECT_FALSE(call("stranger.near", "register_backup_service", args, 1));
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

TEST_F(ContractTest, register_backup_service__rejects_calls_through_another_contract) {
  auto c = ctx("node0.near", 1);
  c.predecessor_account_id = "proxy.near";
  const std::string args = json{{"backup_service_info", {{"public_key", new_key()}}}}.dump();
  EXPECT_FALSE(contract_.call(c, "register_backup_service", core::as_bytes(args)));
}

TEST_F(ContractTest, start_node_migration__requires_running_a_participant_and_a_deposit) {
  auto access = core::Ed25519SecretKey::generate();
  json args = {{"destination_node_info", destination(access)}};
  EXPECT_FALSE(call("node0.near", "start_node_migration", args, 0));
  EXPECT_FALSE(call("stranger.near", "start_node_migration", args, 1));
  ASSERT_TRUE(call("node0.near", "start_node_migration", args, 1));
  EXPECT_EQ(view("migration_info")["node0.near"][1], args["destination_node_info"]);
  // Bad destination: not an ed25519 key.
  json bad = args;
  bad["destination_node_info"]["signer_account_pk"] = "secp256k1:abc";
  EXPECT_EQ(call("node1.near", "start_node_migration", bad, 1).error().code, core::ErrorCode::kInvalidArgument);
}

TEST_F(ContractTest, start_node_migration__is_refused_outside_running) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  ASSERT_TRUE(call("node0.near", "vote_add_domains", {{"domains", domains}}));
  ASSERT_TRUE(call("node1.near", "vote_add_domains", {{"domains", domains}}));
  auto r = call("node0.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "The protocol is not Running.");
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

TEST_F(ContractTest, conclude_node_migration__rejects_a_stale_keyset) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  json stale = running()["keyset"];
  stale["domains"].erase(1);
  auto r = call("node1.near", "conclude_node_migration", {{"keyset", stale}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("keyset"), std::string::npos);
  EXPECT_TRUE(view("migration_info").contains("node1.near"));
}

TEST_F(ContractTest, conclude_node_migration__without_a_migration_says_so) {
  add_two_domains();
  auto r = call("node2.near", "conclude_node_migration", {{"keyset", running()["keyset"]}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Node does not have an ongoing recovery");
}

TEST_F(ContractTest, conclude_node_migration__rejects_a_key_other_than_the_destination_access_key) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  auto other = core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()};
  auto r = call_with_key("node1.near", other, "conclude_node_migration", {{"keyset", running()["keyset"]}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("access key"), std::string::npos);
}

TEST_F(ContractTest, conclude_node_migration__checks_running_before_anything_else) {
  add_two_domains();
  json proposal = running()["parameters"];
  proposal["threshold"] = 3;
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    ASSERT_TRUE(call(who, "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}}));
  }
  auto r = call("stranger.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 0}, {"domains", json::array()}}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "The protocol is not Running.");
}

TEST_F(ContractTest, cancel_node_migration__removes_it_and_conclude_then_fails) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node1.near", "cancel_node_migration", json::object()));
  EXPECT_FALSE(view("migration_info").contains("node1.near"));
  EXPECT_EQ(call("node1.near", "conclude_node_migration", {{"keyset", running()["keyset"]}}).error().message,
            "Node does not have an ongoing recovery");
  EXPECT_FALSE(call("node1.near", "cancel_node_migration", json::object()));
}

TEST_F(ContractTest, resharing_or_adding_domains_clears_every_ongoing_migration) {
  add_two_domains();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node0.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  json proposal = running()["parameters"];
  proposal["threshold"] = 3;
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    ASSERT_TRUE(call(who, "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}}));
  }
  json info = view("migration_info");
  EXPECT_FALSE(info.contains("node1.near"));
  EXPECT_EQ(info["node0.near"][1], nullptr);     // migration gone
  EXPECT_NE(info["node0.near"][0], nullptr);     // backup service kept
}

TEST_F(ContractTest, participants_leaving_lose_their_backup_service_and_migration) {
  add_two_domains();
  ASSERT_TRUE(call("node2.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  json proposal = running()["parameters"];
  proposal["participants"]["participants"].erase(2);  // node2 leaves
  json args = {{"prospective_epoch_id", 1}, {"proposal", proposal}};
  ASSERT_TRUE(call("node0.near", "vote_new_parameters", args));
  ASSERT_TRUE(call("node1.near", "vote_new_parameters", args));
  ASSERT_TRUE(state().contains("Resharing"));
  EXPECT_TRUE(view("migration_info").contains("node2.near"));  // still a current participant
  for (int d = 0; d < 2; ++d) {
    json id = {{"epoch_id", 1}, {"domain_id", d}, {"attempt_id", 0}};
    for (const char* who : {"node0.near", "node1.near"}) ASSERT_TRUE(call(who, "vote_reshared", {{"key_event_id", id}}));
  }
  ASSERT_TRUE(state().contains("Running"));
  EXPECT_FALSE(view("migration_info").contains("node2.near"));
}

TEST_F(ContractTest, a_failing_call_leaves_the_state_byte_identical) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  const std::string before = contract_.serialize();
  EXPECT_FALSE(call("node1.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 9}, {"domains", json::array()}}}}));
  EXPECT_FALSE(call("node1.near", "start_node_migration", {{"destination_node_info", {{"bad", 1}}}}, 1));
  EXPECT_FALSE(call("node1.near", "cancel_node_migration", json::object(), 5));
  EXPECT_EQ(contract_.serialize(), before);
}

TEST_F(ContractTest, unknown_methods_and_bad_arguments_are_distinguished) {
  auto unknown = contract_.call(ctx("node0.near"), "frobnicate", core::as_bytes("{}"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);
  auto bad = contract_.call(ctx("node0.near", 1), "register_backup_service", core::as_bytes("{nope"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_FALSE(contract_.view("frobnicate", {}));
}

TEST_F(ContractTest, serialize_round_trips_the_whole_state) {
  add_two_domains();
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", new_key()}}}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  auto back = MpcContract::deserialize(contract_.serialize());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), contract_.serialize());
}

TEST(ContractGenesis, accepts_the_real_mainnet_running_state) {
  const char* shared = std::getenv("MPC_SHARED_DIR");
  if (shared == nullptr) shared = MPC_SHARED_DIR_DEFAULT;
  std::ifstream in(std::string(shared) + "/fixtures/reference/contract_state_mainnet_running.json");
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

TEST(ContractGenesis, rejects_malformed_states) {
  EXPECT_FALSE(MpcContract::deserialize("not json"));
  EXPECT_FALSE(MpcContract::deserialize(R"({"protocol_state":"Frozen"})"));
  EXPECT_FALSE(MpcContract::deserialize(R"({"protocol_state":{"Running":{"keyset":{}}}})"));
  EXPECT_TRUE(MpcContract::deserialize(R"({"protocol_state":"NotInitialized"})"));
}

}  // namespace
}  // namespace mpc::contract
