// The NEAR JSON-RPC subset of interop §7, served over HTTP by mpc-sandbox.
//
// Methods: status, block, query (view_account, view_access_key,
// view_access_key_list, call_function), send_tx, broadcast_tx_commit,
// broadcast_tx_async, tx, EXPERIMENTAL_tx_status, gas_price: a table from
// method name to handler (rpc.cc). Errors use NEAR's shapes
// ({"name","cause":{"name","info"},"code","message","data"}), rendered in
// rpc_error.h.
#pragma once

#include <boost/asio/io_context.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/http_server.h"
#include "sandbox/chain.h"
#include "sandbox/rpc_error.h"

namespace mpc::sandbox {

struct RpcOptions {
  std::chrono::milliseconds wait_timeout{10'000};  // for send_tx / tx waits (nearcore's polling_timeout)
  std::size_t max_body_bytes = 4 << 20;  // the request JSON (the HTTP layer refuses larger bodies first)
  std::size_t max_json_depth = 64;       // NEAR requests need ~5 levels; contract args are checked by the Chain
  std::size_t max_json_values = 10'000;  // NEAR requests hold a few dozen; bounds the parsed tree to ~1 MB
};

class RpcService {
 public:
  RpcService(boost::asio::io_context& ioc, Chain& chain, RpcOptions options = {});
  // An HttpHandler.
  void handle(net::HttpRequest&& request, net::Responder respond);

  // The JSON-RPC response for one request body. `respond` is called
  // exactly once, possibly later and from another thread; nothing thrown
  // while handling escapes (it is logged and answered INTERNAL_ERROR).
  void handle_answer(const std::string& body, std::function<void(RpcAnswer)> respond);
  // For tests: the same, the answer as a JSON value.
  void handle_body(const std::string& body, std::function<void(json)> respond);

  // The JSON-RPC methods served (the method table's keys), in name order.
  static std::vector<std::string> methods();

 private:
  struct Request;  // a parsed JSON-RPC request: id, method, params
  class Reply;     // answers one request, with a result or an RpcError
  struct Query;    // a `query` request: its params, account_id and block stamp
  using Method = void (RpcService::*)(const Request&, const Reply&);
  using QueryMethod = void (RpcService::*)(const Query&, const Reply&);
  static const std::map<std::string, Method, std::less<>>& method_table();
  static const std::vector<std::pair<std::string, QueryMethod>>& query_table();

  void dispatch(const std::string& body, const std::function<void(RpcAnswer)>& respond);

  // The methods.
  void status(const Request& request, const Reply& reply);
  void gas_price(const Request& request, const Reply& reply);
  void block(const Request& request, const Reply& reply);
  void query(const Request& request, const Reply& reply);
  void send_transaction(const Request& request, const Reply& reply);    // send_tx, broadcast_tx_commit, broadcast_tx_async
  void transaction_status(const Request& request, const Reply& reply);  // tx, EXPERIMENTAL_tx_status
  // query's request types.
  void view_account(const Query& query, const Reply& reply);
  void view_access_key(const Query& query, const Reply& reply);
  void view_access_key_list(const Query& query, const Reply& reply);
  void call_function(const Query& query, const Reply& reply);

  // Submits a base64 signed transaction; on failure answers the error.
  std::optional<core::Hash256> submit(const std::string& signed_tx_base64, const Reply& reply);
  // Answers the transaction's outcome once it is included (kIncluded: a
  // yielded call's partial outcome, final_execution_status INCLUDED_FINAL)
  // or has finished executing (kExecuted: FINAL), or TIMEOUT_ERROR after
  // wait_timeout (HTTP 408, as nearcore answers it).
  void answer_when_final(const core::Hash256& hash, Chain::TxWait wait, const Reply& reply);

  boost::asio::io_context& ioc_;
  Chain& chain_;
  RpcOptions options_;
};

}  // namespace mpc::sandbox
