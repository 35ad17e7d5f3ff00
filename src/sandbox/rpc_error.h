// JSON-RPC errors of mpc-sandbox in NEAR's shape, rendered in one place:
//   {"name", "cause": {"name", "info"}, "code", "message", "data"}
// and the JSON-RPC 2.0 envelopes around results and errors.
#pragma once

#include <string>

#include "sandbox/chain.h"

namespace mpc::sandbox {

struct RpcError {
  std::string name;     // REQUEST_VALIDATION_ERROR or HANDLER_ERROR
  std::string cause;    // e.g. PARSE_ERROR, METHOD_NOT_FOUND, UNKNOWN_BLOCK, INVALID_TRANSACTION
  json info;            // cause.info
  int code = -32000;
  std::string message;  // "Parse error", "Method not found", "Server error"
  json data;
};

json to_json(const RpcError& error);

// REQUEST_VALIDATION_ERROR / PARSE_ERROR (-32700): the request (or one of
// its parameters) cannot be read. `text` says which and why.
RpcError parse_error(const std::string& text);
// REQUEST_VALIDATION_ERROR / METHOD_NOT_FOUND (-32601).
RpcError method_not_found(const std::string& method);
// HANDLER_ERROR (-32000) with `cause`; info gets "error_message": text.
RpcError handler_error(const std::string& cause, json info, const std::string& text);
// HANDLER_ERROR / TIMEOUT_ERROR: the transaction did not become final in time.
RpcError timeout_error(const core::Hash256& tx_hash);
// HANDLER_ERROR / INVALID_TRANSACTION, with the rejection as NEAR's
// {"TxExecutionError":{"InvalidTxError":...}}.
RpcError invalid_transaction(const InvalidTx& rejection);
// HANDLER_ERROR / UNKNOWN_ACCOUNT, NO_CONTRACT_CODE, ... of a query, with the
// block it was asked at (`stamp`: block_height, block_hash).
RpcError query_error(const QueryError& error, json stamp, const std::string& account_id);

// {"jsonrpc":"2.0","id":id,"result":result} and {..."error":...}.
json result_answer(const json& id, json result);
json error_answer(const json& id, const RpcError& error);

// The HTTP body of an answer. Never throws (text that is not UTF-8 is
// replaced); if serialising fails anyway, an INTERNAL_ERROR answer.
std::string dump_answer(const json& answer);

// The HTTP body of result_answer(id, result) where result["result"] holds
// `bytes` as NEAR's array of numbers (a call_function answer), byte for
// byte what dump_answer would write, rendered without a JSON value per byte
// (a 134 KB view would otherwise be 134,000 values built, copied, dumped and
// destroyed per call). A "result" already in `result` is replaced.
std::string dump_bytes_result_answer(const json& id, json result, core::ByteView bytes);

// An answer as RpcService hands it to its transport: a JSON value, or the
// HTTP body already rendered (dump_bytes_result_answer), never an error.
struct RpcAnswer {
  json value;
  std::string body;  // when not empty: the rendered answer, `value` unused
  bool rendered() const { return !body.empty(); }
  // The HTTP body (dump_answer of the value unless rendered).
  std::string take_body() &&;
  // The answer as a JSON value (a rendered one parsed back).
  json take_value() &&;
};

}  // namespace mpc::sandbox
