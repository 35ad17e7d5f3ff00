#include "sandbox/rpc.h"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <set>

#include "core/json_limits.h"
#include "model/types.h"
#include "near/transaction.h"
#include "sandbox/rpc_error.h"

namespace mpc::sandbox {

namespace {

json block_view(const Block& b, const std::string& author) {
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

const json* string_param(const json& params, const char* name) {
  auto it = params.find(name);
  return it != params.end() && it->is_string() ? &*it : nullptr;
}

}  // namespace

// ---------------------------------------------------------------- requests and replies

struct RpcService::Request {
  json id;
  std::string method;
  json params;
};

class RpcService::Reply {
 public:
  Reply(json id, std::function<void(RpcAnswer)> send) : id_(std::move(id)), send_(std::move(send)) {}
  void result(json r) const { send_(RpcAnswer{result_answer(id_, std::move(r)), {}}); }
  // `r` with "result": `bytes` as an array of numbers, rendered straight
  // from the bytes (dump_bytes_result_answer).
  void bytes_result(json r, core::ByteView bytes) const {
    send_(RpcAnswer{nullptr, dump_bytes_result_answer(id_, std::move(r), bytes)});
  }
  void error(const RpcError& e) const { send_(RpcAnswer{error_answer(id_, e), {}}); }

