#include "sandbox/rpc.h"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <set>

#include "core/json_limits.h"
#include "core/types.h"
#include "near/transaction.h"

namespace mpc::sandbox {

namespace {

using Reply = std::function<void(json)>;

// A JSON-RPC error object in NEAR's shape.
json near_error(const std::string& name, const std::string& cause, json info, int code, const std::string& message,
                json data) {
  return json{{"name", name}, {"cause", {{"name", cause}, {"info", std::move(info)}}}, {"code", code},
              {"message", message}, {"data", std::move(data)}};
}

json request_validation_error(const std::string& cause, const std::string& text) {
  return near_error("REQUEST_VALIDATION_ERROR", cause, {{"error_message", text}}, cause == "PARSE_ERROR" ? -32700 : -32602,
                    cause == "PARSE_ERROR" ? "Parse error" : "Invalid params", text);
}

// The HTTP body of an answer. Never throws on text that is not UTF-8.
std::string dump_answer(const json& r) {
  try {
    return r.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    spdlog::error("rpc: serialising an answer threw: {}", e.what());
    return R"({"jsonrpc":"2.0","id":null,"error":{"name":"HANDLER_ERROR","cause":{"name":"INTERNAL_ERROR","info":{}},)"
           R"("code":-32000,"message":"Server error","data":"internal error"}})";
  }
}

json handler_error(const std::string& cause, json info, const std::string& text) {
  info["error_message"] = text;
  return near_error("HANDLER_ERROR", cause, std::move(info), -32000, "Server error", text);
}

json block_view(const Block& b, const std::string& author) {
  json txs = json::array();
  return json{{"author", author},
              {"chunks", json::array()},
              {"header",
               {{"height", b.height},
                {"prev_height", b.height > 1 ? json(b.height - 1) : json(nullptr)},
                {"hash", hash_to_base58(b.hash)},
                {"prev_hash", hash_to_base58(b.prev_hash)},
                {"timestamp", b.timestamp_ns},
                {"timestamp_nanosec", std::to_string(b.timestamp_ns)},
                {"epoch_id", "11111111111111111111111111111111"},
                {"next_epoch_id", "11111111111111111111111111111111"},
                {"gas_price", "100000000"},
                {"chunks_included", 0},
                {"latest_protocol_version", 73},
                {"tx_count", b.tx_hashes.size()}}}};
}

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

const json* string_param(const json& params, const char* name) {
  auto it = params.find(name);
  return it != params.end() && it->is_string() ? &*it : nullptr;
}

}  // namespace

RpcService::RpcService(boost::asio::io_context& ioc, Chain& chain, RpcOptions options)
    : ioc_(ioc), chain_(chain), options_(options) {}

void RpcService::handle(net::HttpRequest&& request, net::Responder respond) {
  namespace http = boost::beast::http;
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  if (request.method() == http::verb::get && (request.target() == "/status" || request.target() == "/health")) {
    handle_body(R"({"jsonrpc":"2.0","id":"health","method":"status","params":[]})", [=](json r) {
      respond(net::make_response(200, dump_answer(r.value("result", json::object())), "application/json", version, keep_alive));
    });
    return;
  }
  if (request.method() != http::verb::post) {
    respond(net::make_response(405, "mpc-sandbox speaks NEAR JSON-RPC: send POST requests with a JSON body\n",
                               "text/plain", version, keep_alive));
    return;
  }
  handle_body(request.body(), [=](json r) {
    respond(net::make_response(200, dump_answer(r), "application/json", version, keep_alive));
  });
}

void RpcService::handle_body(const std::string& body, std::function<void(json)> respond) {
  // Exactly one answer; a respond that throws is logged, never propagated
  // into the thread that happens to call it (a block producer, a timer).
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto once = [answered, respond = std::move(respond)](json r) {
    if (answered->exchange(true)) return;
    try {
      respond(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("rpc: sending an answer threw: {}", e.what());
    }
  };
  try {
    dispatch(body, once);
  } catch (const std::exception& e) {
    spdlog::error("rpc: handling a request threw: {}", e.what());
    once(json{{"jsonrpc", "2.0"},
              {"id", nullptr},
              {"error", handler_error("INTERNAL_ERROR", json::object(), "internal error while handling the request")}});
  }
}

void RpcService::dispatch(const std::string& body, const std::function<void(json)>& respond) {
  json id = nullptr;
  auto reply_error = [&](json error) { respond(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}}); };
  // Untrusted: size and nesting are checked before any tree is built (a
  // 100,000-deep body would overflow the stack in a copy or a dump).
  auto parsed = core::parse_json(body, core::JsonLimits{options_.max_body_bytes, options_.max_json_depth, options_.max_json_values});
  if (!parsed) {
    return reply_error(request_validation_error(
        "PARSE_ERROR", parsed.error().message == core::kNotValidJson ? "the request body is not valid JSON"
                                                                     : "the request body: " + parsed.error().message));
  }
  const json req = std::move(*parsed);
  if (!req.is_object()) return reply_error(request_validation_error("PARSE_ERROR", "the request must be a JSON-RPC 2.0 object (batches are not supported)"));
  id = req.value("id", json(nullptr));
  if (!req.contains("method") || !req["method"].is_string()) {
    return reply_error(request_validation_error("PARSE_ERROR", "the request has no string \"method\""));
  }
  const std::string method = req["method"].get<std::string>();
  const json params = req.value("params", json::object());
  Reply ok = [respond, id](json result) { respond(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}); };
  Reply err = [respond, id](json error) { respond(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}}); };

  const Block head = chain_.head();
  const std::string head_hash = hash_to_base58(head.hash);

  if (method == "status") {
    return ok(json{{"chain_id", chain_.chain_id()},
                   {"protocol_version", 73},
                   {"latest_protocol_version", 73},
                   {"version", {{"version", "mpc-sandbox"}, {"build", "mpc-sandbox"}}},
                   {"validators", json::array()},
                   {"sync_info",
                    {{"latest_block_hash", head_hash},
                     {"latest_block_height", head.height},
                     {"latest_block_time", std::to_string(head.timestamp_ns)},
                     {"latest_state_root", "11111111111111111111111111111111"},
                     {"syncing", false}}}});
  }
  if (method == "gas_price") return ok(json{{"gas_price", "100000000"}});

  if (method == "block") {
    std::optional<Block> block = head;
    if (params.is_object() && params.contains("block_id")) {
      const json& bid = params["block_id"];
      core::Result<std::optional<Block>> found = std::optional<Block>();
      if (auto height = core::json_u64(bid)) {
        found = chain_.block_by_height(*height);
      } else if (bid.is_string()) {
        auto h = hash_from_base58(bid.get<std::string>());
        if (!h) return err(request_validation_error("PARSE_ERROR", "block_id must be a height or a base58 block hash"));
        found = chain_.block_by_hash(*h);
      } else {
        return err(request_validation_error("PARSE_ERROR", "block_id must be a height or a base58 block hash"));
      }
      if (!found) return err(handler_error("INTERNAL_ERROR", json::object(), found.error().message));
      block = *found;
      if (!block) return err(handler_error("UNKNOWN_BLOCK", json::object(), "block " + bid.dump() + " is not known"));
    } else if (params.is_array() && !params.empty()) {
      return err(request_validation_error("PARSE_ERROR", "block takes {\"finality\":...} or {\"block_id\":...}"));
    }
    return ok(block_view(*block, chain_.chain_id()));
  }

  if (method == "query") {
    if (!params.is_object()) return err(request_validation_error("PARSE_ERROR", "query takes an object of parameters"));
    const json* type = string_param(params, "request_type");
    const json* account = string_param(params, "account_id");
    if (!type) return err(request_validation_error("PARSE_ERROR", "query needs a string \"request_type\""));
    if (!account) return err(request_validation_error("PARSE_ERROR", "query needs a string \"account_id\""));
    const std::string account_id = account->get<std::string>();
    json stamp = {{"block_height", head.height}, {"block_hash", head_hash}};
    auto query_err = [&](const QueryError& e) {
      json info = stamp;
      if (e.kind == QueryErrorKind::kUnknownAccount) info["requested_account_id"] = account_id;
      if (e.kind == QueryErrorKind::kContractExecution) info["vm_error"] = e.message;
      err(handler_error(query_error_cause(e.kind), info, e.message));
    };
    const std::string rt = type->get<std::string>();
    if (rt == "view_account") {
      auto a = chain_.view_account(account_id);
      if (!a) return query_err(a.error());
      json r = stamp;
      r["amount"] = core::u128_to_string(a->balance);
      r["locked"] = "0";
      r["code_hash"] = a->has_contract ? hash_to_base58(core::sha256(core::as_bytes("mpc-contract"))) : "11111111111111111111111111111111";
      r["storage_usage"] = 182;
      r["storage_paid_at"] = 0;
      return ok(r);
    }
    if (rt == "view_access_key") {
      const json* pk = string_param(params, "public_key");
      if (!pk) return err(request_validation_error("PARSE_ERROR", "view_access_key needs a string \"public_key\""));
      auto key = core::NearPublicKey::parse(pk->get<std::string>());
      if (!key) return err(request_validation_error("PARSE_ERROR", "public_key: " + key.error().message));
      auto ak = chain_.view_access_key(account_id, *key);
      if (!ak) return query_err(ak.error());
      json r = access_key_to_json(*ak);
      r.update(stamp);
      return ok(r);
    }
    if (rt == "view_access_key_list") {
      auto a = chain_.view_account(account_id);
      if (!a) return query_err(a.error());
      json keys = json::array();
      for (const auto& [pk, entry] : a->keys) keys.push_back({{"public_key", pk.to_string()}, {"access_key", access_key_to_json(entry)}});
      json r = stamp;
      r["keys"] = keys;
      return ok(r);
    }
    if (rt == "call_function") {
      const json* m = string_param(params, "method_name");
      const json* args = string_param(params, "args_base64");
      if (!m) return err(request_validation_error("PARSE_ERROR", "call_function needs a string \"method_name\""));
      core::Bytes arg_bytes;
      if (args) {
        auto decoded = core::base64_decode(args->get<std::string>());
        if (!decoded) return err(request_validation_error("PARSE_ERROR", "args_base64: " + decoded.error().message));
        arg_bytes = std::move(*decoded);
      }
      auto out = chain_.call_view(account_id, m->get<std::string>(), arg_bytes);
      if (!out) return query_err(out.error());
      json r = stamp;
      r["result"] = out->result;
      r["logs"] = out->logs;
      return ok(r);
    }
    return err(request_validation_error("PARSE_ERROR", "unsupported request_type \"" + rt +
                                                           "\" (supported: view_account, view_access_key, "
                                                           "view_access_key_list, call_function)"));
  }

  // ---- transactions ----
  auto with_final = [this, ok, err](const core::Hash256& hash) {
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, options_.wait_timeout);
    // Both completions are catch-and-log boundaries (the second one runs in
    // the block producer); err/ok never throw.
    timer->async_wait([once, err, hash](boost::system::error_code ec) {
      if (ec || once->exchange(true)) return;
      try {
        err(near_error("HANDLER_ERROR", "TIMEOUT_ERROR", {{"transaction_hash", hash_to_base58(hash)}}, -32000,
                       "Server error", "timed out waiting for the transaction to become final"));
      } catch (const std::exception& e) {
        spdlog::error("rpc: answering a wait that timed out threw: {}", e.what());
      }
    });
    chain_.when_final(hash, [once, ok, err, timer, hash](std::optional<TxRecord> rec) {
      if (once->exchange(true)) return;
      timer->cancel();
      try {
        if (!rec) {
          return err(handler_error("UNKNOWN_TRANSACTION", {{"requested_transaction", hash_to_base58(hash)}},
                                   "transaction " + hash_to_base58(hash) + " is not known"));
        }
        if (!rec->outcome.is_object()) {
          return err(handler_error("INTERNAL_ERROR", json::object(),
                                   "the stored outcome of transaction " + hash_to_base58(hash) + " cannot be read"));
        }
        json r = rec->outcome;
        r["final_execution_status"] = "FINAL";
        ok(r);
      } catch (const std::exception& e) {
        spdlog::error("rpc: answering a final transaction threw: {}", e.what());
        err(handler_error("INTERNAL_ERROR", json::object(), "internal error while reading the transaction outcome"));
      }
    });
  };

  auto submit = [&](const std::string& b64) -> std::optional<core::Hash256> {
    auto bytes = core::base64_decode(b64);
    if (!bytes) {
      err(request_validation_error("PARSE_ERROR", "the signed transaction is not valid base64: " + bytes.error().message));
      return std::nullopt;
    }
    auto hash = chain_.submit(*bytes);
    if (!hash) {
      json data = {{"TxExecutionError", {{"InvalidTxError", hash.error().to_json()}}}};
      json info = data;
      err(near_error("HANDLER_ERROR", "INVALID_TRANSACTION", [&] { info["error_message"] = hash.error().message(); return info; }(),
                     -32000, "Server error", data));
      return std::nullopt;
    }
    return *hash;
  };

  if (method == "send_tx" || method == "broadcast_tx_commit" || method == "broadcast_tx_async") {
    std::string b64;
    std::string wait_until = method == "broadcast_tx_async" ? "NONE" : "FINAL";
    if (params.is_array() && params.size() == 1 && params[0].is_string()) {
      b64 = params[0].get<std::string>();
    } else if (params.is_object() && string_param(params, "signed_tx_base64")) {
      b64 = params["signed_tx_base64"].get<std::string>();
      if (const json* w = string_param(params, "wait_until")) wait_until = w->get<std::string>();
    } else {
      return err(request_validation_error("PARSE_ERROR", method + " takes {\"signed_tx_base64\":...} or [\"<base64>\"]"));
    }
    static const std::set<std::string> kWaits = {"NONE", "INCLUDED", "EXECUTED_OPTIMISTIC", "INCLUDED_FINAL", "EXECUTED", "FINAL"};
    if (!kWaits.contains(wait_until)) return err(request_validation_error("PARSE_ERROR", "unknown wait_until \"" + wait_until + "\""));
    auto hash = submit(b64);
    if (!hash) return;
    if (method == "broadcast_tx_async") return ok(hash_to_base58(*hash));
    if (wait_until == "NONE") return ok(json{{"final_execution_status", "NONE"}});
    return with_final(*hash);
  }

  if (method == "tx" || method == "EXPERIMENTAL_tx_status") {
    std::string hash_text;
    std::string wait_until = "EXECUTED_OPTIMISTIC";
    if (params.is_array() && params.size() >= 1 && params[0].is_string()) {
      hash_text = params[0].get<std::string>();
    } else if (params.is_object() && string_param(params, "tx_hash")) {
      hash_text = params["tx_hash"].get<std::string>();
      if (const json* w = string_param(params, "wait_until")) wait_until = w->get<std::string>();
    } else if (params.is_object() && string_param(params, "signed_tx_base64")) {
      auto bytes = core::base64_decode(params["signed_tx_base64"].get<std::string>());
      if (!bytes) return err(request_validation_error("PARSE_ERROR", "signed_tx_base64 is not valid base64"));
      auto decoded = near::decode_signed_transaction(*bytes);
      if (!decoded) return err(request_validation_error("PARSE_ERROR", "signed_tx_base64: " + decoded.error().message));
      hash_text = hash_to_base58(core::sha256(near::encode_transaction(decoded->transaction)));
    } else {
      return err(request_validation_error("PARSE_ERROR", method + " takes [\"<tx hash>\", \"<sender>\"] or {\"tx_hash\",\"sender_account_id\"}"));
    }
    auto hash = hash_from_base58(hash_text);
    if (!hash) return err(request_validation_error("PARSE_ERROR", "tx_hash must be a base58 transaction hash"));
    if (chain_.is_pending(*hash) && wait_until == "NONE") return ok(json{{"final_execution_status", "INCLUDED"}});
    return with_final(*hash);
  }

  return err(near_error("REQUEST_VALIDATION_ERROR", "METHOD_NOT_FOUND", {{"method_name", method}}, -32601,
                        "Method not found", "method \"" + method + "\" is not served by mpc-sandbox"));
}

}  // namespace mpc::sandbox
