// NEAR yield/resume in the sandbox: a `sign` transaction stays "Started"
// until a participant's `respond` lands (its result is then the signature)
// or the yield times out (its result is then the reference's failure), as
// nearcore shows it; durable across restarts; and the RPC answers a pending
// transaction the way nearcore does (TIMEOUT_ERROR with HTTP 408 while it
// waits, INCLUDED_FINAL for lower waits).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <sqlite3.h>

#include <filesystem>

#include "core/key_derivation.h"
#include "near/transaction.h"
#include "sandbox/chain.h"
#include "sandbox/outcome.h"
#include "sandbox/rpc.h"
#include "support/sandbox/test_chain.h"

namespace mpc::sandbox {
namespace {

constexpr std::string_view kGroupSecretHex = "1be2d390d2a3b5c70752bdd3fd3b7151f064cd7ca05322c010d2ef76727fce31";
constexpr std::uint64_t kTimeoutBlocks = 5;
const std::string kContract = "mpc.sandbox";

std::string b64_json(const json& j) { return core::base64_encode(core::as_bytes(j.dump())); }

class SandboxYield : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("mpc-yield-");
    group_secret_ = core::SecretBytes(*core::hex_decode(kGroupSecretHex));
    group_ = *core::ed25519_public_key_of_scalar(group_secret_);
    Genesis genesis;
    genesis.yield_timeout_blocks = kTimeoutBlocks;
    json participants = json::array();
    for (int i = 0; i < 3; ++i) {
      participants.push_back(json::array({"node" + std::to_string(i) + ".sandbox", i,
                                          {{"url", "https://node" + std::to_string(i)},
                                           {"tls_public_key", core::ed25519_public_key_to_string(core::Ed25519SecretKey::generate().public_key())}}}));
    }
    json point = json::array();
    for (auto b : group_.bytes) point.push_back(b);
    const json key = {{"Ed25519", {{"near_public_key_compressed", core::ed25519_public_key_to_string(group_)}, {"edwards_point", point}}}};
    genesis.contract_state = {
        {"protocol_state",
         {{"Running",
           {{"domains", {{"domains", json::array({{{"id", 0}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}, {"next_domain_id", 1}}},
            {"keyset", {{"epoch_id", 0}, {"domains", json::array({{{"domain_id", 0}, {"key", key}, {"attempt", 0}}})}}},
            {"parameters", {{"participants", {{"next_id", 3}, {"participants", participants}}}, {"threshold", 2}}}}}}}};
    for (const std::string account : {"user.sandbox", "node0.sandbox", "node1.sandbox", "node2.sandbox"}) {
      keys_.emplace(account, core::Ed25519SecretKey::generate());
      GenesisAccount a{account, core::u128(1'000'000) * 1'000'000'000'000'000'000'000u, {}};
      a.keys.emplace_back(core::NearPublicKey{keys_.at(account).public_key()}, KeyPermission{});
      genesis.accounts.push_back(std::move(a));
    }
    auto store = Store::open(dir_ / "chain.sqlite");
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(Chain::create(**store, genesis));
    open_chain();
  }
  void TearDown() override {
    chain_.reset();
    std::filesystem::remove_all(dir_);
  }

  void open_chain() {
    chain_.reset();
    auto store = Store::open(dir_ / "chain.sqlite");
    ASSERT_TRUE(store) << store.error().message;
    auto chain = Chain::open(std::move(*store), Chain::Options{});
    ASSERT_TRUE(chain) << chain.error().message;
    chain_ = std::move(*chain);
  }

  core::Hash256 submit(const std::string& account, std::vector<near::Action> actions) {
    near::Transaction tx;
    tx.signer_id = account;
    tx.public_key = core::NearPublicKey{keys_.at(account).public_key()};
    tx.nonce = ++nonces_[account];
    tx.receiver_id = kContract;
    tx.block_hash = chain_->head().hash;
    tx.actions = std::move(actions);
    auto hash = chain_->submit(near::encode_signed_transaction(near::sign_transaction(std::move(tx), keys_.at(account))));
    EXPECT_TRUE(hash) << hash.error().message();
    return hash ? *hash : core::Hash256{};
  }
  core::Hash256 call(const std::string& account, const std::string& method, const json& args, core::u128 deposit = 0) {
    return submit(account, {near::function_call(method, args.dump(), 100'000'000'000'000ull, deposit)});
  }
  static json sign_args(const std::string& payload_hex, const std::string& path = "solana-1") {
    return json{{"request", {{"path", path}, {"payload_v2", {{"Eddsa", payload_hex}}}, {"domain_id", 0}}}};
  }
  core::Hash256 sign(const std::string& payload_hex, const std::string& path = "solana-1") {
    return call("user.sandbox", "sign", sign_args(payload_hex, path), 1);
  }
  static core::SignatureRequest request_for(const std::string& payload_hex, const std::string& path = "solana-1") {
    return core::SignatureRequest::make("user.sandbox", path, {core::SignPayload::Kind::kEddsa, *core::hex_decode(payload_hex)}, 0);
  }
  // The signature a node would produce: by the key derived for the request.
  core::Ed25519Signature signature_for(const core::SignatureRequest& r) const {
    return *core::ed25519_sign_with_scalar(*core::derive_ed25519_secret_scalar(group_secret_, r.tweak), r.payload.bytes);
  }
  core::Hash256 respond(const std::string& node, const core::SignatureRequest& r, const core::SignatureResponse& response) {
    return call(node, "respond", core::respond_args(r, response));
  }

  void block() { ASSERT_TRUE(chain_->produce_block(++time_ns_)); }
  TxRecord record(const core::Hash256& hash) {
    auto r = chain_->final_tx(hash);
    EXPECT_TRUE(r && r->has_value()) << "transaction " << hash_to_base58(hash) << " is not committed";
    return r && r->has_value() ? **r : TxRecord{};
  }
  json pending_view() {
    auto v = chain_->call_view(kContract, "pending_signature_requests", {});
    EXPECT_TRUE(v);
    return v ? json::parse(*v->result) : json();
  }

  std::filesystem::path dir_;
  core::SecretBytes group_secret_;
  core::Ed25519PublicKey group_;
  std::map<std::string, core::Ed25519SecretKey> keys_;
  std::map<std::string, std::uint64_t> nonces_;
  std::unique_ptr<Chain> chain_;
  std::uint64_t time_ns_ = 1;
};

TEST_F(SandboxYield, SignStaysStartedUntilRespondThenReturnsTheSignature) {
  const core::Hash256 sign_tx = sign("48656c6c6f");
  int included = 0;
  int executed = 0;
  std::optional<TxRecord> executed_record;
  chain_->when_final(sign_tx, Chain::TxWait::kIncluded, [&](std::optional<TxRecord>) { ++included; });
  chain_->when_final(sign_tx, Chain::TxWait::kExecuted, [&](std::optional<TxRecord> r) {
    ++executed;
    executed_record = std::move(r);
  });
  block();
  EXPECT_EQ(included, 1);
  EXPECT_EQ(executed, 0);
  TxRecord started = record(sign_tx);
  EXPECT_FALSE(started.finished());
  EXPECT_EQ(started.outcome["status"], "Started");
  ASSERT_EQ(started.outcome["receipts_outcome"].size(), 1u);
  const std::string callback_id = yield_callback_receipt_id(sign_tx);
  EXPECT_EQ(started.outcome["receipts_outcome"][0]["outcome"]["status"], (json{{"SuccessReceiptId", callback_id}}));
  EXPECT_EQ(started.outcome["receipts_outcome"][0]["outcome"]["receipt_ids"], json::array({callback_id}));
  // The nodes see the request (the view our nodes poll).
  json pending = pending_view();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["predecessor_id"], "user.sandbox");
  EXPECT_EQ(pending[0]["block_height"], started.block_height);
  const core::SignatureRequest request = request_for("48656c6c6f");
  EXPECT_EQ(*core::parse_signature_request(pending[0]["request"]), request);
  EXPECT_EQ(chain_->open_yields().size(), 1u);

  // A participant responds with a signature under the derived key.
  const core::Ed25519Signature sig = signature_for(request);
  const core::Hash256 respond_tx = respond("node1.sandbox", request, sig);
  block();
  EXPECT_TRUE(record(respond_tx).finished());
  EXPECT_EQ(record(respond_tx).outcome["status"], (json{{"SuccessValue", ""}}));
  ASSERT_EQ(executed, 1);
  ASSERT_TRUE(executed_record);
  const TxRecord done = record(sign_tx);
  EXPECT_EQ(done.outcome, executed_record->outcome);
  EXPECT_TRUE(done.finished());
  const json expected = to_json(core::SignatureResponse{sig});
  EXPECT_EQ(done.outcome["status"], (json{{"SuccessValue", b64_json(expected)}}));
  ASSERT_EQ(done.outcome["receipts_outcome"].size(), 2u);
  const json& callback = done.outcome["receipts_outcome"][1];
  EXPECT_EQ(callback["id"], callback_id);
  EXPECT_EQ(callback["outcome"]["executor_id"], kContract);
  EXPECT_EQ(callback["outcome"]["status"], done.outcome["status"]);
  EXPECT_EQ(callback["block_hash"], hash_to_base58(chain_->head().hash));
  EXPECT_NE(done.outcome["receipts_outcome"][0]["block_hash"], callback["block_hash"]);
  EXPECT_EQ(done.block_height, started.block_height);  // still the block that included it
  // The returned signature verifies under the key derived for the caller.
  auto derived = core::derive_ed25519_public_key(group_, request.tweak);
  EXPECT_TRUE(core::ed25519_verify(*derived, request.payload.bytes, sig));
  EXPECT_EQ(pending_view(), json::array());
  EXPECT_TRUE(chain_->open_yields().empty());
}

// A block whose commit fails leaves its transactions pending exactly as they
// were: the next block commits them, stamped with that block's hash only.
TEST_F(SandboxYield, ABlockWhoseCommitFailsIsCommittedWholeByTheNextOne) {
  const core::Hash256 registered = call("node0.sandbox", "register_backup_service",
                                        {{"backup_service_info", {{"public_key", core::ed25519_public_key_to_string(
                                                                                     core::Ed25519SecretKey::generate().public_key())}}}},
                                        1);
  const core::Hash256 failed = call("node1.sandbox", "no_such_method", json::object());
  const core::Hash256 signed_tx = sign("48656c6c6f");
  std::vector<TxRecord> answered;
  chain_->when_final(registered, Chain::TxWait::kIncluded, [&](std::optional<TxRecord> r) {
    ASSERT_TRUE(r);
    answered.push_back(*r);
  });
  const std::uint64_t height = chain_->head().height;

  // Another connection makes every block insert fail, then allows it again.
  auto set_trigger = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "chain.sqlite").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  };
  set_trigger("CREATE TRIGGER refuse_blocks BEFORE INSERT ON blocks BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  auto st = chain_->produce_block(++time_ns_);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("injected failure"), std::string::npos) << st.error().message;
  EXPECT_EQ(chain_->head().height, height);
  EXPECT_TRUE(answered.empty());
  for (const auto& hash : {registered, failed, signed_tx}) {
    EXPECT_TRUE(chain_->is_pending(hash));
    auto stored = chain_->final_tx(hash);
    ASSERT_TRUE(stored);
    EXPECT_FALSE(stored->has_value());
  }

  set_trigger("DROP TRIGGER refuse_blocks;");
  block();
  const Block head = chain_->head();
  EXPECT_EQ(head.height, height + 1);
  EXPECT_EQ(head.tx_hashes, (std::vector<core::Hash256>{registered, failed, signed_tx}));
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].outcome, record(registered).outcome);
  for (const auto& hash : {registered, failed, signed_tx}) {
    SCOPED_TRACE(hash_to_base58(hash));
    const TxRecord r = record(hash);
    EXPECT_EQ(r.block_height, head.height);
    EXPECT_EQ(r.outcome["transaction_outcome"]["block_hash"], hash_to_base58(head.hash));
    ASSERT_FALSE(r.outcome["receipts_outcome"].empty());
    for (const auto& receipt : r.outcome["receipts_outcome"]) EXPECT_EQ(receipt["block_hash"], hash_to_base58(head.hash));
  }
  EXPECT_TRUE(record(registered).finished());
  EXPECT_FALSE(record(signed_tx).finished());
}

