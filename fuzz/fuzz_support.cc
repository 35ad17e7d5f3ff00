#include "fuzz_support.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "core/bytes.h"
#include "core/near_key.h"
#include "core/u128.h"
#include "sandbox/store.h"

namespace mpc::fuzz {

void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

void quiet_logs() { spdlog::set_level(spdlog::level::off); }

void check_refusal(const core::Error& error, std::string_view prefix) {
  MPC_FUZZ_CHECK(error.code == core::ErrorCode::kInvalidArgument);
  MPC_FUZZ_CHECK(!error.message.empty());
  MPC_FUZZ_CHECK(std::ranges::all_of(error.message, [](unsigned char c) { return c >= 0x20 && c < 0x7f; }));
  MPC_FUZZ_CHECK(error.message.starts_with(prefix));
}

void check_encodes_to(const core::Result<core::Bytes>& encoded, core::ByteView input) {
  MPC_FUZZ_CHECK(encoded.has_value());
  MPC_FUZZ_CHECK(std::ranges::equal(*encoded, input));
}

core::Ed25519SecretKey fixed_key(std::uint8_t tag) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(tag);
  return *core::Ed25519SecretKey::from_seed(seed);
}

namespace {

template <class T>
T must(core::Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}
void must(const core::Status& s, const char* what) {
  if (!s) throw std::runtime_error(std::string(what) + ": " + s.error().message);
}

std::string key_text(const core::Ed25519SecretKey& k) { return core::ed25519_public_key_to_string(k.public_key()); }

json participants_json(int n) {
  json list = json::array();
  for (int i = 0; i < n; ++i) {
    list.push_back(json::array({node_account(i), i,
                                {{"url", "https://node" + std::to_string(i) + ".sandbox:443"},
                                 {"tls_public_key", key_text(node_tls_key(i))}}}));
  }
  return list;
}

constexpr const char* kSecpGx = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr const char* kSecpGy = "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
constexpr const char* kEdB = "5866666666666666666666666666666666666666666666666666666666666666";

}  // namespace

std::string node_account(int i) { return "node" + std::to_string(i) + ".sandbox"; }
core::Ed25519SecretKey node_key(int i) { return fixed_key(static_cast<std::uint8_t>(7 + i)); }
core::Ed25519SecretKey node_tls_key(int i) { return fixed_key(static_cast<std::uint8_t>(0x40 + i)); }

sandbox::Genesis fuzz_genesis() {
  sandbox::Genesis g;
  g.chain_id = "mpc-sandbox";
  g.genesis_time_ns = kGenesisTimeNs;
  g.contract_account_id = kContractAccount;
  const auto balance = *core::parse_u128("1000000000000000000000000000");
  g.accounts.push_back({kContractAccount, balance, {{core::NearPublicKey{fixed_key(0x30).public_key()}, {}}}});
  for (int i = 0; i < 3; ++i) {
    g.accounts.push_back({node_account(i), balance, {{core::NearPublicKey{node_key(i).public_key()}, {}}}});
  }
  g.contract_state = {
      {"protocol_state",
       {{"Running",
         {{"domains", {{"domains", json::array()}, {"next_domain_id", 0}}},
          {"keyset", {{"epoch_id", 0}, {"domains", json::array()}}},
          {"parameters", {{"participants", {{"next_id", 3}, {"participants", participants_json(3)}}}, {"threshold", 2}}},
          {"parameters_votes", {{"proposal_by_account", json::object()}}},
          {"add_domains_votes", {{"proposal_by_account", json::object()}}}}}}}};
  return g;
}

std::unique_ptr<sandbox::Chain> open_memory_chain() {
  auto store = must(sandbox::Store::open(":memory:"), "opening the in-memory store");
  must(sandbox::Chain::create(*store, fuzz_genesis()), "writing the genesis");
  return must(sandbox::Chain::open(std::move(store), sandbox::Chain::Options{}), "opening the chain");
}

std::vector<near::SignedTransaction> seed_transactions(const core::Hash256& genesis_hash) {
  auto make = [&](int signer, std::uint64_t nonce, std::string receiver, std::vector<near::Action> actions) {
    near::Transaction tx;
    tx.signer_id = node_account(signer);
    tx.public_key = core::NearPublicKey{node_key(signer).public_key()};
    tx.nonce = nonce;
    tx.receiver_id = std::move(receiver);
    std::copy(genesis_hash.begin(), genesis_hash.end(), tx.block_hash.begin());
    tx.actions = std::move(actions);
    return near::sign_transaction(std::move(tx), node_key(signer));
  };
  const std::string backup_key = key_text(fixed_key(0x50));
  std::vector<near::SignedTransaction> out;
  // node0 registers a backup service (1 yoctoNEAR).
  out.push_back(make(0, 1, kContractAccount,
                     {near::function_call("register_backup_service",
                                          json{{"backup_service_info", {{"public_key", backup_key}}}}.dump(),
                                          30'000'000'000'000ull, 1)}));
  // node1 starts a migration to a new node key.
  out.push_back(make(1, 1, kContractAccount,
                     {near::function_call("start_node_migration",
                                          json{{"destination_node_info",
                                                {{"signer_account_pk", key_text(fixed_key(0x20))},
                                                 {"destination_node_info",
                                                  {{"url", "https://new-node.sandbox:443"},
                                                   {"tls_public_key", key_text(fixed_key(0x21))}}}}}}
                                              .dump(),
                                          30'000'000'000'000ull, 1)}));
  // node2: a transfer and an add-key (function-call key) in one transaction.
  near::AddKeyAction add;
  add.public_key = core::NearPublicKey{fixed_key(0x22).public_key()};
  add.access_key.permission = near::FunctionCallPermission{std::nullopt, kContractAccount, {"conclude_node_migration"}};
  out.push_back(make(2, 1, node_account(0), {near::TransferAction{5}}));
  out.push_back(make(2, 2, node_account(2), {add}));
  // A call whose arguments the contract refuses (included as a failure).
  out.push_back(make(0, 2, kContractAccount, {near::function_call("vote_pk", "{\"key_event_id\":7}")}));
  return out;
}

