// mpc-sandbox's JSON-RPC errors, byte for byte in NEAR's shape.
#include "sandbox/rpc_error.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

namespace mpc::sandbox {
namespace {

TEST(RpcError, AParseErrorIsARequestValidationError) {
  EXPECT_EQ(to_json(parse_error("the request has no string \"method\"")).dump(),
            R"({"cause":{"info":{"error_message":"the request has no string \"method\""},"name":"PARSE_ERROR"},)"
            R"("code":-32700,"data":"the request has no string \"method\"","message":"Parse error",)"
            R"("name":"REQUEST_VALIDATION_ERROR"})");
}

TEST(RpcError, AHandlerErrorAddsTheMessageToItsInfo) {
  EXPECT_EQ(to_json(handler_error("UNKNOWN_BLOCK", json::object(), "block 9 is not known")).dump(),
            R"({"cause":{"info":{"error_message":"block 9 is not known"},"name":"UNKNOWN_BLOCK"},"code":-32000,)"
            R"("data":"block 9 is not known","message":"Server error","name":"HANDLER_ERROR"})");
}

TEST(RpcError, ATimeoutNamesTheTransaction) {
  core::Hash256 h{};
  const json e = to_json(timeout_error(h));
  EXPECT_EQ(e["cause"]["name"], "TIMEOUT_ERROR");
  EXPECT_EQ(e["cause"]["info"], (json{{"transaction_hash", hash_to_base58(h)}}));
  EXPECT_EQ(e["data"], "timed out waiting for the transaction to become final");
}

TEST(RpcError, AnInvalidTransactionCarriesTheInvalidTxErrorAsDataAndInfo) {
  const json e = to_json(invalid_transaction(InvalidTx{invalid_tx::InvalidNonce{3, 7}}));
  EXPECT_EQ(e.dump(),
            R"({"cause":{"info":{"TxExecutionError":{"InvalidTxError":{"InvalidNonce":{"ak_nonce":7,"tx_nonce":3}}},)"
            R"("error_message":"nonce 3 must be greater than the access key's nonce 7"},"name":"INVALID_TRANSACTION"},)"
            R"("code":-32000,"data":{"TxExecutionError":{"InvalidTxError":{"InvalidNonce":{"ak_nonce":7,"tx_nonce":3}}}},)"
            R"("message":"Server error","name":"HANDLER_ERROR"})");
}

TEST(RpcError, AQueryErrorIsStampedWithItsBlockAndNamesTheAccount) {
  const json stamp = {{"block_height", 4}, {"block_hash", "abc"}};
  const json e = to_json(query_error(QueryError{QueryErrorKind::kUnknownAccount, "account x does not exist while viewing"}, stamp, "x"));
  EXPECT_EQ(e["cause"]["name"], "UNKNOWN_ACCOUNT");
  EXPECT_EQ(e["cause"]["info"], (json{{"block_height", 4}, {"block_hash", "abc"}, {"requested_account_id", "x"},
                                      {"error_message", "account x does not exist while viewing"}}));
  const json vm = to_json(query_error(QueryError{QueryErrorKind::kContractExecution, "wasm failed"}, stamp, "x"));
  EXPECT_EQ(vm["cause"]["name"], "CONTRACT_EXECUTION_ERROR");
  EXPECT_EQ(vm["cause"]["info"]["vm_error"], "wasm failed");
}

TEST(RpcError, AnswersAreJsonrpc2EnvelopesWithTheRequestsId) {
  EXPECT_EQ(result_answer("x", 5).dump(), R"({"id":"x","jsonrpc":"2.0","result":5})");
  EXPECT_EQ(error_answer(nullptr, method_not_found("m"))["id"], nullptr);
}

TEST(RpcError, AnAnswerWithTextThatIsNotUtf8IsStillSent) {
  EXPECT_EQ(dump_answer(json{{"data", "bad \xff"}}), "{\"data\":\"bad \xEF\xBF\xBD\"}");
}

// What dump_bytes_result_answer must equal: the answer built as a JSON value
// with one number per byte, dumped.
std::string slow_bytes_answer(const json& id, json result, const core::Bytes& bytes) {
  result["result"] = bytes;
  return dump_answer(result_answer(id, std::move(result)));
}

TEST(RpcError, ABytesResultIsRenderedExactlyAsTheJsonValueDumps) {
  core::Bytes every;
  for (int v = 0; v < 256; ++v) every.push_back(static_cast<std::uint8_t>(v));
  const json stamp = {{"block_height", 4}, {"block_hash", "5Xz"}};
  json with_logs = stamp;
  with_logs["logs"] = {"a log", "bad \xff", "\"quoted\""};
  for (const json& id : {json("bench"), json(7), json(nullptr), json{{"a", 1}}, json("\xfe")}) {
    for (const json& result : {stamp, with_logs, json::object()}) {
      for (const core::Bytes& bytes : {core::Bytes{}, core::Bytes{0}, core::Bytes{255}, core::Bytes{9, 10, 99, 100}, every}) {
        SCOPED_TRACE(dump_answer(id) + " " + dump_answer(result) + " " + std::to_string(bytes.size()) + " bytes");
        EXPECT_EQ(dump_bytes_result_answer(id, result, bytes), slow_bytes_answer(id, result, bytes));
      }
    }
  }
}

TEST(RpcError, ARandomBytesResultIsRenderedExactlyAsTheJsonValueDumps) {
  const auto seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 50; ++round) {
    core::Bytes bytes(std::uniform_int_distribution<std::size_t>(0, 5000)(rng));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    const json result = {{"block_height", rng()}, {"block_hash", std::to_string(rng())}, {"logs", json::array()}};
    ASSERT_EQ(dump_bytes_result_answer(round, result, bytes), slow_bytes_answer(round, result, bytes));
  }
}

TEST(RpcError, ABytesResultWithAKeyAfterResultIsStillRenderedExactly) {
  // "result" is not the last key here: the general path.
  const json result = {{"block_height", 1}, {"zzz", "after"}};
  EXPECT_EQ(dump_bytes_result_answer(1, result, core::Bytes{1, 2, 3}), slow_bytes_answer(1, result, core::Bytes{1, 2, 3}));
}

TEST(RpcError, ARenderedAnswerIsItsBodyAndParsesBackToItsValue) {
  const json result = {{"block_height", 4}, {"logs", json::array()}};
  RpcAnswer rendered{nullptr, dump_bytes_result_answer("x", result, core::Bytes{1, 200})};
  ASSERT_TRUE(rendered.rendered());
  const std::string body = rendered.body;
  EXPECT_EQ(RpcAnswer(rendered).take_body(), body);
  EXPECT_EQ(std::move(rendered).take_value(), json::parse(slow_bytes_answer("x", result, core::Bytes{1, 200})));
  RpcAnswer value{result_answer(1, 5), {}};
  EXPECT_FALSE(value.rendered());
  EXPECT_EQ(RpcAnswer(value).take_body(), R"({"id":1,"jsonrpc":"2.0","result":5})");
  EXPECT_EQ(std::move(value).take_value(), result_answer(1, 5));
}

}  // namespace
}  // namespace mpc::sandbox
