// The RPC client and signer against a fake NEAR JSON-RPC server on loopback
// (net::HttpServer) returning canned answers for each outcome shape.
#include "near/rpc_client.h"
#include "near/contract_view.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <boost/asio.hpp>

#include "net/http_server.h"

namespace mpc::near {
namespace {

namespace asio = boost::asio;

struct Canned {
  unsigned status = 200;
  std::string body;
};

json ok(const json& id, json result) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}; }
json err(const json& id, json error) { return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}}; }
json handler_error(const std::string& cause, json info, json data = nullptr) {
  json e = {{"name", "HANDLER_ERROR"}, {"cause", {{"name", cause}, {"info", std::move(info)}}}, {"code", -32000},
            {"message", "Server error"}};
  if (!data.is_null()) e["data"] = std::move(data);
  return e;
}

// A fake JSON-RPC endpoint: `handle(method, params, id)` gives the answer.
class FakeRpc {
 public:
  using Handler = std::function<Canned(const std::string& method, const json& params, const json& id)>;

  explicit FakeRpc(Handler handler) : handler_(std::move(handler)) {
    server_ = std::make_shared<net::HttpServer>(ioc_, net::HttpServerOptions{},
                                                [this](net::HttpRequest&& req, net::Responder respond) {
                                                  ++requests_;
                                                  json body = json::parse(req.body(), nullptr, false);
                                                  Canned c = handler_(body.value("method", std::string()),
                                                                      body.value("params", json()),
                                                                      body.value("id", json()));
                                                  respond(net::make_response(c.status, c.body, "application/json"));
                                                });
    auto ep = server_->listen({asio::ip::make_address("127.0.0.1"), 0});
    EXPECT_TRUE(ep) << ep.error().message;
    port_ = ep->port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeRpc() {
    asio::post(ioc_, [this] { server_->stop(); });
    ioc_.stop();
    thread_.join();
  }

  std::unique_ptr<RpcClient> client(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    auto c = RpcClient::create("http://127.0.0.1:" + std::to_string(port_) + "/SECRET-KEY",
                               RpcClientOptions{timeout});
    EXPECT_TRUE(c);
    return std::move(*c);
  }
  int requests() const { return requests_.load(); }

 private:
  Handler handler_;
  asio::io_context ioc_;
  std::shared_ptr<net::HttpServer> server_;
  unsigned short port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Answers every call with the same canned JSON body.
FakeRpc::Handler always(std::function<json(const json& id)> make) {
  return [make](const std::string&, const json&, const json& id) { return Canned{200, make(id).dump()}; };
}

const std::string kHash32 = core::base58_encode(core::Bytes(32, 0xab));

json outcome(json status, const std::string& tx_hash = "TxHash111") {
  return {{"status", std::move(status)},
          {"transaction", json::object()},
          {"transaction_outcome", {{"id", tx_hash}, {"outcome", {{"logs", json::array()}}}}},
          {"receipts_outcome", json::array({{{"id", "r1"}, {"outcome", {{"logs", {"log one", "log two"}}}}}})}};
}

SignedTransaction any_tx() {
  auto key = core::Ed25519SecretKey::generate();
  Transaction tx;
  tx.signer_id = "node0.near";
  tx.public_key = core::NearPublicKey{key.public_key()};
  tx.nonce = 1;
  tx.receiver_id = "mpc.near";
  tx.actions = {function_call("m", "{}")};
  return sign_transaction(std::move(tx), key);
}

// ---------------------------------------------------------------- reads

TEST(RpcClient, ReadsFinalBlockAccessKeysAndViewResults) {
  FakeRpc fake([](const std::string& method, const json& params, const json& id) -> Canned {
    if (method == "block") {
      EXPECT_EQ(params, (json{{"finality", "final"}}));
      return {200, ok(id, {{"header", {{"height", 123456789012ull}, {"hash", kHash32}}}}).dump()};
    }
    if (method == "status") return {200, ok(id, {{"chain_id", "testnet"}}).dump()};
    const std::string rt = params.value("request_type", "");
    if (rt == "view_access_key") {
      return {200, ok(id, {{"nonce", 77},
                           {"permission",
                            {{"FunctionCall",
                              {{"allowance", "250000000000000000000000"},
                               {"receiver_id", "mpc.near"},
                               {"method_names", {"vote"}}}}}}})
                       .dump()};
    }
    if (rt == "view_access_key_list") {
      return {200, ok(id, {{"keys",
                            {{{"public_key", "ed25519:" + kHash32},
                              {"access_key", {{"nonce", 5}, {"permission", "FullAccess"}}}}}}})
                       .dump()};
    }
    if (rt == "call_function") {
      EXPECT_EQ(params["args_base64"], core::base64_encode(core::as_bytes(R"({"x":1})")));
      const std::string v = R"({"ok":true})";
      return {200, ok(id, {{"result", json(core::Bytes(v.begin(), v.end()))},
                           {"logs", {"hello"}},
                           {"block_height", 1},
                           {"block_hash", kHash32}})
                       .dump()};
    }
    return {200, err(id, {{"name", "REQUEST_VALIDATION_ERROR"}, {"cause", {{"name", "METHOD_NOT_FOUND"}}}}).dump()};
  });
  auto rpc = fake.client();
  auto st = rpc->status();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ((*st)["chain_id"], "testnet");

  auto block = rpc->block_final();
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->height, 123456789012ull);
  EXPECT_EQ(block->hash[0], 0xab);

  auto pk = core::NearPublicKey::parse("ed25519:" + kHash32);
  ASSERT_TRUE(pk);
  auto ak = rpc->view_access_key("node0.near", *pk);
  ASSERT_TRUE(ak) << ak.error().message;
  EXPECT_EQ(ak->nonce, 77u);
  auto* fc = std::get_if<FunctionCallPermission>(&ak->permission);
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(core::u128_to_string(*fc->allowance), "250000000000000000000000");
  EXPECT_EQ(fc->method_names, std::vector<std::string>{"vote"});

  auto keys = rpc->view_access_key_list("node0.near");
  ASSERT_TRUE(keys) << keys.error().message;
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].public_key, *pk);
  EXPECT_TRUE(std::holds_alternative<FullAccessPermission>((*keys)[0].access_key.permission));

  auto call = rpc->call_function("mpc.near", "state", json{{"x", 1}});
  ASSERT_TRUE(call) << call.error().message;
  EXPECT_EQ(core::to_string(call->result), R"({"ok":true})");
  EXPECT_EQ(call->logs, std::vector<std::string>{"hello"});
  auto view = rpc->view("mpc.near", "state", json{{"x", 1}});
  ASSERT_TRUE(view);
  EXPECT_EQ((*view)["ok"], true);

  auto unknown = rpc->call("no_such_method", json::object());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kInvalidArgument) << unknown.error().message;
}

