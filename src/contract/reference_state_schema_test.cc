// The `state` view read with the reference's own types: every field that
// near/mpc's contract-interface types require (not Option, no serde default)
// is present with the JSON type serde expects, in every protocol state the
// contract goes through. The field lists are taken from near/mpc
// (crates/near-mpc-contract-interface/src/types/state.rs, participants.rs;
// crates/near-mpc-crypto-types key_state.rs, crypto.rs). Unknown fields are
// allowed, as serde ignores them.
#include "contract/contract.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/types.h"
#include "support/fixtures.h"

#include <fstream>

namespace mpc::contract {
namespace {

using json = nlohmann::json;

// Type names: "u64", "string", "ed25519", "PublicKeyExtended", a struct
// name from kStructs, "[T]" (array of T), "{T}" (object with string keys,
// values T), "?T" (Option<T>: null or missing), "participant" (the
// [account, id, ParticipantInfo] tuple), "protocol" / "purpose" (enums).
struct Field {
  const char* name;
  const char* type;
};

const std::map<std::string, std::vector<Field>>& structs() {
  static const std::map<std::string, std::vector<Field>> s = {
      {"RunningContractState",
       {{"domains", "DomainRegistry"},
        {"keyset", "Keyset"},
        {"parameters", "ThresholdParameters"},
        {"parameters_votes", "ThresholdParametersVotes"},
        {"add_domains_votes", "AddDomainsVotes"},
        {"previously_cancelled_resharing_epoch_id", "?u64"}}},
      {"InitializingContractState",
       {{"domains", "DomainRegistry"},
        {"epoch_id", "u64"},
        {"generated_keys", "[KeyForDomain]"},
        {"generating_key", "KeyEvent"},
        {"cancel_votes", "[u64]"}}},
      {"ResharingContractState",
       {{"previous_running_state", "RunningContractState"},
        {"reshared_keys", "[KeyForDomain]"},
        {"resharing_key", "KeyEvent"},
        {"cancellation_requests", "[string]"}}},
      {"DomainRegistry", {{"domains", "[DomainConfig]"}, {"next_domain_id", "u64"}}},
      {"DomainConfig", {{"id", "u64"}, {"protocol", "protocol"}, {"reconstruction_threshold", "u64"}, {"purpose", "purpose"}}},
      {"ThresholdParameters", {{"participants", "Participants"}, {"threshold", "u64"}}},
      {"ThresholdParametersVotes", {{"proposal_by_account", "{ProposedThresholdParameters}"}}},
      {"ProposedThresholdParameters", {{"participants", "Participants"}, {"threshold", "u64"}}},
      {"AddDomainsVotes", {{"proposal_by_account", "{[DomainConfig]}"}}},
      {"KeyEvent",
       {{"epoch_id", "u64"},
        {"domain", "DomainConfig"},
        {"parameters", "ThresholdParameters"},
        {"instance", "?KeyEventInstance"},
        {"next_attempt_id", "u64"}}},
      {"KeyEventInstance",
       {{"attempt_id", "u64"},
        {"started_in", "u64"},
        {"expires_on", "u64"},
        {"completed", "[u64]"},
        {"public_key", "?PublicKeyExtended"}}},
      {"Participants", {{"next_id", "u64"}, {"participants", "[participant]"}}},
      {"ParticipantInfo", {{"url", "string"}, {"tls_public_key", "ed25519"}}},
      {"Keyset", {{"epoch_id", "u64"}, {"domains", "[KeyForDomain]"}}},
      {"KeyForDomain", {{"domain_id", "u64"}, {"key", "PublicKeyExtended"}, {"attempt", "u64"}}},
  };
  return s;
}

// Appends to `errors` every way `j` fails to deserialize as `type`.
void check(const json& j, const std::string& type, const std::string& path, std::vector<std::string>& errors) {
  auto fail = [&](const std::string& why) { errors.push_back(path + ": " + why); };
  if (type.starts_with("?")) {
    if (!j.is_null()) check(j, type.substr(1), path, errors);
    return;
  }
  if (type.starts_with("[")) {
    if (!j.is_array()) return fail("expected an array of " + type.substr(1, type.size() - 2));
    for (std::size_t i = 0; i < j.size(); ++i) check(j[i], type.substr(1, type.size() - 2), path + "[" + std::to_string(i) + "]", errors);
    return;
  }
  if (type.starts_with("{")) {
    if (!j.is_object()) return fail("expected a map");
    for (const auto& [k, v] : j.items()) check(v, type.substr(1, type.size() - 2), path + "." + k, errors);
    return;
  }
  if (type == "u64") {
    if (!model::json_u64(j)) fail("expected an unsigned integer");
    return;
  }
  if (type == "string") {
    if (!j.is_string()) fail("expected a string");
    return;
  }
  if (type == "ed25519") {
    if (!j.is_string() || !core::parse_ed25519_public_key(j.get<std::string>())) fail("expected an ed25519:<base58> key");
    return;
  }
  if (type == "protocol") {
    static const std::vector<std::string> v = {"CaitSith", "Frost", "ConfidentialKeyDerivation", "DamgardEtAl"};
    if (!j.is_string() || std::find(v.begin(), v.end(), j.get<std::string>()) == v.end()) fail("not a SignatureScheme");
    return;
  }
  if (type == "purpose") {
    static const std::vector<std::string> v = {"Sign", "ForeignTx", "CKD"};
    if (!j.is_string() || std::find(v.begin(), v.end(), j.get<std::string>()) == v.end()) fail("not a DomainPurpose");
    return;
  }
  if (type == "participant") {
    if (!j.is_array() || j.size() != 3 || !j[0].is_string() || !model::json_u64(j[1])) return fail("expected [account, id, info]");
    check(j[2], "ParticipantInfo", path + "[2]", errors);
    return;
  }
  if (type == "PublicKeyExtended") {
    if (!model::parse_public_key_extended(j)) fail("not a PublicKeyExtended");
    return;
  }
  auto it = structs().find(type);
  ASSERT_NE(it, structs().end()) << "unknown type " << type;
  if (!j.is_object()) return fail("expected " + type + " (an object)");
  for (const auto& f : it->second) {
    const std::string t = f.type;
    if (!j.contains(f.name)) {
      if (!t.starts_with("?")) fail(std::string("missing required field `") + f.name + "` of " + type);
      continue;
    }
    check(j[f.name], t, path + "." + f.name, errors);
  }
}

// ProtocolContractState: "NotInitialized" or exactly one tagged body.
std::vector<std::string> reference_errors(const json& state) {
  std::vector<std::string> errors;
  if (state == "NotInitialized") return errors;
  if (!state.is_object() || state.size() != 1) return {"state: not a ProtocolContractState"};
  const std::string tag = state.begin().key();
  static const std::map<std::string, std::string> bodies = {{"Running", "RunningContractState"},
                                                            {"Initializing", "InitializingContractState"},
                                                            {"Resharing", "ResharingContractState"}};
  auto it = bodies.find(tag);
  if (it == bodies.end()) return {"state: unknown variant " + tag};
  check(state.begin().value(), it->second, tag, errors);
  return errors;
}

std::string key_text(const core::Ed25519SecretKey& k) { return core::ed25519_public_key_to_string(k.public_key()); }

json params_json(int n, int threshold) {
  json list = json::array();
  for (int i = 0; i < n; ++i)
    list.push_back(json::array({"node" + std::to_string(i) + ".near", i,
                                {{"url", "https://node" + std::to_string(i) + ":3000"},
                                 {"tls_public_key", key_text(core::Ed25519SecretKey::generate())}}}));
  return json{{"participants", {{"next_id", n}, {"participants", list}}}, {"threshold", threshold}};
}

json ed25519_key() {
  auto k = core::Ed25519SecretKey::generate();
  json point = json::array();
  for (auto b : k.public_key().bytes) point.push_back(b);
  return json{{"Ed25519", {{"near_public_key_compressed", key_text(k)}, {"edwards_point", point}}}};
}

class ReferenceStateSchema : public ::testing::Test {
 protected:
  core::Status call(const std::string& account, const std::string& method, const json& args, std::uint64_t height = 7) {
    CallContext ctx{account, account, "mpc.near", core::NearPublicKey{core::Ed25519SecretKey::generate().public_key()}, 0, height};
    const std::string text = args.dump();
    auto r = contract_.call(ctx, method, core::as_bytes(text));
    if (!r) return std::unexpected(r.error());
    return {};
  }
  void all(const std::string& method, const json& args) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(call("node" + std::to_string(i) + ".near", method, args)) << method;
  }
  json state() {
    auto v = contract_.view("state", {});
    EXPECT_TRUE(v);
    return json::parse(v->begin(), v->end());
  }
  void expect_reference_shape(const std::string& when) {
    const json s = state();
    auto errors = reference_errors(s);
    EXPECT_TRUE(errors.empty()) << when << ":\n  " << [&] {
      std::string out;
      for (const auto& e : errors) out += e + "\n  ";
      return out;
    }() << s.dump();
  }
  MpcContract contract_;
};

TEST_F(ReferenceStateSchema, StateViewParsesWithTheReferenceTypesInEveryProtocolState) {
  expect_reference_shape("NotInitialized");
  ASSERT_TRUE(call("mpc.near", "init", {{"parameters", params_json(3, 2)}}));
  expect_reference_shape("Running, no domains");
  // Domains proposed without a reconstruction threshold get the current one.
  all("vote_add_domains", {{"domains", json::array({{{"id", 0}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                                                    {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}});
  expect_reference_shape("Initializing, no attempt yet");
  EXPECT_EQ(state()["Initializing"]["generating_key"]["instance"], nullptr);  // Option::None
  for (int d = 0; d < 2; ++d) {
    const json id = {{"epoch_id", 0}, {"domain_id", d}, {"attempt_id", 0}};
    ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
    expect_reference_shape("Initializing, domain " + std::to_string(d) + " started");
    const json instance = state()["Initializing"]["generating_key"]["instance"];
    EXPECT_EQ(instance["started_in"], 7);
    EXPECT_EQ(instance["expires_on"], 7 + 1 + 30);
    const json pk = ed25519_key();
    ASSERT_TRUE(call("node1.near", "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
    expect_reference_shape("Initializing, domain " + std::to_string(d) + " with a vote");
    for (const char* who : {"node0.near", "node2.near"}) ASSERT_TRUE(call(who, "vote_pk", {{"key_event_id", id}, {"public_key", pk}}));
    expect_reference_shape("Initializing, domain " + std::to_string(d) + " voted");
  }
  const json running = state()["Running"];
  for (const auto& d : running["domains"]["domains"]) EXPECT_EQ(d["reconstruction_threshold"], 2) << d.dump();
  expect_reference_shape("Running with two domains");

  json proposal = running["parameters"];
  proposal["threshold"] = 3;
  all("vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", proposal}});
  expect_reference_shape("Resharing, no attempt yet");
  const json reshare = {{"epoch_id", 1}, {"domain_id", 0}, {"attempt_id", 0}};
  ASSERT_TRUE(call("node0.near", "start_reshare_instance", {{"key_event_id", reshare}}));
  ASSERT_TRUE(call("node2.near", "vote_reshared", {{"key_event_id", reshare}}));
  expect_reference_shape("Resharing");
  for (const char* who : {"node0.near", "node1.near"})  // the old threshold
    ASSERT_TRUE(call(who, "vote_cancel_resharing", json::object()));
  expect_reference_shape("Running after a cancelled resharing");
}

TEST_F(ReferenceStateSchema, VoteAddDomainsRefusesAReconstructionThresholdOutsideTheParticipantCount) {
  ASSERT_TRUE(call("mpc.near", "init", {{"parameters", params_json(3, 2)}}));
  auto r = call("node0.near", "vote_add_domains",
                {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}, {"reconstruction_threshold", 4}}})}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Domain 0: reconstruction threshold 4 must be between 2 and the number of participants (3).");
}

TEST(ReferenceStateSchemaGenesis, CheckerAcceptsTheRealMainnetStateAndOurViewOfIt) {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  ASSERT_TRUE(in);
  const json fixture = json::parse(in);
  EXPECT_TRUE(reference_errors(fixture).empty());
  auto c = MpcContract::deserialize(json{{"protocol_state", fixture}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  auto v = c->view("state", {});
  ASSERT_TRUE(v);
  EXPECT_TRUE(reference_errors(json::parse(v->begin(), v->end())).empty());
}

TEST(ReferenceStateSchemaGenesis, CheckerNamesAMissingRequiredField) {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  json fixture = json::parse(in);
  fixture["Running"]["domains"]["domains"][0].erase("reconstruction_threshold");
  auto errors = reference_errors(fixture);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "Running.domains.domains[0]: missing required field `reconstruction_threshold` of DomainConfig");
}

TEST(ReferenceStateSchemaGenesis, DeserializeFillsInTheReferenceFieldsAnOlderGenesisLacks) {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  json fixture = json::parse(in);
  for (auto& d : fixture["Running"]["domains"]["domains"]) d.erase("reconstruction_threshold");
  auto c = MpcContract::deserialize(json{{"protocol_state", fixture}}.dump());
  ASSERT_TRUE(c) << c.error().message;
  auto v = c->view("state", {});
  const json view = json::parse(v->begin(), v->end());
  EXPECT_TRUE(reference_errors(view).empty());
  EXPECT_EQ(view["Running"]["domains"]["domains"][0]["reconstruction_threshold"], fixture["Running"]["parameters"]["threshold"]);
}

}  // namespace
}  // namespace mpc::contract
