// mpc-sandbox over real JSON-RPC on loopback: transactions, views and every
// kind of bad input, each checked to change nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "near/transaction.h"
#include "net/http_client.h"
#include "sandbox/rpc.h"
#include "support/sandbox/test_chain.h"

namespace mpc::sandbox {
namespace {

using testing::LocalChain;
using near::json;

const std::string kContract = "mpc.sandbox";

json register_args(const core::Ed25519PublicKey& key) {
  return json{{"backup_service_info", {{"public_key", core::ed25519_public_key_to_string(key)}}}};
}

// A transaction signed by `account`'s credential key, with an explicit nonce.
near::SignedTransaction make_tx(LocalChain& c, const std::string& account, std::uint64_t nonce,
                                std::vector<near::Action> actions, const std::string& receiver = kContract) {
  auto creds = c.credentials(account);
  near::Transaction tx;
  tx.signer_id = account;
  tx.public_key = core::NearPublicKey{creds.secret_key.public_key()};
  tx.nonce = nonce;
  tx.receiver_id = receiver;
  tx.block_hash = c.rpc().final_block()->hash;
  tx.actions = std::move(actions);
  return near::sign_transaction(std::move(tx), creds.secret_key);
}

std::uint64_t nonce_of(LocalChain& c, const std::string& account) {
  auto creds = c.credentials(account);
  return c.rpc().view_access_key(account, core::NearPublicKey{creds.secret_key.public_key()})->nonce;
}

json migration_info(LocalChain& c) { return *c.rpc().view(kContract, "migration_info"); }

json raw_rpc(LocalChain& c, const std::string& body) {
  net::HttpClient http(*net::Url::parse(c.rpc_url()));
  auto r = http.request(boost::beast::http::verb::post, body);
  EXPECT_TRUE(r) << r.error().message;
  return json::parse(r->body, nullptr, false);
}

json send_raw_base64(LocalChain& c, const std::string& b64) {
  return raw_rpc(c, json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "send_tx"},
                         {"params", {{"signed_tx_base64", b64}, {"wait_until", "FINAL"}}}}.dump());
}

TEST(SandboxRpc, StatusBlockAndViewsAnswer) {
  LocalChain c;
  auto status = c.rpc().status();
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ((*status)["chain_id"], "mpc-sandbox");
  auto block = c.rpc().final_block();
  ASSERT_TRUE(block);
  EXPECT_GE(block->height, 1u);
  auto state = c.rpc().view(kContract, "state");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_TRUE(state->contains("Running"));
  EXPECT_EQ((*state)["Running"]["parameters"]["participants"]["participants"].size(), 3u);
  auto account = c.rpc().view_account("node0.sandbox");
  ASSERT_TRUE(account);
  EXPECT_EQ((*account)["amount"], "1000000000000000000000000000");
}

TEST(SandboxRpc, SignedFunctionCallExecutesAndIsVisible) {
  LocalChain c;
  auto signer = c.signer("node0.sandbox");
  auto backup = core::Ed25519SecretKey::generate();
  auto before = nonce_of(c, "node0.sandbox");
  auto out = signer->call(kContract, "register_backup_service", register_args(backup.public_key()), 1);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(nonce_of(c, "node0.sandbox"), before + 1);
  EXPECT_EQ(migration_info(c)["node0.sandbox"][0]["public_key"], core::ed25519_public_key_to_string(backup.public_key()));
  // The outcome can be fetched again by hash.
  auto again = c.rpc().tx_status(out->tx_hash, "node0.sandbox");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->raw["status"], out->raw["status"]);
}

TEST(SandboxRpc, DepositIsDebitedAndExcessRefunded) {
  LocalChain c;
  auto signer = c.signer("node1.sandbox");
  auto balance = [&] { return *core::parse_u128((*c.rpc().view_account("node1.sandbox"))["amount"].get<std::string>()); };
  const auto before = balance();
  const core::u128 one_near = static_cast<core::u128>(1'000'000'000'000ull) * 1'000'000'000'000ull;
  ASSERT_TRUE(signer->call(kContract, "register_backup_service",
                           register_args(core::Ed25519SecretKey::generate().public_key()), one_near));
  // The contract keeps at most what it needs (1 yoctoNEAR) and refunds the rest.
  EXPECT_LE(before - balance(), static_cast<core::u128>(1));
}