// ---------------------------------------------------------------- outcomes

TEST(RpcClient, SendTxSuccessReturnsTheDecodedSuccessValueAndLogs) {
  SignedTransaction sent = any_tx();
  FakeRpc fake([&](const std::string& method, const json& params, const json& id) -> Canned {
    EXPECT_EQ(method, "send_tx");
    EXPECT_EQ(params["wait_until"], "FINAL");
    auto bytes = core::base64_decode(params["signed_tx_base64"].get<std::string>());
    EXPECT_TRUE(bytes);
    auto decoded = decode_signed_transaction(*bytes);
    EXPECT_TRUE(decoded && *decoded == sent);
    return {200, ok(id, outcome({{"SuccessValue", core::base64_encode(core::as_bytes("\"done\""))}})).dump()};
  });
  auto rpc = fake.client();
  auto r = rpc->send_tx(sent);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(core::to_string(r->success_value), "\"done\"");
  EXPECT_EQ(r->tx_hash, "TxHash111");
  EXPECT_EQ(r->logs, (std::vector<std::string>{"log one", "log two"}));
}

TEST(RpcClient, AContractPanicIsItsOwnClassification) {
  FakeRpc fake(always([](const json& id) {
    return ok(id, outcome({{"Failure",
                            {{"ActionError",
                              {{"index", 0},
                               {"kind",
                                {{"FunctionCallError",
                                  {{"ExecutionError", "Smart contract panicked: The protocol is not Running."}}}}}}}}}}));
  }));
  auto r = fake.client()->send_tx(any_tx());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_contract_panic(r.error()));
  EXPECT_FALSE(is_tx_rejected(r.error()));
  EXPECT_EQ(r.error().message.rfind("contract panicked: The protocol is not Running.", 0), 0u) << r.error().message;
}