TEST_F(SandboxYield, SignFailsWithTheReferenceTimeoutMessageAfterTheYieldTimeout) {
  const core::Hash256 sign_tx = sign("0102");
  block();
  const std::uint64_t included_at = record(sign_tx).block_height;
  while (chain_->head().height < included_at + kTimeoutBlocks - 1) block();
  EXPECT_FALSE(record(sign_tx).finished()) << "still pending one block before the timeout";
  EXPECT_EQ(pending_view().size(), 1u);
  block();  // height included_at + timeout: the callback runs with a failed promise
  const TxRecord failed = record(sign_tx);
  ASSERT_TRUE(failed.finished());
  const json failure = {{"Failure",
                         {{"ActionError",
                           {{"index", 0},
                            {"kind", {{"FunctionCallError", {{"ExecutionError", "Smart contract panicked: Request has timed out."}}}}}}}}}};
  EXPECT_EQ(failed.outcome["status"], failure);
  const json& receipts = failed.outcome["receipts_outcome"];
  ASSERT_EQ(receipts.size(), 3u);
  EXPECT_EQ(receipts[1]["outcome"]["status"], (json{{"SuccessReceiptId", yield_timeout_receipt_id(sign_tx)}}));
  EXPECT_EQ(receipts[2]["outcome"]["status"], failure);
  EXPECT_EQ(pending_view(), json::array());
  // A respond now finds nothing.
  const core::SignatureRequest request = request_for("0102");
  const core::Hash256 late = respond("node0.sandbox", request, signature_for(request));
  block();
  EXPECT_EQ(record(late).outcome["status"]["Failure"]["ActionError"]["kind"]["FunctionCallError"]["ExecutionError"],
            "Smart contract panicked: This sign request has timed out, was completed, or never existed.");
}