TEST(SandboxRpc, ResubmittingTheSameSignedTransactionDoesNotExecuteTwice) {
  LocalChain c;
  auto stx = make_tx(c, "node0.sandbox", nonce_of(c, "node0.sandbox") + 1,
                     {near::function_call("register_backup_service",
                                          register_args(core::Ed25519SecretKey::generate().public_key()).dump(),
                                          100'000'000'000'000ull, 1)});
  auto first = c.rpc().send_tx(stx);
  ASSERT_TRUE(first) << first.error().message;
  auto second = c.rpc().send_tx(stx);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(first->tx_hash, second->tx_hash);
  EXPECT_EQ(nonce_of(c, "node0.sandbox"), stx.transaction.nonce);
}

TEST(SandboxRpc, ReplayedNonceIsRejectedAndChangesNothing) {
  LocalChain c;
  const auto n = nonce_of(c, "node0.sandbox");
  auto key1 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(c.rpc().send_tx(make_tx(c, "node0.sandbox", n + 1,
                                      {near::function_call("register_backup_service", register_args(key1.public_key()).dump(),
                                                           100'000'000'000'000ull, 1)})));
  auto key2 = core::Ed25519SecretKey::generate();
  auto r = c.rpc().send_tx(make_tx(c, "node0.sandbox", n + 1,
                                   {near::function_call("register_backup_service", register_args(key2.public_key()).dump(),
                                                        100'000'000'000'000ull, 1)}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTxRejected);
  EXPECT_NE(r.error().message.find("InvalidNonce"), std::string::npos) << r.error().message;
  EXPECT_EQ(migration_info(c)["node0.sandbox"][0]["public_key"], core::ed25519_public_key_to_string(key1.public_key()));
}

TEST(SandboxRpc, WrongSignatureIsRejected) {
  LocalChain c;
  auto stx = make_tx(c, "node0.sandbox", nonce_of(c, "node0.sandbox") + 1, {near::TransferAction{1}}, "node1.sandbox");
  stx.signature.data[0] ^= 1;
  auto r = c.rpc().send_tx(stx);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTxRejected);
  EXPECT_NE(r.error().message.find("InvalidSignature"), std::string::npos) << r.error().message;
  // Signed by another key than the one it names.
  auto other = core::Ed25519SecretKey::generate();
  auto stx2 = make_tx(c, "node0.sandbox", nonce_of(c, "node0.sandbox") + 1, {near::TransferAction{1}}, "node1.sandbox");
  stx2 = near::sign_transaction(stx2.transaction, other);
  EXPECT_FALSE(c.rpc().send_tx(stx2));
}

TEST(SandboxRpc, UnknownAccountOrKeyIsRejected) {
  LocalChain c;
  auto key = core::Ed25519SecretKey::generate();
  near::Transaction tx;
  tx.signer_id = "ghost.sandbox";
  tx.public_key = core::NearPublicKey{key.public_key()};
  tx.nonce = 1;
  tx.receiver_id = kContract;
  tx.block_hash = c.rpc().final_block()->hash;
  tx.actions = {near::TransferAction{1}};
  auto r = c.rpc().send_tx(near::sign_transaction(tx, key));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("SignerDoesNotExist"), std::string::npos) << r.error().message;
  tx.signer_id = "node0.sandbox";  // exists, but this key is not one of its keys
  r = c.rpc().send_tx(near::sign_transaction(tx, key));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("AccessKeyNotFound"), std::string::npos) << r.error().message;
  auto view = c.rpc().view_access_key("node0.sandbox", core::NearPublicKey{key.public_key()});
  ASSERT_FALSE(view);
  EXPECT_EQ(view.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(c.rpc().view_account("ghost.sandbox").error().code, core::ErrorCode::kNotFound);
}

