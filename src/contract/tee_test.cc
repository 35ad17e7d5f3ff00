// TEE attestations on chain: submit_participant_info (Mock in development
// only, Dstack verified with the reference's recorded attestation against the
// voted allowed sets), expiry, report data binding, backup services,
// conclude_node_migration's attestation requirement, verify_tee and the
// durable form.
#include <gtest/gtest.h>

#include "support/attest/fixtures.h"
#include "support/contract/contract_test_fixture.h"

namespace mpc::contract {
namespace {

using fixture::json;
using fixture::key_text;
namespace at = attest::testing;

constexpr std::uint64_t kSeconds = 1'000'000'000;
constexpr std::uint64_t kWeek = 7 * 24 * 60 * 60;

json dstack_attestation() {
  return json{{"Dstack",
               {{"quote", json::parse(at::read_fixture("quote.json"))},
                {"collateral", json::parse(at::read_fixture("collateral.json"))},
                {"tcb_info", json::parse(at::read_fixture("tcb_info.json"))}}}};
}

class TeeTest : public fixture::ContractTest {
 protected:
  // A fresh contract in `mode` with node0..node2 (threshold 2).
  void reinit(const std::string& mode) {
    contract_ = MpcContract();
    ASSERT_TRUE(call("mpc.near", "init", {{"parameters", fixture::params_json(3, 2)}, {"init_config", {{"attestation_mode", mode}}}}));
  }
  CallContext at_time(const std::string& account, const core::NearPublicKey& key, std::uint64_t seconds) const {
    CallContext c = ctx(account);
    c.signer_public_key = key;
    c.block_timestamp_ns = seconds * kSeconds;
    return c;
  }
  core::Result<CallOutcome> call_at(const CallContext& c, const std::string& method, const json& args) {
    const std::string text = args.dump();
    return contract_.call(c, method, core::as_bytes(text));
  }
  core::Result<CallOutcome> submit(const CallContext& c, const json& attestation, const std::string& tls) {
    return call_at(c, "submit_participant_info", {{"proposed_participant_attestation", attestation}, {"tls_public_key", tls}});
  }
  json view_with(const std::string& method, const json& args) {
    const std::string text = args.dump();
    auto r = contract_.view(method, core::as_bytes(text));
    EXPECT_TRUE(r) << r.error().message;
    return r ? json::parse(r->begin(), r->end()) : json();
  }
  // node0 and node1 (the threshold) vote the reference attestation's
  // image hash, launcher compose hash and both measurement sets.
  void vote_reference_allowed_set() {
    const json allowed = json::parse(at::read_fixture("allowed_set.json"));
    for (const char* who : {"node0.near", "node1.near"}) {
      ASSERT_TRUE(call(who, "vote_code_hash", {{"code_hash", allowed["mpc_image_hashes"][0]}}));
      ASSERT_TRUE(call(who, "vote_add_launcher_compose_hash", {{"launcher_compose_hash", allowed["launcher_compose_hashes"][0]}}));
    }
    for (const auto& m : allowed["measurements"]) {
      for (const char* who : {"node0.near", "node1.near"}) ASSERT_TRUE(call(who, "vote_add_os_measurement", {{"measurement", m}}));
    }
  }
  core::NearPublicKey reference_account_key() const { return core::NearPublicKey{at::account_key()}; }
  std::string reference_tls_key() const { return core::ed25519_public_key_to_string(at::tls_key()); }
};

TEST_F(TeeTest, MockIsAcceptedInDevelopmentAndExpiresAWeekAfterTheBlockTimestamp) {
  const std::uint64_t now = 1'700'000'000;
  const std::string tls = fixture::new_key();
  auto r = submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, now), {{"Mock", "Valid"}}, tls);
  ASSERT_TRUE(r) << r.error().message;
  json stored = view_with("get_attestation", {{"tls_public_key", tls}});
  EXPECT_EQ(stored["kind"], "Mock");
  EXPECT_EQ(stored["account_id"], "node0.near");
  EXPECT_EQ(stored["account_public_key"], key_text(access_key_));
  EXPECT_EQ(stored["expiry_timestamp_seconds"], now + kWeek);
  EXPECT_EQ(view("get_tee_accounts").size(), 1u);
  EXPECT_EQ(view("attestation_mode"), "development");