TEST(RpcClient, AMethodNotFoundIsAContractFailureToo) {
  FakeRpc fake(always([](const json& id) {
    return ok(id, outcome({{"Failure",
                            {{"ActionError",
                              {{"index", 0},
                               {"kind", {{"FunctionCallError", {{"MethodResolveError", "MethodNotFound"}}}}}}}}}}));
  }));
  auto r = fake.client()->send_tx(any_tx());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_contract_panic(r.error()));
  EXPECT_NE(r.error().message.find("MethodNotFound"), std::string::npos) << r.error().message;
}

TEST(RpcClient, OtherActionErrorsAreFailedPreconditions) {
  FakeRpc fake(always([](const json& id) {
    return ok(id, outcome({{"Failure",
                            {{"ActionError",
                              {{"index", 1}, {"kind", {{"AccountDoesNotExist", {{"account_id", "x.near"}}}}}}}}}}));
  }));
  auto r = fake.client()->send_tx(any_tx());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("action 1: AccountDoesNotExist"), std::string::npos) << r.error().message;
}

TEST(RpcClient, AnInvalidTransactionIsRejectedWithTheReason) {
  FakeRpc fake(always([](const json& id) {
    return err(id, handler_error("INVALID_TRANSACTION", json::object(),
                                 {{"TxExecutionError", {{"InvalidTxError", {{"InvalidNonce", {{"tx_nonce", 5}, {"ak_nonce", 7}}}}}}}}));
  }));
  auto r = fake.client()->send_tx(any_tx());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_tx_rejected(r.error()));
  EXPECT_EQ(r.error().message, R"(transaction rejected: InvalidNonce {"ak_nonce":7,"tx_nonce":5})");
}

TEST(RpcClient, AnInvalidTransactionReportedInInfoOrAsAnOutcomeIsRejectedToo) {
  FakeRpc fake(always([](const json& id) {
    return err(id, handler_error("INVALID_TRANSACTION", {{"InvalidSignature", nullptr}}));
  }));
  auto r = fake.client()->send_tx(any_tx());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_tx_rejected(r.error()));
  EXPECT_NE(r.error().message.find("InvalidSignature"), std::string::npos) << r.error().message;

  auto o = parse_outcome(outcome({{"Failure", {{"InvalidTxError", "Expired"}}}}));
  ASSERT_FALSE(o);
  EXPECT_TRUE(is_tx_rejected(o.error()));
  EXPECT_NE(o.error().message.find("Expired"), std::string::npos);
}

TEST(RpcClient, RpcLevelErrorsAreClassified) {
  struct Case {
    json error;
    core::ErrorCode code;
    const char* text;
  };
  const std::vector<Case> cases = {
      {handler_error("UNKNOWN_ACCOUNT", {{"requested_account_id", "x.near"}}), core::ErrorCode::kNotFound, "UNKNOWN_ACCOUNT"},
      {handler_error("UNKNOWN_ACCESS_KEY", {{"public_key", "ed25519:x"}}), core::ErrorCode::kNotFound, "UNKNOWN_ACCESS_KEY"},
      {handler_error("CONTRACT_EXECUTION_ERROR", {{"vm_error", "wasm execution failed with error: FunctionCallError(ExecutionError(\"Smart contract panicked: no state\"))"}}),
       core::ErrorCode::kContractPanic, "contract panicked: no state"},
      {json{{"name", "HANDLER_ERROR"}, {"cause", {{"name", "TIMEOUT_ERROR"}}}}, core::ErrorCode::kTimeout, "timed out"},
      {json{{"name", "INTERNAL_ERROR"}, {"cause", {{"name", "INTERNAL_ERROR"}, {"info", {{"error_message", "db"}}}}}},
       core::ErrorCode::kUnavailable, "db"},
      {json{{"name", "REQUEST_VALIDATION_ERROR"}, {"cause", {{"name", "PARSE_ERROR"}, {"info", {{"error_message", "bad"}}}}}},
       core::ErrorCode::kInvalidArgument, "PARSE_ERROR"},
      {json{{"code", -32601}, {"message", "Method not found"}}, core::ErrorCode::kInternal, "Method not found"},
      {json("a bare string"), core::ErrorCode::kInternal, "a bare string"},
  };
  for (const auto& c : cases) {
    FakeRpc fake(always([&](const json& id) { return err(id, c.error); }));
    auto r = fake.client()->call("query", json::object());
    ASSERT_FALSE(r) << c.error.dump();
    EXPECT_EQ(r.error().code, c.code) << c.error.dump() << " -> " << r.error().message;
    EXPECT_NE(r.error().message.find(c.text), std::string::npos) << r.error().message;
  }
}