TEST(SandboxRpc, UnknownBlockHashIsRejectedAsExpired) {
  LocalChain c;
  auto stx = make_tx(c, "node0.sandbox", nonce_of(c, "node0.sandbox") + 1, {near::TransferAction{1}}, "node1.sandbox");
  stx.transaction.block_hash.fill(7);
  stx = near::sign_transaction(stx.transaction, c.credentials("node0.sandbox").secret_key);
  auto r = c.rpc().send_tx(stx);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Expired"), std::string::npos) << r.error().message;
}

TEST(SandboxRpc, FunctionCallKeysAreLimitedToTheirReceiverMethodsAndNoDeposit) {
  LocalChain c;
  auto owner = c.signer("node2.sandbox");
  auto fc_key = core::Ed25519SecretKey::generate();
  near::AddKeyAction add{core::NearPublicKey{fc_key.public_key()},
                         near::AccessKey{0, near::FunctionCallPermission{std::nullopt, kContract, {"register_backup_service"}}}};
  ASSERT_TRUE(owner->send("node2.sandbox", {add}));
  near::Signer limited(c.rpc(), "node2.sandbox", fc_key.clone());
  auto args = register_args(core::Ed25519SecretKey::generate().public_key());

  auto with_deposit = limited.call(kContract, "register_backup_service", args, 1);
  ASSERT_FALSE(with_deposit);
  EXPECT_NE(with_deposit.error().message.find("DepositWithFunctionCall"), std::string::npos) << with_deposit.error().message;

  auto other_method = limited.call(kContract, "start_node_migration", json::object());
  ASSERT_FALSE(other_method);
  EXPECT_NE(other_method.error().message.find("MethodNameMismatch"), std::string::npos) << other_method.error().message;

  auto other_receiver = limited.send("node0.sandbox", {near::function_call("register_backup_service", args.dump())});
  ASSERT_FALSE(other_receiver);
  EXPECT_NE(other_receiver.error().message.find("ReceiverMismatch"), std::string::npos) << other_receiver.error().message;

  auto transfer = limited.send(kContract, {near::TransferAction{1}});
  ASSERT_FALSE(transfer);
  EXPECT_NE(transfer.error().message.find("RequiresFullAccess"), std::string::npos) << transfer.error().message;
  EXPECT_FALSE(migration_info(c).contains("node2.sandbox"));
}

TEST(SandboxRpc, ContractPanicsAndUnknownMethodsAreReportedAndRevert) {
  LocalChain c;
  auto signer = c.signer("node0.sandbox");
  auto unknown = signer->call(kContract, "no_such_method", json::object());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kContractPanic);
  EXPECT_NE(unknown.error().message.find("MethodNotFound"), std::string::npos) << unknown.error().message;

  // Bad JSON arguments.
  auto bad_args = signer->send(kContract, {near::function_call("register_backup_service", "{not json", 100'000'000'000'000ull, 1)});
  ASSERT_FALSE(bad_args);
  EXPECT_EQ(bad_args.error().code, core::ErrorCode::kContractPanic);

  // A rule of the contract: register needs a deposit.
  auto no_deposit = signer->call(kContract, "register_backup_service",
                                 register_args(core::Ed25519SecretKey::generate().public_key()), 0);
  ASSERT_FALSE(no_deposit);
  EXPECT_EQ(no_deposit.error().code, core::ErrorCode::kContractPanic);
  EXPECT_FALSE(migration_info(c).contains("node0.sandbox"));

  // Views report panics too.
  auto view = c.rpc().call_function(kContract, "no_such_view", json::object());
  ASSERT_FALSE(view);
  EXPECT_EQ(view.error().code, core::ErrorCode::kContractPanic);
}

