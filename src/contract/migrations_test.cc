// Node migrations as a specification (interop §3): backup services,
// start/conclude/cancel of a migration, url updates, and what protocol
// changes do to them.
#include "support/contract/contract_test_fixture.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mpc::contract {
namespace {

using namespace mpc::contract::fixture;

class MigrationsTest : public ContractTest {};

TEST_F(MigrationsTest, RegisterBackupServiceRequiresAParticipantAndOneYoctoAndRefundsTheRest) {
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

TEST_F(MigrationsTest, RegisterBackupServiceAcceptsProspectiveParticipantsDuringResharing) {
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

TEST_F(MigrationsTest, RegisterBackupServiceIsRefusedBeforeInit) {
  MpcContract fresh;
  auto c = ctx("node0.near", 1);
  const std::string args = json{{"backup_service_info", {{"public_key", new_key()}}}}.dump();
  auto r = fresh.call(c, "register_backup_service", core::as_bytes(args));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Unexpected protocol state: NotInitialized");
}

TEST_F(MigrationsTest, MigrationMethodsRejectCallsThroughAnotherContract) {
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

TEST_F(MigrationsTest, StartNodeMigrationRequiresRunningAParticipantAndADeposit) {
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

TEST_F(MigrationsTest, StartNodeMigrationRefusesATlsKeyThatIsAlreadySomeones) {
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

TEST(MigrationsFromGenesis, ConcludeNodeMigrationChecksTheTlsKeyAgainAtConclusion) {
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

TEST_F(MigrationsTest, StartNodeMigrationIsRefusedOutsideRunning) {
  json domains = json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  vote_all("vote_add_domains", {{"domains", domains}});
  auto r = call("node0.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1);
  EXPECT_EQ(error_of(r), "The protocol is not Running.");
}

TEST_F(MigrationsTest, ConcludeNodeMigrationReplacesTheParticipantInfoAndKeepsItsId) {
  add_two_domains();
  json dest = destination(access_key_);
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", dest}}, 1));
  ASSERT_TRUE(submit_mock_attestation("node1.near", access_key_, dest["destination_node_info"]["tls_public_key"]));
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

TEST_F(MigrationsTest, ConcludeNodeMigrationRejectsStaleKeyset) {
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

TEST_F(MigrationsTest, ConcludeNodeMigrationWithoutAMigrationSaysSo) {
  add_two_domains();
  EXPECT_EQ(error_of(call("node2.near", "conclude_node_migration", {{"keyset", running()["keyset"]}})),
            "Node does not have an ongoing recovery");
}

TEST_F(MigrationsTest, ConcludeNodeMigrationRejectsAKeyOtherThanTheDestinationAccessKey) {
  add_two_domains();
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  auto other = core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()};
  auto r = call_with_key("node1.near", other, "conclude_node_migration", {{"keyset", running()["keyset"]}});
  EXPECT_EQ(error_of(r), "The transaction was submitted by a different public key than expected. Found: " + other.to_string() +
                             ", expected: " + core::NearPublicKey{access_key_.public_key()}.to_string());
  EXPECT_TRUE(view("migration_info").contains("node1.near"));  // the failed call reverted
}

TEST_F(MigrationsTest, ConcludeNodeMigrationChecksInTheReferenceOrder) {
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

TEST_F(MigrationsTest, ConcludeNodeMigrationChecksRunningBeforeAnythingElse) {
  add_two_domains();
  start_resharing();
  auto r = call("stranger.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 0}, {"domains", json::array()}}}});
  EXPECT_EQ(error_of(r), "The protocol is not Running.");
}

TEST_F(MigrationsTest, CancelNodeMigrationRemovesItAndConcludeThenFails) {
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

TEST_F(MigrationsTest, CancelNodeMigrationKeepsTheBackupService) {
  add_two_domains();
  json backup = {{"public_key", new_key()}};
  ASSERT_TRUE(call("node1.near", "register_backup_service", {{"backup_service_info", backup}}, 1));
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", destination(access_key_)}}, 1));
  ASSERT_TRUE(call("node1.near", "cancel_node_migration", json::object(), 1));
  EXPECT_EQ(view("migration_info")["node1.near"], json::array({backup, nullptr}));
}

TEST_F(MigrationsTest, UpdateParticipantUrlChangesOnlyTheCallersUrl) {
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

TEST_F(MigrationsTest, ProtocolChangeClearsEveryOngoingMigrationAndKeepsBackupServices) {
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

TEST_F(MigrationsTest, ResharingDropsTheBackupServiceAndMigrationOfAParticipantWhoLeaves) {
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
    json id = event_id(1, d, 0);
    EXPECT_EQ(error_of(call("node2.near", "start_reshare_instance", {{"key_event_id", id}})), "Not a participant: node2.near");
    ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", id}}));
    EXPECT_EQ(error_of(call("node2.near", "vote_reshared", {{"key_event_id", id}})), "Not a participant: node2.near");
    vote_all("vote_reshared", {{"key_event_id", id}}, {"node0.near", "node1.near"});
  }
  ASSERT_TRUE(state().contains("Running"));
  json info = view("migration_info");
  EXPECT_FALSE(info.contains("node2.near"));
  EXPECT_TRUE(info.contains("node1.near"));
}

}  // namespace
}  // namespace mpc::contract