TEST(RpcClient, LegacyQueryErrorsInsideTheResultAreClassified) {
  FakeRpc fake(always([](const json& id) {
    return ok(id, {{"error", "wasm execution failed with error: FunctionCallError(ExecutionError(\"Smart contract panicked: nope\"))"},
                   {"logs", json::array()}});
  }));
  auto r = fake.client()->call_function("mpc.near", "state", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_contract_panic(r.error()));
  EXPECT_EQ(r.error().message, "contract panicked: nope");
}

TEST(RpcClient, CallFunctionResultBytesAreReadWithoutATreeAndCheckedLikeOne) {
  // The bytes of result.result go straight into CallResult (no tree node
  // per byte); every other field of the answer is read as before, and
  // anything in the array that is not a number 0..255 is refused.
  struct Case {
    std::string result;  // the text of result.result
    std::optional<std::string> error;
  };
  const std::vector<Case> cases = {
      {"[]", std::nullopt},
      {"[0,1,255,123]", std::nullopt},
      {"[256]", "result is not an array of bytes"},
      {"[-1]", "result is not an array of bytes"},
      {"[1.5]", "result is not an array of bytes"},
      {R"(["a"])", "result is not an array of bytes"},
      {"[1,[2],3]", "result is not an array of bytes"},
      {R"([1,{"a":[2]},3])", "result is not an array of bytes"},
      {"[null]", "result is not an array of bytes"},
      {R"("AQID")", "the answer has no result bytes"},
      {"{}", "the answer has no result bytes"},
  };
  for (const auto& c : cases) {
    const std::string body = R"({"jsonrpc":"2.0","id":"1","result":{"logs":["a","b"],"result":)" + c.result +
                             R"(,"block_height":42,"nested":{"result":[999]}}})";
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    if (c.error) {
      ASSERT_FALSE(r) << c.result;
      EXPECT_EQ(r.error().code, core::ErrorCode::kInternal) << c.result;
      EXPECT_NE(r.error().message.find(*c.error), std::string::npos) << c.result << " -> " << r.error().message;
      continue;
    }
    ASSERT_TRUE(r) << c.result << ": " << r.error().message;
    const auto expected = json::parse(c.result).get<std::vector<int>>();
    EXPECT_EQ(std::vector<int>(r->result.begin(), r->result.end()), expected) << c.result;
    EXPECT_EQ(r->logs, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(r->block_height, 42u);
  }
  // Only result.result is read as bytes: a top-level "result" array, or a
  // "result" deeper down, is an ordinary value.
  {
    FakeRpc fake([&](const std::string&, const json&, const json&) {
      return Canned{200, R"({"jsonrpc":"2.0","id":"1","result":[1,2,3]})"};
    });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("the answer has no result bytes"), std::string::npos) << r.error().message;
    auto plain = fake.client()->call("query", json::object());
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(*plain, json::parse("[1,2,3]"));
  }
  // The rest of the answer is the tree nlohmann builds (numbers' kinds,
  // strings with escapes and UTF-8, nesting, a repeated key's last value).
  {
    const std::string body =
        R"({"jsonrpc":"2.0","id":"1","result":{"result":[7,8],"logs":["caf\u00e9 ☕","\"q\""],"block_height":18446744073709551615,)"
        R"("neg":-3,"f":1.5,"e":1e3,"t":true,"n":null,"deep":{"a":[{"b":[]}],"result":[300]},"dup":1,"dup":2}})";
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(std::vector<int>(r->result.begin(), r->result.end()), (std::vector<int>{7, 8}));
    EXPECT_EQ(r->block_height, 18446744073709551615ull);
    RpcClient::ResultBytes bytes;
    auto tree = fake.client()->call_with("query", json::object(), &bytes);
    ASSERT_TRUE(tree) << tree.error().message;
    json expected = json::parse(body)["result"];
    expected.erase("result");
    EXPECT_EQ(*tree, expected);
    EXPECT_TRUE((*tree)["neg"].is_number_integer() && !(*tree)["neg"].is_number_unsigned());
    EXPECT_TRUE((*tree)["dup"].is_number_unsigned());
    EXPECT_EQ((*tree)["dup"], 2);
    EXPECT_TRUE(bytes.present && bytes.valid);
  }
  // A repeated result.result: the last one counts, as in a tree.
  for (const auto& [inner, valid, want] : std::vector<std::tuple<std::string, bool, std::vector<int>>>{
           {R"("result":[1],"result":[2,3])", true, {2, 3}},
           {R"("result":[1],"result":[256])", false, {}},
           {R"("result":[999],"result":[4])", true, {4}},
       }) {
    const std::string body = R"({"jsonrpc":"2.0","id":"1","result":{)" + inner + "}}";
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_EQ(r.has_value(), valid) << body;
    if (valid) EXPECT_EQ(std::vector<int>(r->result.begin(), r->result.end()), want) << body;
  }
  {
    const std::string body = R"({"jsonrpc":"2.0","id":"1","result":{"result":[1]},"result":{"logs":[]}})";
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("the answer has no result bytes"), std::string::npos) << r.error().message;
  }
  // Errors are classified as they were, and a body that is not JSON is not
  // mistaken for one with bytes.
  for (const std::string body : {std::string("not json"), std::string(R"({"jsonrpc":"2.0","id":"1","result":{"result":[1,2)"),
                                 std::string(R"({"jsonrpc":"2.0","id":"1","result":{"result":[1,2]}}trailing)"),
                                 std::string("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"logs\":[\"\xff\"],\"result\":[1]}}"),
                                 std::string("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{\"result\":[1]}}") + std::string(1, '\0')}) {
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInternal) << body;
    EXPECT_NE(r.error().message.find("not JSON-RPC"), std::string::npos) << r.error().message;
  }
}