TEST(SandboxRpc, TransferAddKeyAndDeleteKeyWork) {
  LocalChain c;
  auto from = c.signer("node0.sandbox");
  auto amount = [&](const char* id) { return *core::parse_u128((*c.rpc().view_account(id))["amount"].get<std::string>()); };
  const auto before = amount("node1.sandbox");
  ASSERT_TRUE(from->send("node1.sandbox", {near::TransferAction{1234}}));
  EXPECT_EQ(amount("node1.sandbox") - before, static_cast<core::u128>(1234));

  auto extra = core::Ed25519SecretKey::generate();
  core::NearPublicKey extra_pk{extra.public_key()};
  ASSERT_TRUE(from->send("node0.sandbox", {near::AddKeyAction{extra_pk, near::AccessKey{}}}));
  ASSERT_TRUE(c.rpc().view_access_key("node0.sandbox", extra_pk));
  near::Signer with_extra(c.rpc(), "node0.sandbox", extra.clone());
  ASSERT_TRUE(with_extra.send("node1.sandbox", {near::TransferAction{1}}));
  ASSERT_TRUE(from->send("node0.sandbox", {near::DeleteKeyAction{extra_pk}}));
  EXPECT_FALSE(c.rpc().view_access_key("node0.sandbox", extra_pk));
  // Deleting it again fails as an action, and reverts the whole transaction.
  const auto mine = amount("node0.sandbox");
  auto again = from->send("node0.sandbox", {near::TransferAction{5}, near::DeleteKeyAction{extra_pk}});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("DeleteKeyDoesNotExist"), std::string::npos) << again.error().message;
  EXPECT_EQ(amount("node0.sandbox"), mine);
  // Key actions on another account are not allowed.
  auto foreign = from->send("node1.sandbox", {near::AddKeyAction{extra_pk, near::AccessKey{}}});
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message.find("ActorNoPermission"), std::string::npos);
}

TEST(SandboxRpc, MalformedRequestsGetClearErrors) {
  LocalChain c;
  auto not_json = raw_rpc(c, "{oops");
  EXPECT_EQ(not_json["error"]["cause"]["name"], "PARSE_ERROR");
  auto no_method = raw_rpc(c, R"({"jsonrpc":"2.0","id":1})");
  EXPECT_EQ(no_method["error"]["cause"]["name"], "PARSE_ERROR");
  auto unknown = raw_rpc(c, R"({"jsonrpc":"2.0","id":1,"method":"frobnicate","params":[]})");
  EXPECT_EQ(unknown["error"]["cause"]["name"], "METHOD_NOT_FOUND");
  auto bad_query = raw_rpc(c, R"({"jsonrpc":"2.0","id":1,"method":"query","params":{"request_type":"view_state"}})");
  EXPECT_EQ(bad_query["error"]["cause"]["name"], "PARSE_ERROR");
  auto bad_args = raw_rpc(c, R"({"jsonrpc":"2.0","id":1,"method":"query","params":{"request_type":"call_function",)"
                             R"("account_id":"mpc.sandbox","method_name":"state","args_base64":"%%%"}})");
  EXPECT_EQ(bad_args["error"]["cause"]["name"], "PARSE_ERROR");
}

TEST(SandboxRpc, BadTransactionEncodingsAreRejected) {
  LocalChain c;
  EXPECT_EQ(send_raw_base64(c, "not base64!")["error"]["cause"]["name"], "PARSE_ERROR");
  auto stx = make_tx(c, "node0.sandbox", nonce_of(c, "node0.sandbox") + 1, {near::TransferAction{1}}, "node1.sandbox");
  auto bytes = near::encode_signed_transaction(stx);
  auto truncated = core::Bytes(bytes.begin(), bytes.end() - 1);
  auto r1 = send_raw_base64(c, core::base64_encode(truncated));
  EXPECT_EQ(r1["error"]["cause"]["name"], "INVALID_TRANSACTION") << r1.dump();
  auto trailing = bytes;
  trailing.push_back(0);
  auto r2 = send_raw_base64(c, core::base64_encode(trailing));
  EXPECT_EQ(r2["error"]["cause"]["name"], "INVALID_TRANSACTION") << r2.dump();
  EXPECT_NE(r2["error"]["cause"]["info"]["error_message"].get<std::string>().find("trailing"), std::string::npos);
  // Nothing was executed.
  EXPECT_EQ(nonce_of(c, "node0.sandbox"), stx.transaction.nonce - 1);
}