 private:
  json id_;
  std::function<void(RpcAnswer)> send_;
};

struct RpcService::Query {
  const json& params;
  std::string account_id;
  json stamp;  // block_height, block_hash: the block the answer is for
};

// ---------------------------------------------------------------- the tables

const std::map<std::string, RpcService::Method, std::less<>>& RpcService::method_table() {
  static const std::map<std::string, Method, std::less<>> table = {
      {"status", &RpcService::status},
      {"gas_price", &RpcService::gas_price},
      {"block", &RpcService::block},
      {"query", &RpcService::query},
      {"send_tx", &RpcService::send_transaction},
      {"broadcast_tx_commit", &RpcService::send_transaction},
      {"broadcast_tx_async", &RpcService::send_transaction},
      {"tx", &RpcService::transaction_status},
      {"EXPERIMENTAL_tx_status", &RpcService::transaction_status},
  };
  return table;
}

const std::vector<std::pair<std::string, RpcService::QueryMethod>>& RpcService::query_table() {
  static const std::vector<std::pair<std::string, QueryMethod>> table = {
      {"view_account", &RpcService::view_account},
      {"view_access_key", &RpcService::view_access_key},
      {"view_access_key_list", &RpcService::view_access_key_list},
      {"call_function", &RpcService::call_function},
  };
  return table;
}

std::vector<std::string> RpcService::methods() {
  std::vector<std::string> names;
  for (const auto& [name, method] : method_table()) names.push_back(name);
  return names;
}

// ---------------------------------------------------------------- dispatch

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
  handle_answer(request.body().str(), [=](RpcAnswer a) {
    // nearcore answers a TIMEOUT_ERROR with HTTP 408, which NEAR clients
    // (near-api-js) retry: the transaction may still finish.
    const json& r = a.value;
    const bool timed_out = !a.rendered() && r.contains("error") && r["error"].is_object() && r["error"].contains("cause") &&
                           r["error"]["cause"].is_object() && r["error"]["cause"].value("name", "") == "TIMEOUT_ERROR";
    respond(net::make_response(timed_out ? 408 : 200, std::move(a).take_body(), "application/json", version, keep_alive));
  });
}

void RpcService::handle_body(const std::string& body, std::function<void(json)> respond) {
  handle_answer(body, [respond = std::move(respond)](RpcAnswer a) { respond(std::move(a).take_value()); });
}

void RpcService::handle_answer(const std::string& body, std::function<void(RpcAnswer)> respond) {
  // Exactly one answer; a respond that throws is logged, never propagated
  // into the thread that happens to call it (a block producer, a timer).
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto once = [answered, respond = std::move(respond)](RpcAnswer r) {
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
    once(RpcAnswer{error_answer(nullptr, handler_error("INTERNAL_ERROR", json::object(), "internal error while handling the request")), {}});
  }
}

void RpcService::dispatch(const std::string& body, const std::function<void(RpcAnswer)>& respond) {
  // Untrusted: size and nesting are checked before any tree is built (a
  // 100,000-deep body would overflow the stack in a copy or a dump).
  auto parsed = core::parse_json(body, core::JsonLimits{options_.max_body_bytes, options_.max_json_depth, options_.max_json_values});
  if (!parsed) {
    return respond(RpcAnswer{error_answer(nullptr, parse_error(parsed.error().message == core::kNotValidJson
                                                                   ? "the request body is not valid JSON"
                                                                   : "the request body: " + parsed.error().message)),
                             {}});
  }
  const json req = std::move(*parsed);
  if (!req.is_object()) {
    return respond(
        RpcAnswer{error_answer(nullptr, parse_error("the request must be a JSON-RPC 2.0 object (batches are not supported)")), {}});
  }
  Request request{req.value("id", json(nullptr)), "", req.value("params", json::object())};
  const Reply reply(request.id, respond);
  if (!req.contains("method") || !req["method"].is_string()) return reply.error(parse_error("the request has no string \"method\""));
  request.method = req["method"].get<std::string>();
  const auto& table = method_table();
  const auto method = table.find(request.method);
  if (method == table.end()) return reply.error(method_not_found(request.method));
  (this->*method->second)(request, reply);
}

// ---------------------------------------------------------------- chain and blocks

void RpcService::status(const Request&, const Reply& reply) {
  const Block head = chain_.head();
  reply.result(json{{"chain_id", chain_.chain_id()},
                    {"protocol_version", 73},
                    {"latest_protocol_version", 73},
                    {"version", {{"version", "mpc-sandbox"}, {"build", "mpc-sandbox"}}},
                    {"validators", json::array()},
                    {"sync_info",
                     {{"latest_block_hash", hash_to_base58(head.hash)},
                      {"latest_block_height", head.height},
                      {"latest_block_time", std::to_string(head.timestamp_ns)},
                      {"latest_state_root", "11111111111111111111111111111111"},
                      {"syncing", false}}}});
}

void RpcService::gas_price(const Request&, const Reply& reply) { reply.result(json{{"gas_price", "100000000"}}); }

void RpcService::block(const Request& request, const Reply& reply) {
  const json& params = request.params;
  if (params.is_array() && !params.empty()) {
    return reply.error(parse_error("block takes {\"finality\":...} or {\"block_id\":...}"));
  }
  if (!params.is_object() || !params.contains("block_id")) return reply.result(block_view(chain_.head(), chain_.chain_id()));
  const json& bid = params["block_id"];
  core::Result<std::optional<Block>> found = std::optional<Block>();
  if (auto height = model::json_u64(bid)) {
    found = chain_.block_by_height(*height);
  } else if (bid.is_string()) {
    auto hash = hash_from_base58(bid.get<std::string>());
    if (!hash) return reply.error(parse_error("block_id must be a height or a base58 block hash"));
    found = chain_.block_by_hash(*hash);
  } else {
    return reply.error(parse_error("block_id must be a height or a base58 block hash"));
  }
  if (!found) return reply.error(handler_error("INTERNAL_ERROR", json::object(), found.error().message));
  if (!*found) return reply.error(handler_error("UNKNOWN_BLOCK", json::object(), "block " + bid.dump() + " is not known"));
  reply.result(block_view(**found, chain_.chain_id()));
}

// ---------------------------------------------------------------- query

void RpcService::query(const Request& request, const Reply& reply) {
  const json& params = request.params;
  if (!params.is_object()) return reply.error(parse_error("query takes an object of parameters"));
  const json* type = string_param(params, "request_type");
  const json* account = string_param(params, "account_id");
  if (!type) return reply.error(parse_error("query needs a string \"request_type\""));
  if (!account) return reply.error(parse_error("query needs a string \"account_id\""));
  const Block head = chain_.head();
  const Query query{params, account->get<std::string>(), {{"block_height", head.height}, {"block_hash", hash_to_base58(head.hash)}}};
  const std::string request_type = type->get<std::string>();
  std::string supported;
  for (const auto& [name, method] : query_table()) {
    if (name == request_type) return (this->*method)(query, reply);
    supported += (supported.empty() ? "" : ", ") + name;
  }
  reply.error(parse_error("unsupported request_type \"" + request_type + "\" (supported: " + supported + ")"));
}

void RpcService::view_account(const Query& query, const Reply& reply) {
  auto a = chain_.view_account(query.account_id);
  if (!a) return reply.error(query_error(a.error(), query.stamp, query.account_id));
  json r = query.stamp;
  r["amount"] = core::u128_to_string(a->balance);
  r["locked"] = "0";
  r["code_hash"] = a->has_contract ? hash_to_base58(core::sha256(core::as_bytes("mpc-contract"))) : "11111111111111111111111111111111";
  r["storage_usage"] = 182;
  r["storage_paid_at"] = 0;
  reply.result(std::move(r));
}

void RpcService::view_access_key(const Query& query, const Reply& reply) {
  const json* pk = string_param(query.params, "public_key");
  if (!pk) return reply.error(parse_error("view_access_key needs a string \"public_key\""));
  auto key = core::NearPublicKey::parse(pk->get<std::string>());
  if (!key) return reply.error(parse_error("public_key: " + key.error().message));
  auto ak = chain_.view_access_key(query.account_id, *key);
  if (!ak) return reply.error(query_error(ak.error(), query.stamp, query.account_id));
  json r = access_key_to_json(*ak);
  r.update(query.stamp);
  reply.result(std::move(r));
}

void RpcService::view_access_key_list(const Query& query, const Reply& reply) {
  auto a = chain_.view_account(query.account_id);
  if (!a) return reply.error(query_error(a.error(), query.stamp, query.account_id));
  json keys = json::array();
  for (const auto& [pk, entry] : a->keys) keys.push_back({{"public_key", pk.to_string()}, {"access_key", access_key_to_json(entry)}});
  json r = query.stamp;
  r["keys"] = std::move(keys);
  reply.result(std::move(r));
}

void RpcService::call_function(const Query& query, const Reply& reply) {
  const json* method = string_param(query.params, "method_name");
  const json* args = string_param(query.params, "args_base64");
  if (!method) return reply.error(parse_error("call_function needs a string \"method_name\""));
  core::Bytes arg_bytes;
  if (args) {
    auto decoded = core::base64_decode(args->get<std::string>());
    if (!decoded) return reply.error(parse_error("args_base64: " + decoded.error().message));
    arg_bytes = std::move(*decoded);
  }
  auto out = chain_.call_view(query.account_id, method->get<std::string>(), arg_bytes);
  if (!out) return reply.error(query_error(out.error(), query.stamp, query.account_id));
  json r = query.stamp;
  r["logs"] = out->logs;
  reply.bytes_result(std::move(r), out->bytes());
}

// ---------------------------------------------------------------- transactions

std::optional<core::Hash256> RpcService::submit(const std::string& signed_tx_base64, const Reply& reply) {
  auto bytes = core::base64_decode(signed_tx_base64);
  if (!bytes) {
    reply.error(parse_error("the signed transaction is not valid base64: " + bytes.error().message));
    return std::nullopt;
  }
  auto hash = chain_.submit(*bytes);
  if (!hash) {
    reply.error(invalid_transaction(hash.error()));
    return std::nullopt;
  }
  return *hash;
}

void RpcService::answer_when_final(const core::Hash256& hash, Chain::TxWait wait, const Reply& reply) {
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, options_.wait_timeout);
  auto wait_id = std::make_shared<std::atomic<std::uint64_t>>(0);
  // Both completions are catch-and-log boundaries (the second one runs in
  // the block producer); replies never throw. A wait that times out is
  // forgotten by the chain (a yielded call may wait for 200 blocks).
  timer->async_wait([once, reply, hash, wait_id, chain = &chain_](boost::system::error_code ec) {
    if (ec || once->exchange(true)) return;
    try {
      if (const std::uint64_t id = wait_id->load(); id != 0) chain->cancel_wait(hash, id);
      reply.error(timeout_error(hash));
    } catch (const std::exception& e) {
      spdlog::error("rpc: answering a wait that timed out threw: {}", e.what());
    }
  });
  const std::uint64_t id = chain_.when_final(hash, wait, [once, reply, timer, hash](std::optional<TxRecord> rec) {
    if (once->exchange(true)) return;
    timer->cancel();
    try {
      if (!rec) {
        return reply.error(handler_error("UNKNOWN_TRANSACTION", {{"requested_transaction", hash_to_base58(hash)}},
                                         "transaction " + hash_to_base58(hash) + " is not known"));
      }
      if (!rec->outcome.is_object()) {
        return reply.error(handler_error("INTERNAL_ERROR", json::object(),
                                         "the stored outcome of transaction " + hash_to_base58(hash) + " cannot be read"));
      }
      json r = rec->outcome;
      // A yielded call not resumed yet: included in a final block, its
      // callback receipt still to run (nearcore's INCLUDED_FINAL).
      r["final_execution_status"] = rec->finished() ? "FINAL" : "INCLUDED_FINAL";
      reply.result(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("rpc: answering a final transaction threw: {}", e.what());
      reply.error(handler_error("INTERNAL_ERROR", json::object(), "internal error while reading the transaction outcome"));
    }
  });
  wait_id->store(id);
  // The timer may have fired before the id was known: forget the waiter now.
  if (id != 0 && once->load()) chain_.cancel_wait(hash, id);
}

namespace {

const std::set<std::string> kWaits = {"NONE", "INCLUDED", "EXECUTED_OPTIMISTIC", "INCLUDED_FINAL", "EXECUTED", "FINAL"};

// nearcore's TxExecutionStatus order: NONE < INCLUDED < EXECUTED_OPTIMISTIC <
// INCLUDED_FINAL < EXECUTED < FINAL. Blocks here are final when committed,
// so a wait is for inclusion or for the end of execution.
Chain::TxWait wait_for(const std::string& wait_until) {
  return wait_until == "NONE" || wait_until == "INCLUDED" || wait_until == "INCLUDED_FINAL" ? Chain::TxWait::kIncluded
                                                                                              : Chain::TxWait::kExecuted;
}

}  // namespace

void RpcService::send_transaction(const Request& request, const Reply& reply) {
  const json& params = request.params;
  const bool async = request.method == "broadcast_tx_async";
  std::string b64;
  std::string wait_until = async ? "NONE" : "FINAL";
  if (params.is_array() && params.size() == 1 && params[0].is_string()) {
    b64 = params[0].get<std::string>();
  } else if (params.is_object() && string_param(params, "signed_tx_base64")) {
    b64 = params["signed_tx_base64"].get<std::string>();
    if (const json* w = string_param(params, "wait_until")) wait_until = w->get<std::string>();
  } else {
    return reply.error(parse_error(request.method + " takes {\"signed_tx_base64\":...} or [\"<base64>\"]"));
  }
  if (!kWaits.contains(wait_until)) return reply.error(parse_error("unknown wait_until \"" + wait_until + "\""));
  auto hash = submit(b64, reply);
  if (!hash) return;
  if (async) return reply.result(hash_to_base58(*hash));
  if (wait_until == "NONE") return reply.result(json{{"final_execution_status", "NONE"}});
  answer_when_final(*hash, wait_for(wait_until), reply);
}

void RpcService::transaction_status(const Request& request, const Reply& reply) {
  const json& params = request.params;
  std::string hash_text;
  std::string wait_until = "EXECUTED_OPTIMISTIC";
  if (params.is_array() && params.size() >= 1 && params[0].is_string()) {
    hash_text = params[0].get<std::string>();
  } else if (params.is_object() && string_param(params, "tx_hash")) {
    hash_text = params["tx_hash"].get<std::string>();
    if (const json* w = string_param(params, "wait_until")) wait_until = w->get<std::string>();
  } else if (params.is_object() && string_param(params, "signed_tx_base64")) {
    auto bytes = core::base64_decode(params["signed_tx_base64"].get<std::string>());
    if (!bytes) return reply.error(parse_error("signed_tx_base64 is not valid base64"));
    auto decoded = near::decode_signed_transaction(*bytes);
    if (!decoded) return reply.error(parse_error("signed_tx_base64: " + decoded.error().message));
    hash_text = hash_to_base58(near::transaction_hash(decoded->transaction));
  } else {
    return reply.error(
        parse_error(request.method + " takes [\"<tx hash>\", \"<sender>\"] or {\"tx_hash\",\"sender_account_id\"}"));
  }
  auto hash = hash_from_base58(hash_text);
  if (!hash) return reply.error(parse_error("tx_hash must be a base58 transaction hash"));
  if (!kWaits.contains(wait_until)) return reply.error(parse_error("unknown wait_until \"" + wait_until + "\""));
  if (chain_.is_pending(*hash) && wait_until == "NONE") return reply.result(json{{"final_execution_status", "INCLUDED"}});
  answer_when_final(*hash, wait_for(wait_until), reply);
}

}  // namespace mpc::sandbox
