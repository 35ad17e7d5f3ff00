#include "sandbox/rpc_error.h"

#include <spdlog/spdlog.h>

namespace mpc::sandbox {

namespace {

std::string query_error_cause(QueryErrorKind kind) {
  switch (kind) {
    case QueryErrorKind::kUnknownAccount: return "UNKNOWN_ACCOUNT";
    case QueryErrorKind::kUnknownAccessKey: return "UNKNOWN_ACCESS_KEY";
    case QueryErrorKind::kNoContractCode: return "NO_CONTRACT_CODE";
    case QueryErrorKind::kContractExecution: return "CONTRACT_EXECUTION_ERROR";
    case QueryErrorKind::kInvalidArgs: return "PARSE_ERROR";
  }
  return "INTERNAL_ERROR";
}

}  // namespace

json to_json(const RpcError& e) {
  return json{{"name", e.name}, {"cause", {{"name", e.cause}, {"info", e.info}}}, {"code", e.code},
              {"message", e.message}, {"data", e.data}};
}

RpcError parse_error(const std::string& text) {
  return RpcError{"REQUEST_VALIDATION_ERROR", "PARSE_ERROR", {{"error_message", text}}, -32700, "Parse error", text};
}

RpcError method_not_found(const std::string& method) {
  return RpcError{"REQUEST_VALIDATION_ERROR", "METHOD_NOT_FOUND", {{"method_name", method}}, -32601, "Method not found",
                  "method \"" + method + "\" is not served by mpc-sandbox"};
}

RpcError handler_error(const std::string& cause, json info, const std::string& text) {
  info["error_message"] = text;
  return RpcError{"HANDLER_ERROR", cause, std::move(info), -32000, "Server error", text};
}

RpcError timeout_error(const core::Hash256& tx_hash) {
  return RpcError{"HANDLER_ERROR", "TIMEOUT_ERROR", {{"transaction_hash", hash_to_base58(tx_hash)}}, -32000, "Server error",
                  "timed out waiting for the transaction to become final"};
}

RpcError invalid_transaction(const InvalidTx& rejection) {
  json data = {{"TxExecutionError", {{"InvalidTxError", rejection.to_json()}}}};
  json info = data;
  info["error_message"] = rejection.message();
  return RpcError{"HANDLER_ERROR", "INVALID_TRANSACTION", std::move(info), -32000, "Server error", std::move(data)};
}

RpcError query_error(const QueryError& error, json stamp, const std::string& account_id) {
  if (error.kind == QueryErrorKind::kUnknownAccount) stamp["requested_account_id"] = account_id;
  if (error.kind == QueryErrorKind::kContractExecution) stamp["vm_error"] = error.message;
  return handler_error(query_error_cause(error.kind), std::move(stamp), error.message);
}

json result_answer(const json& id, json result) { return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}; }

json error_answer(const json& id, const RpcError& error) { return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", to_json(error)}}; }

std::string dump_answer(const json& answer) {
  try {
    return answer.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    spdlog::error("rpc: serialising an answer threw: {}", e.what());
    return R"({"jsonrpc":"2.0","id":null,"error":{"name":"HANDLER_ERROR","cause":{"name":"INTERNAL_ERROR","info":{}},)"
           R"("code":-32000,"message":"Server error","data":"internal error"}})";
  }
}

}  // namespace mpc::sandbox