TEST(SandboxRpc, OversizedRequestBodiesAreRefused) {
  LocalChain c;
  net::HttpClient http(*net::Url::parse(c.rpc_url()));
  auto r = http.request(boost::beast::http::verb::post, std::string(5 << 20, 'x'));
  // The server answers 413 or closes the connection; either way nothing is parsed.
  if (r) {
    EXPECT_EQ(r->status, 413u);
  }
  EXPECT_TRUE(c.rpc().status());
}

// Polls the final block height until it exceeds `above`, or fails loudly.
void expect_blocks_continue(LocalChain& c, std::uint64_t above) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint64_t height = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto b = c.rpc().final_block();
    if (b && (height = b->height) > above) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "no block above height " << above << " within 10 s (last seen " << height << ")";
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(SandboxRpc, ARequestNested100000DeepGetsAParseErrorAndTheServerKeepsServing) {
  LocalChain c;
  const auto height = c.rpc().final_block()->height;
  // ~200 KB: the params, then the id, each nested 100,000 deep.
  for (const std::string& body :
       {R"({"jsonrpc":"2.0","id":1,"method":"query","params":)" + nested(100'000) + "}",
        R"({"jsonrpc":"2.0","method":"status","params":[],"id":)" + nested(100'000) + "}", nested(100'000)}) {
    auto r = raw_rpc(c, body);
    EXPECT_EQ(r["error"]["cause"]["name"], "PARSE_ERROR") << r.dump().substr(0, 300);
    EXPECT_EQ(r["error"]["code"], -32700);
    EXPECT_EQ(r["error"]["data"], "the request body: JSON nested deeper than 64 levels");
    EXPECT_TRUE(r["id"].is_null());
  }
  // Depth at the limit is still parsed (and then judged as a request).
  auto at_limit = raw_rpc(c, R"({"jsonrpc":"2.0","id":7,"method":"status","params":)" + nested(63) + "}");
  EXPECT_EQ(at_limit["id"], 7);
  EXPECT_TRUE(at_limit.contains("result")) << at_limit.dump();
  ASSERT_TRUE(c.rpc().status());
  expect_blocks_continue(c, height);
}

TEST(SandboxRpc, ANonceBeyondAMillionPerBlockIsRejectedAsNonceTooLarge) {
  LocalChain c;
  const auto n = nonce_of(c, "node0.sandbox");
  const std::uint64_t huge = 1'000'000'000'000'000ull;
  auto stx = make_tx(c, "node0.sandbox", huge, {near::TransferAction{1}}, "node1.sandbox");
  auto r = send_raw_base64(c, core::base64_encode(near::encode_signed_transaction(stx)));
  EXPECT_EQ(r["error"]["cause"]["name"], "INVALID_TRANSACTION") << r.dump();
  const json& too_large = r["error"]["data"]["TxExecutionError"]["InvalidTxError"]["NonceTooLarge"];
  ASSERT_TRUE(too_large.is_object()) << r.dump();
  EXPECT_EQ(too_large["tx_nonce"], huge);
  const std::uint64_t bound = too_large["upper_bound"].get<std::uint64_t>();
  EXPECT_EQ(bound % 1'000'000, 0u);
  EXPECT_GT(bound, 0u);
  EXPECT_EQ(nonce_of(c, "node0.sandbox"), n);  // nothing consumed
  // Through the client: a kTxRejected naming the kind.
  auto via_client = c.rpc().send_tx(make_tx(c, "node0.sandbox", huge, {near::TransferAction{1}}, "node1.sandbox"));
  ASSERT_FALSE(via_client);
  EXPECT_EQ(via_client.error().code, core::ErrorCode::kTxRejected);
  EXPECT_NE(via_client.error().message.find("NonceTooLarge"), std::string::npos) << via_client.error().message;
  // Just below the bound of the next block is fine: the block being built is
  // at least one above the final block seen here.
  const std::uint64_t final_height = c.rpc().final_block()->height;
  auto ok = c.rpc().send_tx(make_tx(c, "node0.sandbox", (final_height + 1) * 1'000'000 - 1, {near::TransferAction{1}}, "node1.sandbox"));
  ASSERT_TRUE(ok) << ok.error().message;
  // The signer still works afterwards (its nonce is the access key's + 1).
  EXPECT_TRUE(c.signer("node0.sandbox")->send("node1.sandbox", {near::TransferAction{1}}));
}

TEST(SandboxRpc, AMethodNameThatIsNotUtf8IsRejectedAtDecodeAndBlocksContinue) {
  LocalChain c;
  const auto n = nonce_of(c, "node0.sandbox");
  const auto height = c.rpc().final_block()->height;
  auto stx = make_tx(c, "node0.sandbox", n + 1, {near::function_call("register\xff\xfe", "{}", 100'000'000'000'000ull, 0)});
  auto r = send_raw_base64(c, core::base64_encode(near::encode_signed_transaction(stx)));
  EXPECT_EQ(r["error"]["cause"]["name"], "INVALID_TRANSACTION") << r.dump();
  EXPECT_EQ(r["error"]["data"]["TxExecutionError"]["InvalidTxError"], "Deserialization") << r.dump();
  EXPECT_NE(r["error"]["cause"]["info"]["error_message"].get<std::string>().find("method_name is not valid UTF-8"),
            std::string::npos)
      << r.dump();
  EXPECT_EQ(nonce_of(c, "node0.sandbox"), n);
  // The same for the tx status lookup by signed transaction.
  auto status = raw_rpc(c, json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tx"},
                                {"params", {{"signed_tx_base64", core::base64_encode(near::encode_signed_transaction(stx))}}}}
                               .dump());
  EXPECT_EQ(status["error"]["cause"]["name"], "PARSE_ERROR") << status.dump();
  expect_blocks_continue(c, height);
  EXPECT_TRUE(c.signer("node0.sandbox")->send("node1.sandbox", {near::TransferAction{1}}));
}

