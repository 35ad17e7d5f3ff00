// Test-only: the contract test fixture and value builders shared by
// lifecycle_test.cc, migrations_test.cc and state_test.cc. A contract
// initialized with node0..node2.near (threshold 2) and helpers to call it.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "contract/contract.h"
#include "core/crypto.h"
#include "core/near_key.h"
#include "core/u128.h"
#include "support/fixtures.h"

namespace mpc::contract::fixture {

using json = nlohmann::json;

inline std::string key_text(const core::Ed25519SecretKey& k) { return core::ed25519_public_key_to_string(k.public_key()); }
inline std::string new_key() { return key_text(core::Ed25519SecretKey::generate()); }

inline json participants_json(int n, int first_id = 0) {
  json list = json::array();
  for (int i = 0; i < n; ++i) {
    list.push_back(json::array({"node" + std::to_string(first_id + i) + ".near", first_id + i,
                                {{"url", "https://node" + std::to_string(first_id + i)}, {"tls_public_key", new_key()}}}));
  }
  return list;
}

inline json params_json(int n, int threshold) {
  return json{{"participants", {{"next_id", n}, {"participants", participants_json(n)}}}, {"threshold", threshold}};
}

inline json ed25519_pk_extended() {
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

  // Calls run at block_height_ (1 unless a test moves it).
  CallContext ctx(const std::string& account, core::u128 deposit = 0) const {
    return CallContext{account, account, "mpc.near", core::NearPublicKey{access_key_.public_key()}, deposit, block_height_};
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

  static json event_id(std::uint64_t epoch, std::uint64_t domain, std::uint64_t attempt) {
    return json{{"epoch_id", epoch}, {"domain_id", domain}, {"attempt_id", attempt}};
  }

  // Adds domains 0 (Secp256k1-like config) and 1 by votes and generates
  // keys: per domain, the leader node0.near starts attempt 0 and every
  // participant votes the key.
  void add_two_domains() {
    json domains = json::array({{{"id", 0}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                                {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
    vote_all("vote_add_domains", {{"domains", domains}});
    ASSERT_TRUE(state().contains("Initializing"));
    for (int d = 0; d < 2; ++d) {
      json pk = ed25519_pk_extended();
      json id = event_id(0, d, 0);
      ASSERT_TRUE(call("node0.near", "start_keygen_instance", {{"key_event_id", id}}));
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

  // What a destination node does before conclude_node_migration: submits
  // a Mock attestation (the contract is in development mode) for its TLS
  // key, signed by its access key.
  core::Result<CallOutcome> submit_mock_attestation(const std::string& account, const core::Ed25519SecretKey& access,
                                                    const json& tls_public_key) {
    return call_with_key(account, core::NearPublicKey{access.public_key()}, "submit_participant_info",
                         {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", tls_public_key}});
  }

  json destination(const core::Ed25519SecretKey& access) {
    return json{{"signer_account_pk", key_text(access)},
                {"destination_node_info", {{"url", "https://new-node"}, {"tls_public_key", new_key()}}}};
  }

  core::Ed25519SecretKey access_key_ = core::Ed25519SecretKey::generate();
  std::uint64_t block_height_ = 1;
  MpcContract contract_;
};

inline json mainnet_fixture() {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  EXPECT_TRUE(in);
  return json::parse(in);
}

}  // namespace mpc::contract::fixture
