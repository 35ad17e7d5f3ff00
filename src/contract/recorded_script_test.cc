// A recorded script: every change method, in every protocol state, with
// valid and refused arguments, replayed against the contract and compared
// with what an earlier version of the contract did (testdata/recorded_script.json):
// each call's outcome (logs, refund, error code and panic text), a digest of
// serialize() and of the views after it, and a few whole serialized states
// ("persisted": what the sandbox keeps in SQLite) that must still load and
// serialize to the same bytes. Keys are derived from fixed seeds, so the
// run is deterministic.
//
// An intended change of behaviour or of the stored form shows up here first;
// after checking it, rerun with MPC_UPDATE_CONTRACT_RECORDING=1 to record
// the new behaviour, and commit the file with the change.
#include "contract/contract.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/crypto.h"
#include "core/u128.h"
#include "support/fixtures.h"

namespace mpc::contract {
namespace {

using json = nlohmann::json;

const std::string kRecording = std::string(MPC_CONTRACT_TESTDATA_DIR) + "/recorded_script.json";

// MPC_CONTRACT_RECORDING_FULL=<file>: also write every message and every
// state in full there (for reading a difference; not compared).
const char* full_recording() {
  const char* path = std::getenv("MPC_CONTRACT_RECORDING_FULL");
  return path != nullptr && *path != '\0' ? path : nullptr;
}

std::string digest(std::string_view text) {
  return full_recording() != nullptr ? std::string(text) : core::hex_encode(core::sha256(core::as_bytes(text)));
}

core::Ed25519PublicKey pk(int n) {
  core::Ed25519PublicKey k;
  k.bytes = core::sha256(core::as_bytes("recorded-key-" + std::to_string(n)));
  return k;
}
std::string pk_text(int n) { return core::ed25519_public_key_to_string(pk(n)); }

json ed25519_group_key(int n) {
  json point = json::array();
  for (auto b : pk(n).bytes) point.push_back(b);
  return json{{"Ed25519", {{"near_public_key_compressed", pk_text(n)}, {"edwards_point", point}}}};
}
json secp256k1_group_key(int n) {
  core::Bytes xy;
  for (const char* half : {"x", "y"}) {
    auto h = core::sha256(core::as_bytes(std::string("recorded-secp-") + half + std::to_string(n)));
    xy.insert(xy.end(), h.begin(), h.end());
  }
  return json{{"Secp256k1", {{"near_public_key", "secp256k1:" + core::base58_encode(xy)}}}};
}
json bls_group_key(int n) {
  auto h = core::sha256(core::as_bytes("recorded-bls-" + std::to_string(n)));
  return json{{"Bls12381", {{"public_key", "bls12381g2:" + core::base58_encode(h)}}}};
}

json participant(int i, int key) {
  return json::array({"node" + std::to_string(i) + ".near", i,
                      {{"url", "https://node" + std::to_string(i) + ".example:3000"}, {"tls_public_key", pk_text(key)}}});
}
json parameters(std::vector<int> ids, int next_id, int threshold) {
  json list = json::array();
  for (int i : ids) list.push_back(participant(i, 100 + i));
  return json{{"participants", {{"next_id", next_id}, {"participants", list}}}, {"threshold", threshold}};
}
json domain(int id, const char* protocol) { return json{{"id", id}, {"protocol", protocol}, {"purpose", "Sign"}}; }
json event_id(int epoch, int domain_id, int attempt) {
  return json{{"epoch_id", epoch}, {"domain_id", domain_id}, {"attempt_id", attempt}};
}
json destination(int access_key, int tls_key) {
  return json{{"signer_account_pk", pk_text(access_key)},
              {"destination_node_info", {{"url", "https://new" + std::to_string(tls_key) + ".example:3000"},
                                         {"tls_public_key", pk_text(tls_key)}}}};
}

json mainnet_fixture() {
  std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
  EXPECT_TRUE(in);
  return json::parse(in);
}

// Runs calls against one contract and records (or checks) each outcome.
class Script {
 public:
  explicit Script(std::string name, json& steps) : name_(std::move(name)), steps_(steps) {}