TEST_F(SandboxYield, OneRespondAnswersEveryDuplicateRequest) {
  const core::Hash256 first = sign("cafe");
  block();
  const core::Hash256 second = sign("cafe");  // the same request, another transaction
  block();
  EXPECT_EQ(pending_view()[0]["yields"], 2);
  const core::SignatureRequest request = request_for("cafe");
  respond("node2.sandbox", request, signature_for(request));
  block();
  for (const auto& tx : {first, second}) {
    const TxRecord r = record(tx);
    EXPECT_TRUE(r.finished());
    EXPECT_EQ(r.outcome["status"], (json{{"SuccessValue", b64_json(to_json(core::SignatureResponse{signature_for(request)}))}}));
  }
}

TEST_F(SandboxYield, SignAndRespondInOneBlockCompleteTogether) {
  const core::Hash256 sign_tx = sign("ab");
  const core::SignatureRequest request = request_for("ab");
  respond("node0.sandbox", request, signature_for(request));
  block();
  EXPECT_TRUE(record(sign_tx).finished());
  EXPECT_TRUE(record(sign_tx).outcome["status"].contains("SuccessValue"));
  EXPECT_TRUE(chain_->open_yields().empty());
}

TEST_F(SandboxYield, AWrongSignatureOrANonParticipantLeavesTheRequestPending) {
  const core::Hash256 sign_tx = sign("abcd");
  block();
  const core::SignatureRequest request = request_for("abcd");
  const core::Hash256 by_group = respond("node0.sandbox", request, *core::ed25519_sign_with_scalar(group_secret_, request.payload.bytes));
  const core::Hash256 by_user = respond("user.sandbox", request, signature_for(request));
  block();
  EXPECT_EQ(record(by_group).outcome["status"]["Failure"]["ActionError"]["kind"]["FunctionCallError"]["ExecutionError"],
            "Smart contract panicked: The provided signature is invalid.");
  EXPECT_NE(record(by_user).outcome["status"]["Failure"]["ActionError"]["kind"]["FunctionCallError"]["ExecutionError"]
                .get<std::string>()
                .find("Caller must be an attested participant"),
            std::string::npos);
  EXPECT_FALSE(record(sign_tx).finished());
  EXPECT_EQ(pending_view().size(), 1u);
}