  // Invalid mocks and constraints the allowed sets do not hold are refused.
  EXPECT_EQ(error_of(submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, now), {{"Mock", "Invalid"}}, tls)),
            "Invalid TEE Remote Attestation: the submitted attestation failed verification, reason: InvalidMockAttestation");
  json constrained = {{"Mock", {{"WithConstraints", {{"mpc_docker_image_hash", std::string(64, 'a')}}}}}};
  EXPECT_EQ(error_of(submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, now), constrained, tls)),
            "Invalid TEE Remote Attestation: the submitted attestation failed verification, reason: the allowed mpc image "
            "hashes list is empty");
  json expired = {{"Mock", {{"WithConstraints", {{"expiry_timestamp_seconds", now}}}}}};
  EXPECT_NE(error_of(submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, now), expired, tls)).find("expired"),
            std::string::npos);
  // The stored one is unchanged by the refusals.
  EXPECT_EQ(view_with("get_attestation", {{"tls_public_key", tls}}), stored);
}

TEST_F(TeeTest, MockIsRefusedInProduction) {
  reinit("production");
  EXPECT_EQ(view("attestation_mode"), "production");
  const std::string tls = fixture::new_key();
  auto r = submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, 1'700'000'000), {{"Mock", "Valid"}}, tls);
  EXPECT_EQ(error_of(r),
            "Invalid TEE Remote Attestation: the submitted attestation failed verification, reason: Mock attestations are "
            "accepted only by a contract in development mode; this contract is in production mode");
  EXPECT_TRUE(view_with("get_attestation", {{"tls_public_key", tls}}).is_null());
}

TEST_F(TeeTest, DstackAttestationIsVerifiedInProductionAgainstTheVotedAllowedSet) {
  reinit("production");
  const auto now = static_cast<std::uint64_t>(at::kReferenceTimestamp);
  const CallContext c = at_time("node0.near", reference_account_key(), now);

  // Nothing voted yet: the measurements are not allowed.
  auto before = submit(c, dstack_attestation(), reference_tls_key());
  ASSERT_FALSE(before);
  EXPECT_NE(before.error().message.find("Invalid TEE Remote Attestation: the submitted attestation failed verification, reason: "),
            std::string::npos);

  vote_reference_allowed_set();
  EXPECT_EQ(view("allowed_docker_image_hashes"), json::parse(at::read_fixture("allowed_set.json"))["mpc_image_hashes"]);
  EXPECT_EQ(view("allowed_os_measurements").size(), 2u);
  auto r = submit(c, dstack_attestation(), reference_tls_key());
  ASSERT_TRUE(r) << r.error().message;
  json stored = view_with("get_attestation", {{"tls_public_key", reference_tls_key()}});
  EXPECT_EQ(stored["kind"], "Dstack");
  EXPECT_EQ(stored["expiry_timestamp_seconds"], now + kWeek);
  EXPECT_EQ(stored["mpc_image_hash"], json::parse(at::read_fixture("allowed_set.json"))["mpc_image_hashes"][0]);

  // Past the collateral's validity the same attestation is refused.
  auto late = submit(at_time("node0.near", reference_account_key(), now + 400 * 24 * 3600), dstack_attestation(), reference_tls_key());
  EXPECT_FALSE(late);
}

TEST_F(TeeTest, DstackAttestationWithOtherKeysInItsReportDataIsRefused) {
  reinit("production");
  vote_reference_allowed_set();
  const auto now = static_cast<std::uint64_t>(at::kReferenceTimestamp);
  // Another TLS key than the quote binds.
  auto other_tls = submit(at_time("node0.near", reference_account_key(), now), dstack_attestation(), fixture::new_key());
  ASSERT_FALSE(other_tls);
  EXPECT_NE(other_tls.error().message.find("report data"), std::string::npos) << other_tls.error().message;
  // Signed by another access key than the quote binds.
  auto other_signer = submit(at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, now), dstack_attestation(),
                             reference_tls_key());
  ASSERT_FALSE(other_signer);
  EXPECT_NE(other_signer.error().message.find("report data"), std::string::npos) << other_signer.error().message;
  EXPECT_TRUE(view("get_tee_accounts").empty());
}