  // Calls `method` as `who` (signer == predecessor unless `predecessor`
  // is given), signed with the access key pk(key).
  void call(const std::string& who, const std::string& method, const json& args, core::u128 deposit = 0, int key = 0,
            const std::string& predecessor = "") {
    raw(who, method, args.dump(), deposit, key, predecessor);
  }
  void raw(const std::string& who, const std::string& method, const std::string& args, core::u128 deposit = 0, int key = 0,
           const std::string& predecessor = "") {
    CallContext ctx{who, predecessor.empty() ? who : predecessor, "mpc.near", core::NearPublicKey{pk(key)}, deposit, ++height_};
    const std::string before = contract_.serialize();
    auto r = contract_.call(ctx, method, core::as_bytes(args));
    json result;
    if (r) {
      result = {{"ok", true}, {"logs", r->logs}, {"refund", core::u128_to_string(r->refund)},
                {"return", core::to_string(r->return_value)}};
    } else {
      result = {{"code", core::error_code_name(r.error().code)}};
      // Argument errors name what was wrong in the parser's words, which
      // may change; panics are the reference's texts and must not.
      if (r.error().code != core::ErrorCode::kInvalidArgument || full_recording() != nullptr) {
        result["message"] = r.error().message;
      }
      EXPECT_EQ(contract_.serialize(), before) << name_ << ": a failed " << method << " changed the state";
    }
    record(json{{"who", who}, {"method", method}, {"result", result}});
  }
  void view(const std::string& method, const std::string& args = "") {
    auto r = contract_.view(method, core::as_bytes(args));
    json result = r ? json{{"ok", core::to_string(*r)}}
                    : json{{"code", core::error_code_name(r.error().code)}, {"message", r.error().message}};
    record(json{{"view", method}, {"result", result}});
  }
  MpcContract& contract() { return contract_; }
  // The next call runs `n` blocks later than it would.
  void skip_blocks(std::uint64_t n) { height_ += n; }

 private:
  void record(json step) {
    step["state"] = digest(contract_.serialize());
    auto s = contract_.view("state", {});
    auto m = contract_.view("migration_info", {});
    step["views"] = digest(core::to_string(s.value()) + "\n" + core::to_string(m.value()));
    step["n"] = name_ + "#" + std::to_string(steps_.size());
    steps_.push_back(std::move(step));
  }