model::Keyset fixture_keyset() {
  model::Keyset ks;
  ks.epoch_id = 3;
  {
    model::KeyForDomain d;
    d.domain_id = 0;
    d.attempt = 1;
    d.key.kind = model::CurveKind::kSecp256k1;
    core::Secp256k1PublicKey xy;
    auto bytes = *core::hex_decode(std::string(kSecpGx) + kSecpGy);
    std::copy(bytes.begin(), bytes.end(), xy.bytes.begin());
    d.key.near_public_key = core::NearPublicKey{xy};
    ks.domains.push_back(d);
  }
  {
    model::KeyForDomain d;
    d.domain_id = 1;
    d.attempt = 0;
    d.key.kind = model::CurveKind::kEd25519;
    core::Ed25519PublicKey b;
    auto bytes = *core::hex_decode(kEdB);
    std::copy(bytes.begin(), bytes.end(), b.bytes.begin());
    d.key.near_public_key = core::NearPublicKey{b};
    d.key.edwards_point = b.bytes;
    ks.domains.push_back(d);
  }
  return ks;
}

std::vector<model::Keyshare> fixture_shares() {
  std::vector<model::Keyshare> out(2);
  out[0].key_id = {3, 0, 1};
  out[0].kind = model::CurveKind::kSecp256k1;
  out[0].private_share = core::SecretString("1111111111111111111111111111111111111111111111111111111111111111");
  out[0].public_key = std::string("02") + kSecpGx;  // G's y is even
  out[1].key_id = {3, 1, 0};
  out[1].kind = model::CurveKind::kEd25519;
  out[1].private_share = core::SecretString("2222222222222222222222222222222222222222222222222222222222222202");
  out[1].public_key = kEdB;
  return out;
}

json fixture_shares_json() {
  json a = json::array();
  for (const auto& s : fixture_shares()) a.push_back(to_json(s));
  return a;
}

core::SecretBytes fixture_aes_key() {
  core::SecretBytes k(32);
  for (std::size_t i = 0; i < k.size(); ++i) k.data()[i] = static_cast<std::uint8_t>(0xa0 + i);
  return k;
}

// ---- the contract ----

const std::vector<std::string>& contract_methods() {
  static const std::vector<std::string> m = {
      "init",          "vote_add_domains",       "vote_pk",           "vote_cancel_keygen",
      "vote_new_parameters", "vote_reshared",    "vote_cancel_resharing", "register_backup_service",
      "start_node_migration", "conclude_node_migration", "cancel_node_migration", "update_participant_url",
      "state",         "migration_info",         "version",           "no_such_method",
      // Appended, so that the committed seeds' selectors keep their methods.
      "start_keygen_instance", "start_reshare_instance", "vote_abort_key_event_instance",
  };
  return m;
}

const std::vector<std::string>& contract_callers() {
  static const std::vector<std::string> c = {node_account(0), node_account(1), node_account(2), kContractAccount,
                                             "node3.sandbox", "stranger.sandbox", "", "NOT AN ACCOUNT"};
  return c;
}

contract::MpcContract running_contract() {
  contract::MpcContract c;
  auto call = [&](const std::string& who, const std::string& method, const json& args, core::u128 deposit = 0) {
    const std::string text = args.dump();
    contract::CallContext ctx{who, who, kContractAccount, core::NearPublicKey{fixed_key(0x20).public_key()}, deposit, 1};
    must(c.call(ctx, method, core::as_bytes(text)), method.c_str());
  };
  call(kContractAccount, "init",
       {{"parameters", {{"participants", {{"next_id", 3}, {"participants", participants_json(3)}}}, {"threshold", 2}}}});
  json domains = json::array({{{"id", 0}, {"protocol", "CaitSith"}, {"purpose", "Sign"}},
                              {{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}}});
  for (int n = 0; n < 3; ++n) call(node_account(n), "vote_add_domains", {{"domains", domains}});
  for (int d = 0; d < 2; ++d) {
    auto k = fixed_key(static_cast<std::uint8_t>(0x60 + d));
    json point = json::array();
    for (auto b : k.public_key().bytes) point.push_back(b);
    json pk = {{"Ed25519", {{"near_public_key_compressed", key_text(k)}, {"edwards_point", point}}}};
    json id = {{"epoch_id", 0}, {"domain_id", d}, {"attempt_id", 0}};
    call(node_account(0), "start_keygen_instance", {{"key_event_id", id}});  // node0: the leader (lowest id)
    for (int n = 0; n < 3; ++n) call(node_account(n), "vote_pk", {{"key_event_id", id}, {"public_key", pk}});
  }
  call(node_account(0), "register_backup_service", {{"backup_service_info", {{"public_key", key_text(fixed_key(0x50))}}}}, 1);
  return c;
}

}  // namespace mpc::fuzz