TEST_F(TeeTest, AllowedSetsNeedThresholdVotesOfParticipants) {
  const std::string hash(64, 'b');
  EXPECT_EQ(error_of(call("stranger.near", "vote_code_hash", {{"code_hash", hash}})), "Not a participant: stranger.near");
  EXPECT_FALSE(call("node0.near", "vote_code_hash", {{"code_hash", "zz"}}));
  ASSERT_TRUE(call("node0.near", "vote_code_hash", {{"code_hash", hash}}));
  EXPECT_EQ(view("allowed_docker_image_hashes"), json::array());
  EXPECT_EQ(view("code_hash_votes")["proposal_by_account"]["node0.near"], hash);
  ASSERT_TRUE(call("node1.near", "vote_code_hash", {{"code_hash", hash}}));
  EXPECT_EQ(view("allowed_docker_image_hashes"), json::array({hash}));
  EXPECT_EQ(view("allowed_backup_service_code_hashes"), json::array());
  vote_all("vote_backup_service_code_hash", {{"code_hash", hash}});
  vote_all("vote_backup_service_launcher_compose_hash", {{"launcher_compose_hash", hash}});
  EXPECT_EQ(view("allowed_backup_service_code_hashes"), json::array({hash}));
  EXPECT_EQ(view("allowed_backup_service_launcher_compose_hashes"), json::array({hash}));
  EXPECT_EQ(view("allowed_launcher_compose_hashes"), json::array());
}

TEST_F(TeeTest, ReSubmissionOverwritesAndAnotherAccountCannotTakeTheKey) {
  const std::string tls = fixture::new_key();
  const core::NearPublicKey key{access_key_.public_key()};
  ASSERT_TRUE(submit(at_time("node0.near", key, 1000), {{"Mock", "Valid"}}, tls));
  ASSERT_TRUE(submit(at_time("node0.near", key, 5000), {{"Mock", "Valid"}}, tls));
  EXPECT_EQ(view_with("get_attestation", {{"tls_public_key", tls}})["expiry_timestamp_seconds"], 5000 + kWeek);
  EXPECT_EQ(error_of(submit(at_time("node1.near", key, 6000), {{"Mock", "Valid"}}, tls)),
            "TLS public key is already registered to a different account; only the owning account may update it");
}

TEST_F(TeeTest, ConcludeNodeMigrationNeedsAnUnexpiredAttestationOfTheDestination) {
  add_two_domains();
  auto node_key = core::Ed25519SecretKey::generate();
  json dest = destination(node_key);
  const std::string tls = dest["destination_node_info"]["tls_public_key"];
  ASSERT_TRUE(call("node1.near", "start_node_migration", {{"destination_node_info", dest}}, 1));
  const core::NearPublicKey key{node_key.public_key()};
  const json conclude = {{"keyset", running()["keyset"]}};
  const std::uint64_t t0 = 1'700'000'000;

  EXPECT_EQ(error_of(call_at(at_time("node1.near", key, t0), "conclude_node_migration", conclude)),
            "Invalid TEE Remote Attestation: destination node TEE quote is invalid: no attestation has been submitted for TLS key " +
                tls +
                " (the destination node calls submit_participant_info with its TLS key, signed by its access key, before "
                "conclude_node_migration)");
  // Submitted under the account's other key: it binds the wrong access key.
  ASSERT_TRUE(submit(at_time("node1.near", core::NearPublicKey{access_key_.public_key()}, t0), {{"Mock", "Valid"}}, tls));
  EXPECT_NE(error_of(call_at(at_time("node1.near", key, t0), "conclude_node_migration", conclude)).find("binds access key"),
            std::string::npos);
  // By the destination's key: accepted, but not once it has expired.
  ASSERT_TRUE(submit(at_time("node1.near", key, t0), {{"Mock", "Valid"}}, tls));
  EXPECT_NE(error_of(call_at(at_time("node1.near", key, t0 + kWeek), "conclude_node_migration", conclude)).find("expired"),
            std::string::npos);
  auto r = call_at(at_time("node1.near", key, t0 + kWeek - 1), "conclude_node_migration", conclude);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(running()["parameters"]["participants"]["participants"][1][2], dest["destination_node_info"]);
}