  std::string name_;
  json& steps_;
  MpcContract contract_;
  std::uint64_t height_ = 100;
};

// The whole recording: steps of the scripts, persisted states, genesis loads.
json record_everything() {
  json steps = json::array();
  json persisted = json::object();
  auto keep = [&](const std::string& name, const MpcContract& c) { persisted[name] = c.serialize(); };

  // ---- the main story: 3 participants, threshold 2 ----
  Script s("main", steps);
  s.view("state");
  s.view("version");
  s.view("config");
  s.view("frobnicate");
  s.view("migration_info", "{nope");
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(1)}}}}, 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(1, 2)}}, 1);
  s.call("node0.near", "vote_add_domains", {{"domains", json::array({domain(0, "Frost")})}});
  s.call("someone.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}}, 1);
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 1)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 4)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2, 3, 4}, 5, 2)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0}, 1, 1)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 2, 2)}});
  {
    json p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][2][0] = "node0.near";
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][2][1] = 0;
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][2][2]["tls_public_key"] = p["participants"]["participants"][0][2]["tls_public_key"];
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][1][0] = "Bad Account";
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][1][2]["url"] = "";
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p["participants"]["participants"][1][2]["tls_public_key"] = "ed25519:abc";
    s.call("mpc.near", "init", {{"parameters", p}});
    p = parameters({0, 1, 2}, 3, 2);
    p.erase("threshold");
    s.call("mpc.near", "init", {{"parameters", p}});
  }
  s.call("mpc.near", "init", json::object());
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}});
  s.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}});
  s.raw("node0.near", "init", "{nope");
  s.raw("node0.near", "init", "[1]");
  s.call("node0.near", "frobnicate", json::object());

  // Backup services and migrations in Running, no domains yet.
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(10)}}}}, 5);
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(11)}}}}, 0);
  s.call("stranger.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(11)}}}}, 0);
  s.call("node0.near", "register_backup_service", json::object(), 1);
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", "ed25519:abc"}}}}, 1);
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(11)}}}}, 1, 0, "proxy.near");
  s.call("node1.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(12)}}}}, 1);
  s.call("node1.near", "start_node_migration", {{"destination_node_info", destination(20, 21)}}, 3);
  s.call("node1.near", "start_node_migration", {{"destination_node_info", destination(20, 21)}}, 0);
  s.call("stranger.near", "start_node_migration", {{"destination_node_info", destination(20, 22)}}, 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(23, 21)}}, 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(23, 101)}}, 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(23, 100)}}, 1);
  {
    json bad = destination(23, 24);
    bad["signer_account_pk"] = "secp256k1:abc";
    s.call("node0.near", "start_node_migration", {{"destination_node_info", bad}}, 1);
    bad = destination(23, 24);
    bad["destination_node_info"]["url"] = "";
    s.call("node0.near", "start_node_migration", {{"destination_node_info", bad}}, 1);
    bad = destination(23, 24);
    bad.erase("destination_node_info");
    s.call("node0.near", "start_node_migration", {{"destination_node_info", bad}}, 1);
  }
  s.call("node0.near", "start_node_migration", json::object(), 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(23, 24)}}, 1);
  s.call("node2.near", "update_participant_url", {{"url", "https://moved.example:443"}}, 2);
  s.call("node2.near", "update_participant_url", {{"url", ""}}, 2);
  s.call("node2.near", "update_participant_url", {{"url", 5}}, 2);
  s.call("node2.near", "update_participant_url", {{"url", "https://x"}}, 0);
  s.call("stranger.near", "update_participant_url", {{"url", "https://x"}}, 1);
  const json empty_keyset = {{"epoch_id", 0}, {"domains", json::array()}};
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 1, 20);
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 99);
  s.call("node1.near", "conclude_node_migration", {{"keyset", {{"epoch_id", 1}, {"domains", json::array()}}}}, 0, 20);
  s.call("node1.near", "conclude_node_migration", {{"keyset", "x"}}, 0, 20);
  s.call("stranger.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 20);
  // The destination must be attested first (submit_participant_info by
  // its access key for its TLS key); Mock attestations: development mode.
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 20);
  s.call("node1.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Invalid"}}}, {"tls_public_key", pk_text(21)}}, 0, 20);
  s.call("node1.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", "x"}}, 0, 20);
  s.call("node1.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", pk_text(21)}}, 0, 19);
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 20);
  s.call("node1.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", pk_text(21)}}, 0, 20);
  s.call("node2.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", pk_text(21)}}, 0, 20);
  s.view("get_attestation", json{{"tls_public_key", pk_text(21)}}.dump());
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 20);
  s.call("node1.near", "conclude_node_migration", {{"keyset", empty_keyset}}, 0, 20);
  s.call("node2.near", "cancel_node_migration", json::object(), 1);
  s.call("node0.near", "cancel_node_migration", json::object(), 0);
  s.call("node0.near", "cancel_node_migration", json::object(), 7);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(25, 26)}}, 1);
  s.call("node2.near", "start_node_migration", {{"destination_node_info", destination(27, 28)}}, 1);
  s.call("node1.near", "start_node_migration", {{"destination_node_info", destination(29, 28)}}, 1);
  s.call("node1.near", "start_node_migration", {{"destination_node_info", destination(29, 30)}}, 1);
  s.view("migration_info");

  // Adding domains.
  const json two = json::array({domain(0, "CaitSith"), json{{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"},
                                                             {"reconstruction_threshold", 3}}});
  s.call("node0.near", "vote_add_domains", {{"domains", json::array()}});
  s.call("node0.near", "vote_add_domains", {{"domains", json::array({domain(1, "Frost")})}});
  s.call("node0.near", "vote_add_domains",
         {{"domains", json::array({json{{"id", 0}, {"protocol", "Frost"}, {"reconstruction_threshold", 4}}})}});
  s.call("node0.near", "vote_add_domains",
         {{"domains", json::array({json{{"id", 0}, {"protocol", "Frost"}, {"reconstruction_threshold", 1}}})}});
  s.call("node0.near", "vote_add_domains",
         {{"domains", json::array({json{{"id", 0}, {"protocol", "Frost"}, {"reconstruction_threshold", "x"}}})}});
  s.call("node0.near", "vote_add_domains", {{"domains", json::array({json{{"id", 0}}})}});
  s.call("node0.near", "vote_add_domains", {{"domains", "Frost"}});
  s.call("node0.near", "vote_add_domains", {{"domains", two}}, 1);
  s.call("stranger.near", "vote_add_domains", {{"domains", two}});
  s.call("node0.near", "vote_add_domains", {{"domains", two}});
  s.call("node2.near", "vote_add_domains", {{"domains", json::array({domain(0, "Frost")})}});
  s.call("node1.near", "vote_add_domains", {{"domains", two}});
  keep("running_with_votes_backups_and_migrations", s.contract());
  s.call("node1.near", "vote_add_domains", {{"domains", two}});
  s.call("node2.near", "vote_add_domains", {{"domains", two}});
  s.view("migration_info");

  // Key generation for domains 0 and 1: the leader (node0, the lowest id)
  // starts each attempt, every participant votes.
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node1.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("stranger.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 1, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}}, 1);
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}}, 0, 0, "proxy.near");
  s.call("node0.near", "start_keygen_instance", json::object());
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", {{"epoch_id", 0}}}});
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}}, 1);
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}}, 0, 0,
         "proxy.near");
  s.call("stranger.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 1, 0)}, {"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", {{"Ed25519", json::object()}}}});
  s.call("node0.near", "vote_pk",
         {{"key_event_id", event_id(0, 0, 0)}, {"public_key", {{"Bls12381", {{"public_key", "nope"}}}}}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node0.near", "vote_pk", {{"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", {{"epoch_id", 0}}}, {"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(1)}});
  keep("initializing_with_a_vote", s.contract());
  s.call("node0.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node1.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(2)}});
  s.call("node2.near", "vote_pk", {{"key_event_id", event_id(0, 0, 0)}, {"public_key", secp256k1_group_key(2)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 0, 1)}});
  for (const char* who : {"node2.near", "node1.near", "node0.near"}) {
    s.call(who, "vote_pk", {{"key_event_id", event_id(0, 0, 1)}, {"public_key", secp256k1_group_key(3)}});
  }
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(25, 26)}}, 1);
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 1}});
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", "x"}});
  // Domain 1: an attempt that expires, one aborted, one that succeeds.
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 1, 0)}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(0, 1, 0)}, {"public_key", ed25519_group_key(4)}});
  keep("initializing_with_an_attempt", s.contract());
  s.skip_blocks(28);  // the next call is on the attempt's last block, the one after it past it
  s.call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("node1.near", "vote_pk", {{"key_event_id", event_id(0, 1, 0)}, {"public_key", ed25519_group_key(4)}});
  s.call("node2.near", "vote_pk", {{"key_event_id", event_id(0, 1, 0)}, {"public_key", ed25519_group_key(4)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("node1.near", "vote_pk", {{"key_event_id", event_id(0, 1, 1)}, {"public_key", ed25519_group_key(4)}});
  s.call("node1.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("stranger.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 0)}});
  s.call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}}, 1);
  s.call("node2.near", "vote_abort_key_event_instance", json::object());
  s.call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("node2.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 1, 1)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 1, 2)}});
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    s.call(who, "vote_pk", {{"key_event_id", event_id(0, 1, 2)}, {"public_key", ed25519_group_key(4)}});
  }
  keep("running_with_two_domains", s.contract());
  s.call("node0.near", "vote_abort_key_event_instance", {{"key_event_id", event_id(0, 2, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 2, 0)}});

  // A third domain, cancelled; then a fourth with a BLS key.
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}});
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    s.call(who, "vote_add_domains", {{"domains", json::array({domain(2, "CaitSith")})}});
  }
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 2}});
  s.call("stranger.near", "vote_cancel_keygen", {{"next_domain_id", 3}});
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}}, 1);
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}});
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 3}});
  keep("initializing_with_a_cancel_vote", s.contract());
  s.call("node2.near", "vote_cancel_keygen", {{"next_domain_id", 3}});
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    s.call(who, "vote_add_domains", {{"domains", json::array({json{{"id", 3}, {"protocol", "DamgardEtAl"}}})}});
  }
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(0, 3, 0)}});
  for (const char* who : {"node0.near", "node1.near", "node2.near"}) {
    s.call(who, "vote_pk", {{"key_event_id", event_id(0, 3, 0)}, {"public_key", bls_group_key(5)}});
  }

  // Resharing: proposals the reference refuses, then node3 joins.
  s.call("node2.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(13)}}}}, 1);
  s.call("node2.near", "start_node_migration", {{"destination_node_info", destination(31, 32)}}, 1);
  const json current = parameters({0, 1, 2}, 3, 2);
  auto vote_params = [&](const std::string& who, const json& proposal, int epoch = 1, core::u128 deposit = 0) {
    s.call(who, "vote_new_parameters", {{"prospective_epoch_id", epoch}, {"proposal", proposal}}, deposit);
  };
  {
    // node2's url changed above: the current parameters say so.
    json cur = json::parse(core::to_string(s.contract().view("state", {}).value()))["Running"]["parameters"];
    json p = cur;
    p["participants"]["participants"][1][2]["url"] = "https://elsewhere";
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"][1][1] = 7;
    p["participants"]["next_id"] = 8;
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"][2] = participant(9, 109);
    p["participants"]["participants"][2][1] = 2;
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"].push_back(participant(4, 104));
    p["participants"]["next_id"] = 5;
    p["threshold"] = 3;
    vote_params("node0.near", p);
    p["participants"]["participants"][3][1] = 3;
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"] = json::array({cur["participants"]["participants"][0], participant(3, 103)});
    p["participants"]["next_id"] = 4;
    vote_params("node0.near", p);
    p = cur;
    p["threshold"] = 1;
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"][2][2]["tls_public_key"] = pk_text(101);
    vote_params("node0.near", p);
    vote_params("node0.near", cur, 2);
    vote_params("node0.near", cur, 1, 1);
    vote_params("node0.near", "x");
    s.call("node0.near", "vote_new_parameters", {{"proposal", cur}});
    p = cur;
    p.erase("threshold");
    vote_params("node0.near", p);
    p = cur;
    p["participants"]["participants"].erase(2);
    vote_params("node2.near", p);
    vote_params("node0.near", p);  // a vote later replaced
    json joined = cur;
    joined["participants"]["participants"].push_back(participant(3, 103));
    joined["participants"]["next_id"] = 4;
    joined["threshold"] = 3;
    vote_params("node3.near", joined);
    vote_params("node0.near", joined);
    vote_params("node3.near", joined);
    vote_params("node1.near", joined);
    keep("running_with_parameter_votes", s.contract());
    s.call("node3.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(14)}}}}, 1);
    vote_params("node2.near", joined);
    vote_params("node3.near", joined);
  }
  s.view("migration_info");
  s.call("node3.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(14)}}}}, 1);
  s.call("node0.near", "start_node_migration", {{"destination_node_info", destination(33, 34)}}, 1);
  s.call("node0.near", "update_participant_url", {{"url", "https://x"}}, 1);
  s.call("node0.near", "conclude_node_migration", {{"keyset", empty_keyset}});
  s.call("node0.near", "vote_add_domains", {{"domains", json::array({domain(4, "Frost")})}});
  s.call("node0.near", "vote_pk", {{"key_event_id", event_id(1, 0, 0)}, {"public_key", ed25519_group_key(4)}});
  s.call("node0.near", "vote_cancel_keygen", {{"next_domain_id", 4}});
  s.call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node3.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node0.near", "start_keygen_instance", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(0, 0, 0)}});
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}}, 1);
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 0, 1)}});
  s.call("stranger.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}});
  s.call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 1, 0)}});
  s.call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}}, 0, 0, "proxy.near");
  s.call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}}, 1);
  s.call("node0.near", "vote_reshared", json::object());
  for (const char* who : {"node3.near", "node1.near", "node2.near", "node0.near"}) {
    s.call(who, "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}});
  }
  s.call("node3.near", "vote_reshared", {{"key_event_id", event_id(1, 1, 0)}});
  s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(1, 1, 0)}});
  s.call("node3.near", "vote_reshared", {{"key_event_id", event_id(1, 1, 0)}});
  s.call("node3.near", "vote_reshared", {{"key_event_id", event_id(1, 1, 0)}});
  s.call("node3.near", "vote_cancel_resharing", json::object());
  s.call("stranger.near", "vote_cancel_resharing", json::object());
  s.call("node0.near", "vote_cancel_resharing", json::object(), 1);
  s.call("node0.near", "vote_cancel_resharing", json::object());
  s.call("node0.near", "vote_cancel_resharing", json::object());
  keep("resharing_with_votes", s.contract());
  s.call("node1.near", "vote_cancel_resharing", json::object());
  s.call("node1.near", "vote_cancel_resharing", json::object());
  s.view("migration_info");
  keep("running_after_a_cancelled_resharing", s.contract());

  // The next resharing must skip epoch 1; node2 leaves.
  {
    json cur = json::parse(core::to_string(s.contract().view("state", {}).value()))["Running"]["parameters"];
    json without2 = cur;
    without2["participants"]["participants"].erase(2);
    vote_params("node0.near", without2, 1);
    vote_params("node0.near", without2, 2);
    vote_params("node1.near", without2, 2);
    s.call("node2.near", "start_reshare_instance", {{"key_event_id", event_id(2, 0, 0)}});
    s.call("node1.near", "start_reshare_instance", {{"key_event_id", event_id(2, 0, 0)}});
    s.call("node2.near", "vote_reshared", {{"key_event_id", event_id(2, 0, 0)}});
    for (int d : {0, 1, 3}) {
      s.call("node0.near", "start_reshare_instance", {{"key_event_id", event_id(2, d, 0)}});
      s.call("node0.near", "vote_reshared", {{"key_event_id", event_id(2, d, 0)}});
      s.call("node1.near", "vote_reshared", {{"key_event_id", event_id(2, d, 0)}});
    }
  }
  s.view("migration_info");
  s.call("node0.near", "register_backup_service", {{"backup_service_info", {{"public_key", pk_text(15)}}}}, 1);
  s.call("node1.near", "start_node_migration", {{"destination_node_info", destination(35, 36)}}, 1);
  s.call("node1.near", "submit_participant_info", {{"proposed_participant_attestation", {{"Mock", "Valid"}}}, {"tls_public_key", pk_text(36)}}, 0, 35);
  s.call("node1.near", "conclude_node_migration",
         {{"keyset", json::parse(core::to_string(s.contract().view("state", {}).value()))["Running"]["keyset"]}}, 0, 35);
  keep("final", s.contract());
  s.view("state");

  // ---- no keys: new parameters take effect at once ----
  Script t("no_keys", steps);
  t.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}, {"init_config", {{"key_event_timeout_blocks", "x"}}}});
  t.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}, {"init_config", {{"fail_on_timeout_tera_gas", 2}}}});
  t.call("mpc.near", "init", {{"parameters", parameters({0, 1, 2}, 3, 2)}, {"init_config", {{"key_event_timeout_blocks", 5}}}});
  t.view("config");
  json joined = parameters({0, 1, 2, 3}, 4, 3);
  for (const char* who : {"node0.near", "node1.near", "node2.near", "node3.near"}) {
    t.call(who, "vote_new_parameters", {{"prospective_epoch_id", 1}, {"proposal", joined}});
  }
  t.call("node0.near", "vote_reshared", {{"key_event_id", event_id(1, 0, 0)}});
  keep("running_at_epoch_one_without_keys", t.contract());

  // ---- genesis forms ----
  json genesis = json::array();
  auto load = [&](const std::string& name, const json& state) {
    auto c = MpcContract::deserialize(state.dump());
    json g = {{"name", name}};
    if (c) {
      g["state"] = digest(c->serialize());
      g["views"] = digest(core::to_string(c->view("state", {}).value()) + "\n" +
                          core::to_string(c->view("migration_info", {}).value()));
    } else {
      g["code"] = core::error_code_name(c.error().code);
      if (full_recording() != nullptr) g["message"] = c.error().message;
    }
    genesis.push_back(std::move(g));
  };
  const json mainnet = mainnet_fixture();
  load("mainnet", {{"protocol_state", mainnet}});
  load("mainnet_with_maps", {{"protocol_state", mainnet},
                             {"backup_services", {{"a.near", {{"public_key", pk_text(40)}}}}},
                             {"migrations", {{"a.near", destination(41, 42)}}},
                             {"version", 1}});
  {
    json old = mainnet;
    for (auto& d : old["Running"]["domains"]["domains"]) d.erase("reconstruction_threshold");
    old["Running"].erase("parameters_votes");
    old["Running"].erase("add_domains_votes");
    old["Running"]["legacy_field"] = {{"kept", true}};
    load("mainnet_older", {{"protocol_state", old}});
  }
  load("not_initialized", {{"protocol_state", "NotInitialized"}});
  load("mainnet_with_config", {{"protocol_state", mainnet}, {"config", {{"key_event_timeout_blocks", 100}}}});
  load("mainnet_with_null_config", {{"protocol_state", mainnet}, {"config", nullptr}});
  load("config_unknown_setting", {{"protocol_state", mainnet}, {"config", {{"verifier_tera_gas", 200}}}});
  load("config_negative_timeout", {{"protocol_state", mainnet}, {"config", {{"key_event_timeout_blocks", -1}}}});
  load("frozen", {{"protocol_state", "Frozen"}});
  load("no_protocol_state", json::object());
  load("two_variants", {{"protocol_state", {{"Running", mainnet["Running"]}, {"Resharing", json::object()}}}});
  load("backup_services_array", {{"protocol_state", mainnet}, {"backup_services", json::array()}});
  load("migrations_bad", {{"protocol_state", mainnet}, {"migrations", {{"a.near", {{"signer_account_pk", "ed25519:x"}}}}}});
  {
    json bad = mainnet;
    bad["Running"]["keyset"]["epoch_id"] = -1;
    load("negative_epoch", {{"protocol_state", bad}});
    bad = mainnet;
    bad["Running"]["parameters"]["threshold"] = 1;
    load("threshold_too_low", {{"protocol_state", bad}});
    bad = mainnet;
    bad["Running"]["keyset"]["domains"][0]["key"] = {{"Bls12381", {{"public_key", "nope"}}}};
    load("keyset_bls_without_prefix", {{"protocol_state", bad}});
  }
  // Initializing and Resharing from a genesis, in an older form (no
  // started_in / expires_on, no reconstruction thresholds).
  const json running = mainnet["Running"];
  json event = {{"epoch_id", running["keyset"]["epoch_id"]},
                {"domain", running["domains"]["domains"][0]},
                {"parameters", running["parameters"]},
                {"instance", {{"attempt_id", 3}, {"completed", json::array()}, {"public_key", nullptr}}},
                {"next_attempt_id", 4}};
  event["domain"].erase("reconstruction_threshold");
  json resharing = {{"Resharing",
                     {{"previous_running_state", running},
                      {"reshared_keys", json::array()},
                      {"resharing_key", event},
                      {"cancellation_requests", json::array()}}}};
  resharing["Resharing"]["resharing_key"]["epoch_id"] = running["keyset"]["epoch_id"].get<std::uint64_t>() + 1;
  load("resharing_older", {{"protocol_state", resharing}});
  {
    json r = resharing;
    r["Resharing"]["resharing_key"]["instance"]["started_in"] = 12;
    load("resharing_with_started_in", {{"protocol_state", r}});
    load("resharing_with_started_in_and_config", {{"protocol_state", r}, {"config", {{"key_event_timeout_blocks", 7}}}});
    r["Resharing"]["resharing_key"]["instance"] = nullptr;
    load("resharing_without_instance", {{"protocol_state", r}});
    r["Resharing"]["resharing_key"].erase("instance");
    load("resharing_with_instance_absent", {{"protocol_state", r}});
    r = resharing;
    r["Resharing"]["resharing_key"] = json::object();
    load("resharing_empty_key_event", {{"protocol_state", r}});
    r = resharing;
    r["Resharing"].erase("cancellation_requests");
    load("resharing_without_cancellation_requests", {{"protocol_state", r}});
  }
  json domains = running["domains"];
  for (auto& d : domains["domains"]) d.erase("reconstruction_threshold");
  json initializing = {{"Initializing",
                        {{"domains", domains},
                         {"epoch_id", running["keyset"]["epoch_id"]},
                         {"generated_keys", json::array({running["keyset"]["domains"][0]})},
                         {"generating_key", event},
                         {"cancel_votes", json::array()}}}};
  initializing["Initializing"]["generating_key"]["domain"] = domains["domains"][1];
  load("initializing_older", {{"protocol_state", initializing}});
  {
    json i = initializing;
    i["Initializing"].erase("cancel_votes");
    load("initializing_without_cancel_votes", {{"protocol_state", i}});
    i = initializing;
    i["Initializing"].erase("generating_key");
    load("initializing_without_generating_key", {{"protocol_state", i}});
  }
  return json{{"steps", steps}, {"persisted", persisted}, {"genesis", genesis}};
}