TEST_F(SandboxYield, PendingYieldsSurviveARestartAndResolveAfterwards) {
  const core::Hash256 answered = sign("01", "a");
  const core::Hash256 abandoned = sign("02", "b");
  block();
  const std::uint64_t included_at = record(answered).block_height;
  open_chain();  // as after kill -9: everything committed is back
  EXPECT_EQ(chain_->open_yields().size(), 2u);
  EXPECT_EQ(pending_view().size(), 2u);
  EXPECT_FALSE(record(answered).finished());
  const core::SignatureRequest request = request_for("01", "a");
  respond("node1.sandbox", request, signature_for(request));
  block();
  EXPECT_TRUE(record(answered).finished());
  EXPECT_TRUE(record(answered).outcome["status"].contains("SuccessValue"));
  open_chain();
  EXPECT_EQ(chain_->open_yields().size(), 1u);
  while (chain_->head().height < included_at + kTimeoutBlocks) block();
  EXPECT_TRUE(record(abandoned).outcome["status"].contains("Failure"));
  open_chain();
  EXPECT_TRUE(chain_->open_yields().empty());
  EXPECT_EQ(pending_view(), json::array());
  EXPECT_TRUE(record(answered).outcome["status"].contains("SuccessValue"));
}

TEST_F(SandboxYield, ASignAmongOtherActionsFailsAndChangesNothing) {
  const core::Hash256 tx =
      submit("user.sandbox", {near::function_call("sign", sign_args("01").dump(), 100'000'000'000'000ull, 1),
                              near::TransferAction{1}});
  block();
  EXPECT_EQ(record(tx).outcome["status"]["Failure"]["ActionError"]["kind"]["FunctionCallError"]["ExecutionError"],
            "Smart contract panicked: mpc-sandbox runs a call that yields (sign) only as its transaction's single action");
  EXPECT_EQ(pending_view(), json::array());
  EXPECT_TRUE(chain_->open_yields().empty());
}