TEST(SandboxRpc, ContractArgumentsNestedTooDeepFailTheCallWithoutReachingTheContract) {
  LocalChain c;
  auto signer = c.signer("node0.sandbox");
  const std::string deep_args = "{\"backup_service_info\":" + nested(100'000) + "}";
  auto out = signer->send(kContract, {near::function_call("register_backup_service", deep_args, 100'000'000'000'000ull, 1)});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, core::ErrorCode::kContractPanic);
  EXPECT_NE(out.error().message.find("JSON nested deeper than 64 levels"), std::string::npos) << out.error().message;
  EXPECT_FALSE(migration_info(c).contains("node0.sandbox"));
  // A view with such arguments.
  auto view = raw_rpc(c, json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "query"},
                              {"params", {{"request_type", "call_function"}, {"finality", "final"}, {"account_id", kContract},
                                          {"method_name", "state"}, {"args_base64", core::base64_encode(core::as_bytes(nested(1000)))}}}}
                             .dump());
  EXPECT_EQ(view["error"]["cause"]["name"], "CONTRACT_EXECUTION_ERROR") << view.dump();
  EXPECT_NE(view["error"]["data"].get<std::string>().find("JSON nested deeper than 64 levels"), std::string::npos) << view.dump();
  // Ordinary calls go on.
  EXPECT_TRUE(signer->call(kContract, "register_backup_service",
                           register_args(core::Ed25519SecretKey::generate().public_key()), 1));
}

TEST(SandboxRpc, ExecutedTransactionsSurviveARestartAndBlocksContinue) {
  LocalChain c;
  auto key = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(c.signer("node1.sandbox")->call(kContract, "register_backup_service", register_args(key.public_key()), 1));
  const auto height = c.rpc().final_block()->height;
  const auto nonce = nonce_of(c, "node1.sandbox");
  c.restart();
  EXPECT_GE(c.rpc().final_block()->height, height);
  EXPECT_EQ(nonce_of(c, "node1.sandbox"), nonce);
  EXPECT_EQ(migration_info(c)["node1.sandbox"][0]["public_key"], core::ed25519_public_key_to_string(key.public_key()));
}


// ---- The method table, without sockets: RpcService::handle_body on a chain
// in an in-memory store.