TEST(RecordedScript, ReplayEveryOutcomeAndStoredStateMatchesTheRecording) {
  const json now = record_everything();
  if (const char* full = full_recording()) {
    std::ofstream(full) << now.dump(1) << "\n";
    GTEST_SKIP() << "wrote the full recording to " << full;
  }
  if (const char* update = std::getenv("MPC_UPDATE_CONTRACT_RECORDING"); update != nullptr && std::string(update) == "1") {
    std::ofstream out(kRecording);
    out << now.dump(1) << "\n";
    ASSERT_TRUE(out.good());
    GTEST_SKIP() << "recorded " << kRecording;
  }
  std::ifstream in(kRecording);
  ASSERT_TRUE(in) << kRecording;
  const json recorded = json::parse(in);
  ASSERT_EQ(now["steps"].size(), recorded["steps"].size());
  for (std::size_t i = 0; i < now["steps"].size(); ++i) {
    EXPECT_EQ(now["steps"][i], recorded["steps"][i]) << "step " << i;
  }
  EXPECT_EQ(now["genesis"], recorded["genesis"]);
  EXPECT_EQ(now["persisted"], recorded["persisted"]);
}

TEST(RecordedScript, PersistedStatesLoadAndSerializeToTheSameBytes) {
  std::ifstream in(kRecording);
  ASSERT_TRUE(in) << kRecording;
  const json recorded = json::parse(in);
  ASSERT_FALSE(recorded["persisted"].empty());
  for (const auto& [name, text] : recorded["persisted"].items()) {
    auto c = MpcContract::deserialize(text.get<std::string>());
    ASSERT_TRUE(c) << name << ": " << c.error().message;
    EXPECT_EQ(c->serialize(), text.get<std::string>()) << name;
    const json stored = json::parse(text.get<std::string>());
    EXPECT_EQ(json::parse(core::to_string(c->view("state", {}).value())), stored["protocol_state"]) << name;
  }
}

}  // namespace
}  // namespace mpc::contract
