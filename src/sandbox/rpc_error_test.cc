// mpc-sandbox's JSON-RPC errors, byte for byte in NEAR's shape.
#include "sandbox/rpc_error.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mpc::sandbox
