// The NEAR JSON-RPC subset of interop §7, served over HTTP by mpc-sandbox.
//
// Methods: status, block, query (view_account, view_access_key,
// view_access_key_list, call_function), send_tx, broadcast_tx_commit,
// broadcast_tx_async, tx, EXPERIMENTAL_tx_status, gas_price. Errors use
// NEAR's shapes ({"name","cause":{"name","info"},"code","message","data"}).
#pragma once

#include <boost/asio/io_context.hpp>

#include "net/http_server.h"
#include "sandbox/chain.h"

namespace mpc::sandbox {

struct RpcOptions {
  std::chrono::milliseconds wait_timeout{10'000};  // for send_tx / tx waits
  std::size_t max_body_bytes = 4 << 20;  // the request JSON (the HTTP layer refuses larger bodies first)
  std::size_t max_json_depth = 64;       // NEAR requests need ~5 levels; contract args are checked by the Chain
  std::size_t max_json_values = 10'000;  // NEAR requests hold a few dozen; bounds the parsed tree to ~1 MB
};

class RpcService {
 public:
  RpcService(boost::asio::io_context& ioc, Chain& chain, RpcOptions options = {});
  // An HttpHandler.
  void handle(net::HttpRequest&& request, net::Responder respond);

  // For tests: the JSON-RPC response for one request body. `respond` is
  // called exactly once, possibly later and from another thread; nothing
  // thrown while handling escapes (it is logged and answered INTERNAL_ERROR).
  void handle_body(const std::string& body, std::function<void(json)> respond);

 private:
  void dispatch(const std::string& body, const std::function<void(json)>& respond);

  boost::asio::io_context& ioc_;
  Chain& chain_;
  RpcOptions options_;
};

}  // namespace mpc::sandbox
