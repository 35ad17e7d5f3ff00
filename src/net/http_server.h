// An asynchronous HTTP/1.1 server on Boost.Beast (plain TCP).
//
// Every connection has a deadline for reading a whole request, a body size
// limit and a keep-alive idle limit; the number of open connections is
// capped; accept errors are logged and the listener keeps going. Handlers
// answer asynchronously, so a request that waits for something (a block, a
// peer) costs a callback, not a thread.
//
// Thread safety: start/stop from one thread; handlers run on the io_context
// threads and may call the Responder from any thread, exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "core/result.h"
#include "net/host_port.h"

namespace mpc::net {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest&&, Responder)>;

struct HttpServerOptions {
  std::size_t body_limit = 1 << 20;            // larger bodies get 413
  std::size_t header_limit = 16 << 10;         // larger headers get 431
  std::chrono::milliseconds request_timeout{10'000};  // to read one whole request
  std::chrono::milliseconds idle_timeout{30'000};     // between keep-alive requests
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t max_connections = 512;           // beyond this, new connections are closed at once
};

// A listen address: "HOST:PORT" (net::HostPort) where HOST is an IP literal
// or "localhost" (127.0.0.1); port 0 picks a free port. Errors name the text.
core::Result<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text);

// Opens, binds (SO_REUSEADDR) and listens; the error names the address and,
// for a busy port, says so. Returns the bound endpoint (port 0 picks one).
core::Result<boost::asio::ip::tcp::endpoint> bind_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                                           const boost::asio::ip::tcp::endpoint& endpoint);

HttpResponse make_response(unsigned status, std::string body, std::string content_type = "text/plain",
                           unsigned version = 11, bool keep_alive = true);

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  HttpServer(boost::asio::io_context& ioc, HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Port 0 picks a free port.
  core::Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Stops accepting; open connections finish their current exchange.
  void stop();

  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  class Connection;
  void do_accept();

  boost::asio::io_context& ioc_;
  HttpServerOptions options_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<std::size_t> open_connections_{0};
};

}  // namespace mpc::net