class RpcMethods : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(":memory:");
    ASSERT_TRUE(store) << store.error().message;
    Genesis genesis;
    genesis.accounts.push_back({"alice.sandbox", 1000, {}});
    ASSERT_TRUE(Chain::create(**store, genesis));
    auto chain = Chain::open(std::move(*store), Chain::Options{});
    ASSERT_TRUE(chain) << chain.error().message;
    chain_ = std::move(*chain);
    rpc_ = std::make_unique<RpcService>(ioc_, *chain_);
  }

  // Every answer handle_body gives to `body` (exactly one is expected).
  std::vector<json> answers(const std::string& body) {
    std::vector<json> out;
    rpc_->handle_body(body, [&](json r) { out.push_back(std::move(r)); });
    ioc_.poll();
    return out;
  }

  boost::asio::io_context ioc_;
  std::unique_ptr<Chain> chain_;
  std::unique_ptr<RpcService> rpc_;
};

TEST_F(RpcMethods, TheTableServesTheDocumentedMethods) {
  EXPECT_EQ(RpcService::methods(), (std::vector<std::string>{"EXPERIMENTAL_tx_status", "block", "broadcast_tx_async",
                                                              "broadcast_tx_commit", "gas_price", "query", "send_tx",
                                                              "status", "tx"}));
}

TEST_F(RpcMethods, AnUnknownMethodAnswersMethodNotFoundInNearsShape) {
  auto r = answers(R"({"jsonrpc":"2.0","id":7,"method":"frobnicate","params":[]})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dump(),
            R"({"error":{"cause":{"info":{"method_name":"frobnicate"},"name":"METHOD_NOT_FOUND"},"code":-32601,)"
            R"("data":"method \"frobnicate\" is not served by mpc-sandbox","message":"Method not found",)"
            R"("name":"REQUEST_VALIDATION_ERROR"},"id":7,"jsonrpc":"2.0"})");
}

TEST_F(RpcMethods, AMethodNameDifferingOnlyInCaseIsUnknown) {
  auto r = answers(R"({"jsonrpc":"2.0","id":"a","method":"Status"})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["error"]["cause"]["name"], "METHOD_NOT_FOUND");
  EXPECT_EQ(r[0]["id"], "a");
}

TEST_F(RpcMethods, EveryMethodAnswersOnceWithTheRequestsIdEvenWithoutParams) {
  for (const auto& method : RpcService::methods()) {
    for (const std::string params : {"", R"(,"params":[])", R"(,"params":{})", R"(,"params":5)"}) {
      SCOPED_TRACE(method + params);
      auto r = answers(R"({"jsonrpc":"2.0","id":3,"method":")" + method + "\"" + params + "}");
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0]["jsonrpc"], "2.0");
      EXPECT_EQ(r[0]["id"], 3);
      EXPECT_NE(r[0].contains("result"), r[0].contains("error")) << r[0].dump();
    }
  }
}

TEST_F(RpcMethods, AnUnsupportedQueryTypeNamesTheSupportedOnes) {
  auto r = answers(R"({"jsonrpc":"2.0","id":1,"method":"query","params":{"request_type":"view_state","account_id":"a"}})");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["error"]["data"],
            "unsupported request_type \"view_state\" (supported: view_account, view_access_key, view_access_key_list, "
            "call_function)");
}

TEST_F(RpcMethods, ARejectedTransactionAnswersInvalidTransactionWithNearsError) {
  auto r = answers(R"({"jsonrpc":"2.0","id":1,"method":"broadcast_tx_commit","params":["AAAA"]})");
  ASSERT_EQ(r.size(), 1u);
  const json& e = r[0]["error"];
  EXPECT_EQ(e["name"], "HANDLER_ERROR");
  EXPECT_EQ(e["code"], -32000);
  EXPECT_EQ(e["cause"]["name"], "INVALID_TRANSACTION");
  EXPECT_EQ(e["data"], (json{{"TxExecutionError", {{"InvalidTxError", "Deserialization"}}}}));
  EXPECT_EQ(e["cause"]["info"]["TxExecutionError"], e["data"]["TxExecutionError"]);
  EXPECT_TRUE(e["cause"]["info"]["error_message"].get<std::string>().starts_with("the transaction could not be decoded: "));
}

}  // namespace
}  // namespace mpc::sandbox