TEST(ContractViewCache, AnUnchangedAnswerIsNotParsedAgainAndAnyChangedByteIs) {
  json state;
  {
    std::ifstream in(mpc::testing::fixture_path("reference/contract_state_mainnet_running.json"));
    ASSERT_TRUE(in) << "missing mainnet fixture";
    state = json::parse(in);
  }
  std::mutex mu;
  std::string state_text = state.dump(), migrations_text = "{}";
  std::uint64_t height = 10;
  FakeRpc fake([&](const std::string&, const json& params, const json& id) -> Canned {
    std::lock_guard lock(mu);
    const std::string& text = params.value("method_name", "") == "state" ? state_text : migrations_text;
    return {200, ok(id, {{"result", json(core::Bytes(text.begin(), text.end()))}, {"logs", json::array()}, {"block_height", height}}).dump()};
  });
  auto rpc = fake.client();
  ContractViewCache cache;
  auto first = read_contract_view(*rpc, "mpc.near", {}, cache);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->block_height, 10u);
  ASSERT_NE(first->state.running(), nullptr);
  EXPECT_EQ(*first, *read_contract_view(*rpc, "mpc.near", {}));  // what an uncached read gives

  // The same bytes again: the cached parse is what comes back (marked here
  // to tell it apart), at the new block height.
  ASSERT_TRUE(cache.state);
  auto marked = *cache.state;
  std::get<model::RunningState>(marked.state).keyset.epoch_id = 999;
  cache.state = marked;
  {
    std::lock_guard lock(mu);
    height = 11;
  }
  auto again = read_contract_view(*rpc, "mpc.near", {}, cache);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->block_height, 11u);
  EXPECT_EQ(again->state.running()->keyset.epoch_id, 999u);

  // One byte more (the same JSON value, other bytes) is parsed again.
  {
    std::lock_guard lock(mu);
    state_text += " ";
  }
  auto reparsed = read_contract_view(*rpc, "mpc.near", {}, cache);
  ASSERT_TRUE(reparsed) << reparsed.error().message;
  EXPECT_EQ(reparsed->state, first->state);

  // A changed answer that is not valid is refused in full and not cached; the
  // valid answer after it is parsed again.
  {
    std::lock_guard lock(mu);
    state_text = R"({"Running":{"keyset":"no"}})";
  }
  auto bad = read_contract_view(*rpc, "mpc.near", {}, cache);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("contract view `state`"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(cache.state);
  {
    std::lock_guard lock(mu);
    migrations_text = "[]";
  }
  EXPECT_FALSE(read_contract_view(*rpc, "mpc.near", {}, cache));
  {
    std::lock_guard lock(mu);
    state_text = state.dump();
    migrations_text = "{}";
  }
  auto good = read_contract_view(*rpc, "mpc.near", {}, cache);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->state, first->state);
}