TEST_F(SandboxYield, ACancelledWaiterIsNeverCalled) {
  const core::Hash256 sign_tx = sign("0a");
  block();
  int calls = 0;
  const std::uint64_t id = chain_->when_final(sign_tx, Chain::TxWait::kExecuted, [&](std::optional<TxRecord>) { ++calls; });
  ASSERT_NE(id, 0u);
  chain_->cancel_wait(sign_tx, id);
  const core::SignatureRequest request = request_for("0a");
  respond("node0.sandbox", request, signature_for(request));
  block();
  EXPECT_TRUE(record(sign_tx).finished());
  EXPECT_EQ(calls, 0);
}

TEST_F(SandboxYield, TheGenesisTimeoutIsCheckedAndKept) {
  EXPECT_EQ(chain_->yield_timeout_blocks(), kTimeoutBlocks);
  auto zero = genesis_from_json(json{{"accounts", json::array()}, {"yield_timeout_blocks", 0}});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "genesis.yield_timeout_blocks must be a positive integer (blocks)");
  auto defaulted = genesis_from_json(json{{"accounts", json::array()}});
  ASSERT_TRUE(defaulted);
  EXPECT_EQ(defaulted->yield_timeout_blocks, 200u);
  EXPECT_FALSE(genesis_to_json(*defaulted).contains("yield_timeout_blocks"));
}

// ---- the RPC while a sign waits: what nearcore answers

class SandboxYieldRpc : public SandboxYield {
 protected:
  void SetUp() override {
    SandboxYield::SetUp();
    RpcOptions options;
    options.wait_timeout = std::chrono::milliseconds(100);
    rpc_ = std::make_unique<RpcService>(ioc_, *chain_, options);
  }
  void TearDown() override {
    rpc_.reset();
    SandboxYield::TearDown();
  }
  // The one HTTP answer to a JSON-RPC body, running the io_context until it
  // comes (a wait ends with the transaction or the 100 ms wait timeout).
  net::HttpResponse http(const json& body) {
    net::HttpRequest req{boost::beast::http::verb::post, "/", 11};
    req.body() = body.dump();
    std::optional<net::HttpResponse> answer;
    rpc_->handle(std::move(req), [&](net::HttpResponse r) { answer = std::move(r); });
    ioc_.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!answer && std::chrono::steady_clock::now() < deadline) ioc_.run_one_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(answer) << "no answer to " << body.dump();
    return answer ? *answer : net::HttpResponse{};
  }
  static json tx_query(const core::Hash256& hash, const std::string& wait_until) {
    return json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tx"},
                {"params", {{"tx_hash", hash_to_base58(hash)}, {"sender_account_id", "user.sandbox"}, {"wait_until", wait_until}}}};
  }

  boost::asio::io_context ioc_;
  std::unique_ptr<RpcService> rpc_;
};

