// Writes the seed corpora, fuzz/corpus/<target>/: real inputs built from
// the fixtures of fuzz_support (the in-memory chain's signed transactions,
// RPC bodies, contract calls, key shares, HTTP requests). Deterministic
// except for the AES-GCM nonces of the blobs. The committed corpus came
// from `fuzz_make_seeds <repo>/fuzz/corpus`; re-run it after changing a
// fixture.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/bytes.h"
#include "core/near_key.h"
#include "fuzz_support.h"
#include "sandbox/ledger.h"
#include "support/fixtures.h"

using namespace mpc;
using fuzz::json;
namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}
void write(const std::string& target, const std::string& name, const core::Bytes& bytes) {
  write(target, name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The near-api-js 5.1.1 vectors (tests/fixtures/near-api-js/transactions.json,
// which near/transaction_test.cc checks byte for byte).
const json& near_api_js() {
  static const json j = [] {
    std::ifstream in(mpc::testing::fixture_path("near-api-js/transactions.json"));
    json parsed = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      std::fprintf(stderr, "cannot read the near-api-js fixture (MPC_FIXTURES_DIR?)\n");
      std::exit(1);
    }
    return parsed;
  }();
  return j;
}
std::string near_api_js_tx(const char* which) { return near_api_js()["transactions"][which]["signed_base64"].get<std::string>(); }

std::string rpc(const std::string& method, const json& params, const json& id = "dontcare") {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

std::string key_text(std::uint8_t tag) { return core::ed25519_public_key_to_string(fuzz::fixed_key(tag).public_key()); }

// ---- targets ----

void borsh_tx(const std::vector<near::SignedTransaction>& txs) {
  write("borsh_tx", "near_api_js_1.bin", *core::base64_decode(near_api_js_tx("function_calls")));
  write("borsh_tx", "near_api_js_2_delegate.bin", *core::base64_decode(near_api_js_tx("with_delegate")));
  for (std::size_t i = 0; i < txs.size(); ++i) {
    write("borsh_tx", "sandbox_signed_" + std::to_string(i) + ".bin", near::encode_signed_transaction(txs[i]));
  }
  write("borsh_tx", "sandbox_unsigned_0.bin", near::encode_transaction(txs[0].transaction));
}

void rpc_bodies(const std::vector<near::SignedTransaction>& txs, const core::Hash256& genesis_hash) {
  const std::string head = sandbox::hash_to_base58(genesis_hash);
  write("rpc", "status.json", rpc("status", json::array()));
  write("rpc", "gas_price.json", rpc("gas_price", json::array({nullptr}), 7));
  write("rpc", "block_final.json", rpc("block", {{"finality", "final"}}));
  write("rpc", "block_height.json", rpc("block", {{"block_id", 1}}));
  write("rpc", "block_hash.json", rpc("block", {{"block_id", head}}));
  write("rpc", "view_account.json",
        rpc("query", {{"request_type", "view_account"}, {"finality", "final"}, {"account_id", fuzz::node_account(0)}}));
  write("rpc", "view_access_key.json",
        rpc("query", {{"request_type", "view_access_key"}, {"finality", "final"}, {"account_id", fuzz::node_account(0)},
                      {"public_key", core::ed25519_public_key_to_string(fuzz::node_key(0).public_key())}}));
  write("rpc", "view_access_key_list.json",
        rpc("query", {{"request_type", "view_access_key_list"}, {"finality", "final"}, {"account_id", fuzz::node_account(1)}}));
  write("rpc", "call_function_state.json",
        rpc("query", {{"request_type", "call_function"}, {"finality", "final"}, {"account_id", fuzz::kContractAccount},
                      {"method_name", "state"}, {"args_base64", core::base64_encode(core::as_bytes("{}"))}}));
  write("rpc", "call_function_migration_info.json",
        rpc("query", {{"request_type", "call_function"}, {"finality", "optimistic"}, {"account_id", fuzz::kContractAccount},
                      {"method_name", "migration_info"}, {"args_base64", ""}}));
  for (std::size_t i = 0; i < txs.size(); ++i) {
    const std::string b64 = core::base64_encode(near::encode_signed_transaction(txs[i]));
    write("rpc", "send_tx_" + std::to_string(i) + ".json",
          rpc("send_tx", {{"signed_tx_base64", b64}, {"wait_until", i % 2 ? "NONE" : "FINAL"}}));
  }
  const std::string b64 = core::base64_encode(near::encode_signed_transaction(txs[0]));
  const std::string hash = sandbox::hash_to_base58(near::transaction_hash(txs[0].transaction));
  write("rpc", "broadcast_tx_async.json", rpc("broadcast_tx_async", json::array({b64})));
  write("rpc", "broadcast_tx_commit.json", rpc("broadcast_tx_commit", json::array({b64})));
  write("rpc", "tx_array.json", rpc("tx", json::array({hash, fuzz::node_account(0)})));
  write("rpc", "tx_status.json",
        rpc("EXPERIMENTAL_tx_status", {{"tx_hash", hash}, {"sender_account_id", fuzz::node_account(0)}, {"wait_until", "NONE"}}));
  write("rpc", "tx_signed.json", rpc("tx", {{"signed_tx_base64", b64}}));
  write("rpc", "send_tx_near_api_js.json", rpc("send_tx", {{"signed_tx_base64", near_api_js_tx("function_calls")}, {"wait_until", "INCLUDED"}}));
  write("rpc", "unknown_method.json", rpc("no_such_method", json::object()));
  write("rpc", "batch.json", "[" + rpc("status", json::array()) + "]");
}

// One contract call record: [method][context][u16 LE length][args].
std::string call(const std::string& method, int caller, int deposit_choice, int key_choice, const json& args,
                 bool proxy = false) {
  const auto& methods = fuzz::contract_methods();
  const auto sel = static_cast<std::uint8_t>(std::find(methods.begin(), methods.end(), method) - methods.begin());
  const std::string text = args.is_null() ? std::string() : args.dump();
  std::string rec;
  rec.push_back(static_cast<char>(sel));
  rec.push_back(static_cast<char>(caller | (deposit_choice << 3) | (key_choice << 5) | (proxy ? 0x80 : 0)));
  rec.push_back(static_cast<char>(text.size() & 0xff));
  rec.push_back(static_cast<char>(text.size() >> 8));
  return rec + text;
}

void contract_calls() {
  const auto c = fuzz::running_contract();
  auto state_bytes = *c.view("state", {});
  const json running = json::parse(state_bytes.begin(), state_bytes.end())["Running"];
  const json dest = {{"signer_account_pk", key_text(0x20)},
                     {"destination_node_info", {{"url", "https://new-node.sandbox:443"}, {"tls_public_key", key_text(0x21)}}}};
  const std::string w = "contract_call";
  write(w, "register_backup_service", call("register_backup_service", 1, 1, 0, {{"backup_service_info", {{"public_key", key_text(0x51)}}}}));
  write(w, "start_then_conclude_migration",
        call("start_node_migration", 1, 1, 0, {{"destination_node_info", dest}}) +
            call("conclude_node_migration", 1, 0, 1, {{"keyset", running["keyset"]}}));
  write(w, "start_then_cancel_migration",
        call("start_node_migration", 0, 2, 0, {{"destination_node_info", dest}}) + call("cancel_node_migration", 0, 1, 0, json::object()));
  write(w, "update_participant_url", call("update_participant_url", 2, 1, 0, {{"url", "https://node2.example:443"}}));
  json proposal = running["parameters"];
  proposal["threshold"] = 3;
  const json reshare = {{"prospective_epoch_id", 1}, {"proposal", proposal}};
  std::string resharing;
  for (int n = 0; n < 3; ++n) resharing += call("vote_new_parameters", n, 0, 0, reshare);
  const json id0 = {{"key_event_id", {{"epoch_id", 1}, {"domain_id", 0}, {"attempt_id", 0}}}};
  write(w, "resharing_votes", resharing + call("start_reshare_instance", 0, 0, 0, id0) + call("vote_reshared", 0, 0, 0, id0) +
                                   call("vote_reshared", 1, 0, 0, id0));
  write(w, "resharing_cancel", resharing + call("vote_cancel_resharing", 0, 0, 0, json::object()) +
                                   call("vote_cancel_resharing", 1, 0, 0, json::object()));
  const json add = {{"domains", json::array({{{"id", 2}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}})}};
  std::string adding;
  for (int n = 0; n < 3; ++n) adding += call("vote_add_domains", n, 0, 0, add);
  json point = json::array();
  for (auto b : fuzz::fixed_key(0x62).public_key().bytes) point.push_back(b);
  const json pk = {{"Ed25519", {{"near_public_key_compressed", key_text(0x62)}, {"edwards_point", point}}}};
  const json id2 = {{"key_event_id", {{"epoch_id", 0}, {"domain_id", 2}, {"attempt_id", 0}}}};
  const json vote_pk = {{"key_event_id", id2["key_event_id"]}, {"public_key", pk}};
  write(w, "add_domain_and_vote_pk", adding + call("start_keygen_instance", 0, 0, 0, id2) + call("vote_pk", 0, 0, 0, vote_pk) +
                                         call("vote_pk", 1, 0, 0, vote_pk));
  const json id2_next = {{"key_event_id", {{"epoch_id", 0}, {"domain_id", 2}, {"attempt_id", 1}}}};
  write(w, "add_domain_abort_and_restart", adding + call("start_keygen_instance", 0, 0, 0, id2) +
                                               call("vote_abort_key_event_instance", 1, 0, 0, id2) +
                                               call("start_keygen_instance", 0, 0, 0, id2_next));
  write(w, "add_domain_and_cancel", adding + call("vote_cancel_keygen", 0, 0, 0, {{"next_domain_id", 3}}) +
                                        call("vote_cancel_keygen", 1, 0, 0, {{"next_domain_id", 3}}));
  write(w, "init_again", call("init", 3, 0, 0, {{"parameters", running["parameters"]}}));
  write(w, "stranger_and_proxy",
        call("register_backup_service", 5, 1, 0, {{"backup_service_info", {{"public_key", key_text(0x52)}}}}) +
            call("register_backup_service", 0, 1, 0, {{"backup_service_info", {{"public_key", key_text(0x52)}}}}, true));
  write(w, "views", call("state", 0, 0, 0, nullptr) + call("migration_info", 0, 0, 0, json::object()) + call("version", 0, 0, 0, nullptr));
  write(w, "unknown_method", call("no_such_method", 0, 0, 0, json::object()));
}

void keyshares() {
  const json shares = fuzz::fixture_shares_json();
  write("keyshare_json", "shares.json", shares.dump());
  write("keyshare_json", "shares_pretty.json", shares.dump(2));
  write("keyshare_json", "one_share.json", json::array({shares[0]}).dump());
  json other_epoch = shares;
  other_epoch[1]["key_id"]["epoch_id"] = 2;
  write("keyshare_json", "wrong_epoch.json", other_epoch.dump());
  json bls = json::array({{{"key_id", {{"epoch_id", 3}, {"domain_id", 2}, {"attempt_id", 0}}},
                           {"data", {{"Bls12381", {{"private_share", std::string(64, '3')}, {"public_key", std::string(192, 'a')}}}}}}});
  write("keyshare_json", "bls.json", bls.dump());

  const auto key = fuzz::fixture_aes_key();
  const std::string plain = shares.dump();
  write("keyshare_blob", "shares.b64", core::base64_encode(*core::aes_gcm_encrypt(key, core::as_bytes(plain))));
  write("keyshare_blob", "empty_array.b64", core::base64_encode(*core::aes_gcm_encrypt(key, core::as_bytes("[]"))));
  write("keyshare_blob", "not_json.b64", core::base64_encode(*core::aes_gcm_encrypt(key, core::as_bytes("shares"))));
  core::SecretBytes other(32);
  write("keyshare_blob", "other_key.b64", core::base64_encode(*core::aes_gcm_encrypt(other, core::as_bytes(plain))));
  write("keyshare_blob", "short.b64", core::base64_encode(core::Bytes(27, 1)));
}

std::string http_request(const std::string& start_line, const std::string& body, const std::string& extra = "") {
  std::string r = start_line + "\r\nHost: node0.sandbox:8079\r\n" + extra;
  if (!body.empty() || start_line.starts_with("PUT")) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

void migration_http() {
  const std::string keyset = to_json(fuzz::fixture_keyset()).dump();
  const auto key = fuzz::fixture_aes_key();
  const std::string blob = core::base64_encode(*core::aes_gcm_encrypt(key, core::as_bytes(fuzz::fixture_shares_json().dump())));
  const std::string w = "migration_http";
  // As the reference's backup-cli sends it: absolute-form target, JSON keyset body.
  write(w, "get_keyshares_absolute.http",
        http_request("GET http://example/get_keyshares HTTP/1.1", keyset, "content-type: application/json\r\naccept: */*\r\n"));
  write(w, "get_keyshares.http", http_request("GET /get_keyshares HTTP/1.1", keyset, "Content-Type: application/json\r\n"));
  write(w, "get_keyshares_wrong_epoch.http",
        http_request("GET /get_keyshares?x=1 HTTP/1.1", R"({"epoch_id":2,"domains":[]})", "Content-Type: application/json\r\n"));
  write(w, "set_keyshares.http", http_request("PUT http://example/set_keyshares HTTP/1.1", blob));
  write(w, "set_keyshares_bad_blob.http", http_request("PUT /set_keyshares HTTP/1.1", "AAAA"));
  std::string chunked = "PUT /set_keyshares HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string half = blob.substr(0, blob.size() / 2);
  const std::string rest = blob.substr(blob.size() / 2);
  char len[32];
  std::snprintf(len, sizeof len, "%zx", half.size());
  chunked += std::string(len) + "\r\n" + half + "\r\n";
  std::snprintf(len, sizeof len, "%zx", rest.size());
  chunked += std::string(len) + "\r\n" + rest + "\r\n0\r\n\r\n";
  write(w, "set_keyshares_chunked.http", chunked);
  write(w, "hello.http", http_request("GET /hello HTTP/1.1", ""));
  write(w, "hello_http10.http", "GET /hello HTTP/1.0\r\n\r\n");
  write(w, "pipelined.http",
        http_request("GET /hello HTTP/1.1", "") + http_request("GET /get_keyshares HTTP/1.1", keyset) +
            http_request("POST /hello HTTP/1.1", "x", "Connection: close\r\n"));
  write(w, "not_found.http", http_request("DELETE /keyshares HTTP/1.1", ""));
}

void encodings() {
  const std::string w = "encodings";
  write(w, "ed25519_public", key_text(7));
  write(w, "secp256k1_public", near_api_js()["secp256k1_public_key"].get<std::string>());
  write(w, "ed25519_secret_keypair", core::ed25519_secret_key_to_string(fuzz::fixed_key(0x70)).reveal());
  write(w, "ed25519_secret_seed", "ed25519:" + core::base58_encode(std::vector<std::uint8_t>(32, 0x71)));
  write(w, "base58_leading_zeros", "111" + core::base58_encode(core::as_bytes("mpc")));
  write(w, "base64", core::base64_encode(core::as_bytes("mpc-sandbox")));
  write(w, "hex_aes_key", core::hex_encode(fuzz::fixture_aes_key().view()));
  write(w, "u128", "1000000000000000000000000000");
  write(w, "u128_max", "340282366920938463463374607431768211455");
  write(w, "account_id", "node0.sandbox");
}

void json_texts() {
  const std::string w = "json_limits";
  auto with_limits = [](std::uint8_t depth, std::uint8_t values, const std::string& text) {
    return std::string{static_cast<char>(depth), static_cast<char>(values)} + text;
  };
  write(w, "rpc_body", with_limits(8, 0xff, rpc("query", {{"request_type", "view_account"}, {"account_id", "a.near"}})));
  write(w, "keyset", with_limits(5, 0xff, to_json(fuzz::fixture_keyset()).dump()));
  write(w, "shares_few_values", with_limits(6, 20, fuzz::fixture_shares_json().dump()));
  write(w, "nested", with_limits(3, 0xff, "[[[[1]]],{\"a\":{\"b\":[\"]\\\"[\"]}}]"));
  write(w, "duplicate_keys", with_limits(2, 4, "{\"a\":1,\"a\":2}"));
  write(w, "scalars", with_limits(0, 0, "-1.5e+10"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds <corpus directory, e.g. fuzz/corpus>\n");
    return 2;
  }
  fuzz::quiet_logs();
  root = argv[1];
  auto chain = fuzz::open_memory_chain();
  const core::Hash256 genesis = chain->head().hash;
  const auto txs = fuzz::seed_transactions(genesis);
  borsh_tx(txs);
  rpc_bodies(txs, genesis);
  contract_calls();
  keyshares();
  migration_http();
  encodings();
  json_texts();
  std::printf("seeds written under %s\n", root.c_str());
  return 0;
}