// ---------------------------------------------------------------- malformed

TEST(RpcClient, CallFunctionAnswersNestedPastTheLimitAreRefusedAtAnySize) {
  // An answer of 64 levels of objects around a value is read (the limit
  // check_json_limits had set); 65, and 100,000 (which would overflow the
  // stack of a recursive tree walk), are "not JSON-RPC", also when the
  // answer is far larger than the parser's first buffer.
  const std::string bytes = "[" + std::string(300'000, ' ') + "1]";
  auto answer = [&](std::size_t levels) {
    std::string nested;
    for (std::size_t i = 0; i < levels; ++i) nested += R"({"a":)";
    nested += "1" + std::string(levels, '}');
    return R"({"jsonrpc":"2.0","id":"1","result":{"result":)" + bytes + R"(,"deep":)" + nested + "}}";
  };
  for (const auto& [levels, ok] : std::vector<std::pair<std::size_t, bool>>{{62, true}, {63, false}, {100'000, false}, {62, true}}) {
    // The answer and its "result" are two more levels.
    const std::string body = answer(levels);
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->call_function("mpc.near", "state", json::object());
    ASSERT_EQ(r.has_value(), ok) << levels << " levels: " << (r ? std::string() : r.error().message);
    if (ok) {
      EXPECT_EQ(r->result, core::Bytes{1}) << levels;
      continue;
    }
    EXPECT_EQ(r.error().code, core::ErrorCode::kInternal) << levels;
    EXPECT_NE(r.error().message.find("not JSON-RPC"), std::string::npos) << r.error().message;
  }
}

TEST(RpcClient, MalformedAnswersAreInternalErrorsNeverCrashes) {
  const std::vector<std::string> bodies = {
      "not json",
      "[1,2,3]",
      R"({"jsonrpc":"2.0","id":"1"})",
      R"({"jsonrpc":"2.0","id":"1","result":{"header":{"height":-1,"hash":"x"}}})",
      R"({"jsonrpc":"2.0","id":"1","result":{"header":{"height":1,"hash":"0OIl"}}})",
      R"({"jsonrpc":"2.0","id":"1","result":{"header":{"height":1,"hash":"2222"}}})",
      R"({"jsonrpc":"2.0","id":"1","result":{"header":"x"}})",
      R"({"jsonrpc":"2.0","id":"1","result":"x"})",
      R"({"jsonrpc":"2.0","id":"999","result":{}})",
  };
  for (const auto& body : bodies) {
    FakeRpc fake([&](const std::string&, const json&, const json&) { return Canned{200, body}; });
    auto r = fake.client()->block_final();
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInternal) << body << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos);
  }
}

TEST(RpcClient, MalformedOutcomesAndResultsAreRejected) {
  EXPECT_FALSE(parse_outcome(json::parse(R"({"nostatus":1})")));
  EXPECT_FALSE(parse_outcome(json::parse(R"("x")")));
  auto bad64 = parse_outcome(json::parse(R"({"status":{"SuccessValue":"%%%"}})"));
  ASSERT_FALSE(bad64);
  EXPECT_EQ(bad64.error().code, core::ErrorCode::kInternal);
  EXPECT_FALSE(parse_outcome(json::parse(R"({"status":{"SuccessValue":5}})")));
  EXPECT_FALSE(parse_outcome(json::parse(R"({"status":{"Unknown":{}}})")));
  auto pending = parse_outcome(json::parse(R"({"status":"Started"})"));
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code, core::ErrorCode::kTimeout);

  FakeRpc fake(always([](const json& id) { return ok(id, {{"result", {1, 2, 300}}, {"logs", json::array()}}); }));
  auto r = fake.client()->call_function("mpc.near", "state", json::object());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInternal);
}

