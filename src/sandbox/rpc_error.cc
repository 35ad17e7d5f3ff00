#include "sandbox/rpc_error.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstring>

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

namespace {

// "0".."255" as nlohmann writes unsigned numbers, each with its length.
struct DecimalByte {
  std::array<char, 3> digits{};
  std::uint8_t length = 0;
};

constexpr std::array<DecimalByte, 256> make_decimal_bytes() {
  std::array<DecimalByte, 256> table{};
  for (int v = 0; v < 256; ++v) {
    auto& d = table[static_cast<std::size_t>(v)];
    if (v >= 100) d.digits[d.length++] = static_cast<char>('0' + v / 100);
    if (v >= 10) d.digits[d.length++] = static_cast<char>('0' + v / 10 % 10);
    d.digits[d.length++] = static_cast<char>('0' + v % 10);
  }
  return table;
}

constexpr std::array<DecimalByte, 256> kDecimalBytes = make_decimal_bytes();

// Appends b0,b1,... (no brackets).
void append_decimal_bytes(std::string& out, core::ByteView bytes) {
  const std::size_t start = out.size();
  // At most 3 digits and a comma each; written in place, never zero-filled.
  out.resize_and_overwrite(start + bytes.size() * 4, [&](char* data, std::size_t) {
    char* p = data + start;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i != 0) *p++ = ',';
      const DecimalByte& d = kDecimalBytes[bytes[i]];
      std::memcpy(p, d.digits.data(), 3);  // the table entry is 3 chars; only `length` of them count
      p += d.length;
    }
    return static_cast<std::size_t>(p - data);
  });
}

}  // namespace

std::string dump_bytes_result_answer(const json& id, json result, core::ByteView bytes) {
  // The answer with an empty array in place of the bytes: object keys are
  // written sorted, and "result" sorts last in both objects, so the text
  // ends with the empty array and its two closing braces. Anything else
  // (a key after "result" in `result`) takes the general path.
  result["result"] = json::array();
  std::string text = dump_answer(result_answer(id, std::move(result)));
  constexpr std::string_view kTail = R"("result":[]}})";
  if (!text.ends_with(kTail)) {
    json answer = json::parse(text);
    answer["result"]["result"] = json(core::Bytes(bytes.begin(), bytes.end()));
    return dump_answer(answer);
  }
  text.resize(text.size() - 3);  // up to and including '['
  text.reserve(text.size() + bytes.size() * 4 + 3);
  append_decimal_bytes(text, bytes);
  text += "]}}";
  return text;
}

std::string RpcAnswer::take_body() && { return rendered() ? std::move(body) : dump_answer(value); }

json RpcAnswer::take_value() && { return rendered() ? json::parse(body) : std::move(value); }

}  // namespace mpc::sandbox