TEST_F(SandboxYieldRpc, APendingSignAnswersTimeoutWith408ThenItsSignature) {
  const core::Hash256 sign_tx = sign("beef");
  block();
  // Waiting for execution: nearcore gives up after its polling timeout with
  // TIMEOUT_ERROR and HTTP 408, which near-api-js retries.
  for (const std::string wait : {"EXECUTED_OPTIMISTIC", "EXECUTED", "FINAL"}) {
    const net::HttpResponse r = http(tx_query(sign_tx, wait));
    EXPECT_EQ(r.result_int(), 408u) << wait;
    const json j = json::parse(r.body());
    EXPECT_EQ(j["error"]["cause"]["name"], "TIMEOUT_ERROR") << wait;
    EXPECT_EQ(j["error"]["name"], "HANDLER_ERROR");
  }
  // Lower waits: the partial outcome, included in a final block.
  for (const std::string wait : {"NONE", "INCLUDED", "INCLUDED_FINAL"}) {
    const net::HttpResponse r = http(tx_query(sign_tx, wait));
    EXPECT_EQ(r.result_int(), 200u) << wait;
    const json j = json::parse(r.body());
    EXPECT_EQ(j["result"]["final_execution_status"], "INCLUDED_FINAL") << wait;
    EXPECT_EQ(j["result"]["status"], "Started") << wait;
    EXPECT_EQ(j["result"]["transaction"]["hash"], hash_to_base58(sign_tx));
  }
  // Re-sending the same signed transaction (near-api-js's retry) waits the same way.
  // Then the response lands: the same query answers the signature, FINAL.
  const core::SignatureRequest request = request_for("beef");
  respond("node2.sandbox", request, signature_for(request));
  block();
  const net::HttpResponse r = http(tx_query(sign_tx, "EXECUTED_OPTIMISTIC"));
  EXPECT_EQ(r.result_int(), 200u);
  const json j = json::parse(r.body());
  EXPECT_EQ(j["result"]["final_execution_status"], "FINAL");
  EXPECT_EQ(j["result"]["status"], (json{{"SuccessValue", b64_json(to_json(core::SignatureResponse{signature_for(request)}))}}));
}

TEST_F(SandboxYieldRpc, AWaitingSendTxIsAnsweredWhenTheRespondLands) {
  // send_tx with the default wait: the answer comes with the block that runs the callback.
  near::Transaction tx;
  tx.signer_id = "user.sandbox";
  tx.public_key = core::NearPublicKey{keys_.at("user.sandbox").public_key()};
  tx.nonce = ++nonces_["user.sandbox"];
  tx.receiver_id = kContract;
  tx.block_hash = chain_->head().hash;
  tx.actions = {near::function_call("sign", sign_args("f00d").dump(), 100'000'000'000'000ull, 1)};
  const near::SignedTransaction stx = near::sign_transaction(std::move(tx), keys_.at("user.sandbox"));
  const std::string b64 = core::base64_encode(near::encode_signed_transaction(stx));
  // A wait timeout far beyond the test: the answer must come from the block.
  RpcOptions patient;
  patient.wait_timeout = std::chrono::minutes(5);
  RpcService rpc(ioc_, *chain_, patient);
  std::optional<json> answer;
  rpc.handle_body(json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "send_tx"},
                         {"params", {{"signed_tx_base64", b64}, {"wait_until", "EXECUTED_OPTIMISTIC"}}}}
                        .dump(),
                    [&](json r) { answer = std::move(r); });
  ioc_.restart();
  ioc_.poll();
  EXPECT_FALSE(answer) << "answered before the transaction was even in a block";
  block();
  ioc_.poll();
  EXPECT_FALSE(answer) << "answered before the signature arrived";
  const core::SignatureRequest request = request_for("f00d");
  respond("node0.sandbox", request, signature_for(request));
  block();  // the answer is given by the block producer, synchronously
  ASSERT_TRUE(answer);
  ioc_.stop();  // the cancelled wait timer of `rpc` is not run after `rpc` is gone
  EXPECT_EQ((*answer)["result"]["final_execution_status"], "FINAL");
  EXPECT_EQ((*answer)["result"]["status"], (json{{"SuccessValue", b64_json(to_json(core::SignatureResponse{signature_for(request)}))}}));
}

}  // namespace
}  // namespace mpc::sandbox