TEST(RpcClient, AnOverloadedGatewayIsUnavailable) {
  FakeRpc fake([](const std::string&, const json&, const json&) { return Canned{503, "<html>busy</html>"}; });
  auto r = fake.client()->status();
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_rpc_unreachable(r.error()));
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable) << r.error().message;
}

// ---------------------------------------------------------------- unreachable

// A port with nothing listening on it.
unsigned short closed_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed when `a` goes out of scope
}

TEST(RpcClient, UnreachableEndpointIsClassifiedAndNamesHostPortOnly) {
  const auto port = std::to_string(closed_port());
  auto rpc = RpcClient::create("http://127.0.0.1:" + port + "/v1/SECRET-API-KEY?token=SECRET",
                               RpcClientOptions{std::chrono::milliseconds(2000)});
  ASSERT_TRUE(rpc);
  auto r = (*rpc)->status();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  EXPECT_TRUE(is_rpc_unreachable(r.error()));
  EXPECT_EQ(r.error().message.rfind("RPC unreachable", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("127.0.0.1:" + port), std::string::npos);
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
}

TEST(RpcClient, ASilentEndpointTimesOut) {
  asio::io_context ioc;
  // Listening, never accepting: the connection completes (backlog) and no answer comes.
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  auto rpc = RpcClient::create("http://127.0.0.1:" + std::to_string(a.local_endpoint().port()),
                               RpcClientOptions{std::chrono::milliseconds(300)});
  ASSERT_TRUE(rpc);
  auto r = (*rpc)->status();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTimeout) << r.error().message;
}

TEST(RpcClient, BadUrlsAreRejectedWithoutEchoingThem) {
  for (const char* url : {"127.0.0.1:3030", "ftp://x", "http://", "http://host:99999", "http://ho st"}) {
    auto r = RpcClient::create(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.find(url), std::string::npos);
  }
}

// ---------------------------------------------------------------- signer

// A chain with one access key: checks nonces and signatures like a node does.
struct FakeChain {
  std::uint64_t ak_nonce = 10;
  int view_access_key_calls = 0;
  int reject_next_with_invalid_nonce = 0;
  std::vector<std::uint64_t> accepted_nonces;