TEST_F(TeeTest, BackupServiceAttestationIsOptionalInDevelopmentAndShownToTheNodes) {
  const std::string tls = fixture::new_key();
  const json absent = {{"tls_public_key", nullptr}, {"attested", false}, {"kind", nullptr}, {"expires_at_seconds", nullptr}};
  EXPECT_EQ(view_with("backup_service_attestation", {{"account_id", "node0.near"}}), absent);
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", tls}}}}, 1));
  EXPECT_EQ(view_with("backup_service_attestation", {{"account_id", "node0.near"}}),
            (json{{"tls_public_key", tls}, {"attested", false}, {"kind", nullptr}, {"expires_at_seconds", nullptr}}));

  // Attested, it needs no deposit: the TEE's key is a function-call access
  // key, which NEAR does not let attach one.
  CallContext c = at_time("node0.near", core::NearPublicKey{access_key_.public_key()}, 2000);
  c.attached_deposit = 0;
  auto r = call_at(c, "register_backup_service", {{"backup_service_info", {{"public_key", tls}, {"attestation", {{"Mock", "Valid"}}}}}});
  ASSERT_TRUE(r) << r.error().message;
  // Unattested, it stays the soft launch's payable call.
  EXPECT_FALSE(call("node1.near", "register_backup_service", {{"backup_service_info", {{"public_key", tls}}}}, 0));
  EXPECT_EQ(view_with("backup_service_attestation", {{"account_id", "node0.near"}}),
            (json{{"tls_public_key", tls}, {"attested", true}, {"kind", "Mock"}, {"expires_at_seconds", 2000 + kWeek}}));
  // migration_info keeps its shape.
  EXPECT_EQ(view("migration_info"), (json{{"node0.near", json::array({{{"public_key", tls}}, nullptr})}}));
  // Re-registering without one drops it.
  ASSERT_TRUE(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", tls}}}}, 1));
  EXPECT_EQ(view_with("backup_service_attestation", {{"account_id", "node0.near"}})["attested"], false);
}

TEST_F(TeeTest, BackupServiceNeedsADstackAttestationInProduction) {
  reinit("production");
  const std::string tls = fixture::new_key();
  EXPECT_EQ(error_of(call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", tls}}}}, 1)),
            "Invalid TEE Remote Attestation: a contract in production mode registers a backup service only with a Dstack "
            "attestation (backup_service_info.attestation is missing)");
  EXPECT_FALSE(call("node0.near", "register_backup_service",
                    {{"backup_service_info", {{"public_key", tls}, {"attestation", {{"Mock", "Valid"}}}}}}, 1));
  EXPECT_EQ(view("migration_info"), json::object());
  // The reference's attestation, with the backup service's allowed sets.
  const json allowed = json::parse(at::read_fixture("allowed_set.json"));
  for (const char* who : {"node0.near", "node1.near"}) {
    ASSERT_TRUE(call(who, "vote_backup_service_code_hash", {{"code_hash", allowed["mpc_image_hashes"][0]}}));
    ASSERT_TRUE(call(who, "vote_backup_service_launcher_compose_hash", {{"launcher_compose_hash", allowed["launcher_compose_hashes"][0]}}));
    for (const auto& m : allowed["measurements"]) ASSERT_TRUE(call(who, "vote_add_os_measurement", {{"measurement", m}}));
  }
  const auto now = static_cast<std::uint64_t>(at::kReferenceTimestamp);
  CallContext c = at_time("node0.near", reference_account_key(), now);
  c.attached_deposit = 1;
  auto r = call_at(c, "register_backup_service",
                   {{"backup_service_info", {{"public_key", reference_tls_key()}, {"attestation", dstack_attestation()}}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(view_with("backup_service_attestation", {{"account_id", "node0.near"}}),
            (json{{"tls_public_key", reference_tls_key()}, {"attested", true}, {"kind", "Dstack"}, {"expires_at_seconds", now + kWeek}}));
}

TEST_F(TeeTest, VerifyTeeKicksOutParticipantsWithoutAValidAttestation) {
  add_two_domains();
  const json participants = running()["parameters"]["participants"]["participants"];
  const core::NearPublicKey key{access_key_.public_key()};
  const std::uint64_t t0 = 1'700'000'000;
  // Only node0 attested: two would be kicked out, below the threshold.
  ASSERT_TRUE(submit(at_time("node0.near", key, t0), {{"Mock", "Valid"}}, participants[0][2]["tls_public_key"]));
  auto refused = call_at(at_time("node0.near", key, t0), "verify_tee", json::object());
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(core::to_string(refused->return_value), "false");
  ASSERT_TRUE(state().contains("Running"));
  // node1 attested too: node2 is kicked out by a resharing to node0, node1.
  ASSERT_TRUE(submit(at_time("node1.near", key, t0), {{"Mock", "Valid"}}, participants[1][2]["tls_public_key"]));
  EXPECT_EQ(error_of(call_at(at_time("stranger.near", key, t0), "verify_tee", json::object())), "Not a participant: stranger.near");
  auto r = call_at(at_time("node2.near", key, t0), "verify_tee", json::object());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(core::to_string(r->return_value), "true");
  json resharing = state()["Resharing"];
  ASSERT_TRUE(resharing.is_object());
  EXPECT_EQ(resharing["resharing_key"]["parameters"]["participants"]["participants"], json::array({participants[0], participants[1]}));
  EXPECT_EQ(resharing["resharing_key"]["parameters"]["threshold"], 2);
}

TEST_F(TeeTest, VerifyTeeReturnsTrueWhenEveryoneIsAttestedAndChangesNothing) {
  const json participants = running()["parameters"]["participants"]["participants"];
  const core::NearPublicKey key{access_key_.public_key()};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(submit(at_time("node" + std::to_string(i) + ".near", key, 100), {{"Mock", "Valid"}}, participants[i][2]["tls_public_key"]));
  }
  const std::string before = contract_.serialize();
  auto r = call_at(at_time("node0.near", key, 100), "verify_tee", json::object());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(core::to_string(r->return_value), "true");
  EXPECT_EQ(contract_.serialize(), before);
  // A week later every attestation has expired: a resharing would leave nobody.
  auto later = call_at(at_time("node0.near", key, 100 + kWeek), "verify_tee", json::object());
  ASSERT_TRUE(later);
  EXPECT_EQ(core::to_string(later->return_value), "false");
}

TEST_F(TeeTest, AttestationsAndAllowedSetsSurviveSerializeAndDeserialize) {
  reinit("production");
  vote_reference_allowed_set();
  ASSERT_TRUE(call("node2.near", "vote_code_hash", {{"code_hash", std::string(64, 'c')}}));
  const auto now = static_cast<std::uint64_t>(at::kReferenceTimestamp);
  ASSERT_TRUE(submit(at_time("node0.near", reference_account_key(), now), dstack_attestation(), reference_tls_key()));
  const std::string text = contract_.serialize();
  EXPECT_EQ(json::parse(text)["config"]["attestation_mode"], "production");
  auto back = MpcContract::deserialize(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), text);
  for (const char* v : {"allowed_docker_image_hashes", "allowed_launcher_compose_hashes", "allowed_os_measurements", "code_hash_votes",
                        "get_tee_accounts", "attestation_mode"}) {
    auto a = back->view(v, {});
    auto b = contract_.view(v, {});
    ASSERT_TRUE(a && b) << v;
    EXPECT_EQ(*a, *b) << v;
  }
  // A stored attestation under a key other than its own is refused.
  json tampered = json::parse(text);
  auto& stored = tampered["tee"]["participant_attestations"];
  stored[fixture::new_key()] = stored[reference_tls_key()];
  EXPECT_FALSE(MpcContract::deserialize(tampered.dump()));
  json bad_mode = json::parse(text);
  bad_mode["config"]["attestation_mode"] = "lenient";
  EXPECT_FALSE(MpcContract::deserialize(bad_mode.dump()));
}

}  // namespace
}  // namespace mpc::contract