  Canned handle(const std::string& method, const json& params, const json& id) {
    if (method == "block") return {200, ok(id, {{"header", {{"height", 5}, {"hash", kHash32}}}}).dump()};
    if (method == "query" && params.value("request_type", "") == "view_access_key") {
      ++view_access_key_calls;
      return {200, ok(id, {{"nonce", ak_nonce}, {"permission", "FullAccess"}}).dump()};
    }
    if (method == "send_tx") {
      auto stx = decode_signed_transaction(*core::base64_decode(params["signed_tx_base64"].get<std::string>()));
      if (!stx || !verify_signature(*stx)) {
        return {200, err(id, handler_error("INVALID_TRANSACTION", json::object(),
                                           {{"TxExecutionError", {{"InvalidTxError", "InvalidSignature"}}}}))
                         .dump()};
      }
      if (reject_next_with_invalid_nonce > 0) {
        --reject_next_with_invalid_nonce;
        ak_nonce += 3;  // another client used the key meanwhile
      }
      if (stx->transaction.nonce <= ak_nonce) {
        return {200, err(id, handler_error("INVALID_TRANSACTION", json::object(),
                                           {{"TxExecutionError",
                                             {{"InvalidTxError",
                                               {{"InvalidNonce", {{"tx_nonce", stx->transaction.nonce}, {"ak_nonce", ak_nonce}}}}}}}}))
                         .dump()};
      }
      ak_nonce = stx->transaction.nonce;
      accepted_nonces.push_back(ak_nonce);
      const auto* fc = std::get_if<FunctionCallAction>(&stx->transaction.actions.at(0));
      if (fc != nullptr && fc->method_name == "panic") {
        return {200, ok(id, outcome({{"Failure", {{"ActionError", {{"index", 0}, {"kind", {{"FunctionCallError", {{"ExecutionError", "Smart contract panicked: boom"}}}}}}}}}})).dump()};
      }
      return {200, ok(id, outcome({{"SuccessValue", core::base64_encode(core::as_bytes(R"({"echo":)" + std::string(fc ? core::to_string(fc->args) : "null") + "}"))}})).dump()};
    }
    return {404, "no"};
  }
};

TEST(Signer, FetchesTheNonceOnceThenCountsLocally) {
  FakeChain chain;
  std::mutex mu;
  FakeRpc fake([&](const std::string& m, const json& p, const json& id) {
    std::lock_guard l(mu);
    return chain.handle(m, p, id);
  });
  auto rpc = fake.client();
  Signer signer(*rpc, "node0.near", core::Ed25519SecretKey::generate());
  auto a = signer.call_function_json("mpc.near", "vote", json{{"v", 1}});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(*a, (json{{"echo", {{"v", 1}}}}));
  auto b = signer.call("mpc.near", "vote", json{{"v", 2}});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(chain.accepted_nonces, (std::vector<std::uint64_t>{11, 12}));
  EXPECT_EQ(chain.view_access_key_calls, 1);
}

TEST(Signer, RetriesOnceWithAFreshNonceAfterInvalidNonce) {
  FakeChain chain;
  chain.reject_next_with_invalid_nonce = 1;
  std::mutex mu;
  FakeRpc fake([&](const std::string& m, const json& p, const json& id) {
    std::lock_guard l(mu);
    return chain.handle(m, p, id);
  });
  auto rpc = fake.client();
  Signer signer(*rpc, "node0.near", core::Ed25519SecretKey::generate());
  auto r = signer.call("mpc.near", "vote", json::object());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(chain.accepted_nonces, (std::vector<std::uint64_t>{14}));
  EXPECT_EQ(chain.view_access_key_calls, 2);
}

TEST(Signer, AContractPanicSpendsTheNonceAndIsReported) {
  FakeChain chain;
  std::mutex mu;
  FakeRpc fake([&](const std::string& m, const json& p, const json& id) {
    std::lock_guard l(mu);
    return chain.handle(m, p, id);
  });
  auto rpc = fake.client();
  Signer signer(*rpc, "node0.near", core::Ed25519SecretKey::generate());
  auto r = signer.call("mpc.near", "panic", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_contract_panic(r.error()));
  EXPECT_EQ(r.error().message.rfind("contract panicked: boom", 0), 0u) << r.error().message;
  auto next = signer.call("mpc.near", "vote", json::object());
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(chain.accepted_nonces, (std::vector<std::uint64_t>{11, 12}));
  EXPECT_EQ(chain.view_access_key_calls, 1);
}

TEST(Signer, AnUnknownKeyIsPermissionDenied) {
  FakeRpc fake(always([](const json& id) {
    return err(id, handler_error("UNKNOWN_ACCESS_KEY", {{"public_key", "ed25519:x"}}));
  }));
  auto rpc = fake.client();
  Signer signer(*rpc, "node0.near", core::Ed25519SecretKey::generate());
  auto r = signer.call("mpc.near", "vote", json::object());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kPermissionDenied) << r.error().message;
}

}  // namespace
}  // namespace mpc::near
