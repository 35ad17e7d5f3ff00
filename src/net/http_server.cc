#include "net/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

core::Result<tcp::endpoint> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return core::invalid("address \"" + text + "\" must be HOST:PORT, e.g. 127.0.0.1:3030");
  }
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return core::invalid("address \"" + text + "\" has an invalid port");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code bec;
  auto addr = asio::ip::make_address(host, bec);
  if (bec) return core::invalid("address \"" + text + "\" has an invalid IP address (use a numeric address)");
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

HttpResponse make_response(unsigned status, std::string body, std::string content_type, unsigned version,
                           bool keep_alive) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::server, "mpc-backup");
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<HttpServer> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  ~Connection() { server_->open_connections_.fetch_sub(1); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(true); });
  }

 private:
  void read_request(bool first) {
    parser_.emplace();
    parser_->body_limit(server_->options_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(server_->options_.header_limit));
    stream_.expires_after(first ? server_->options_.request_timeout : server_->options_.idle_timeout);
    if (!first) {
      // The idle limit covers the wait for the next request's first byte;
      // once it starts, the request timeout applies.
      stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->close();
        self->stream_.expires_after(self->server_->options_.request_timeout);
        self->do_read();
      });
      return;
    }
    do_read();
  }

  void do_read() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return send_error(413, "request body is larger than the limit of " +
                                 std::to_string(server_->options_.body_limit) + " bytes\n");
    }
    if (ec == http::error::header_limit) return send_error(431, "request headers are too large\n");
    if (ec) return send_error(400, "malformed HTTP request: " + ec.message() + "\n");

    stream_.expires_never();
    auto request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    auto self = shared_from_this();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    Responder responder = [self, responded](HttpResponse res) {
      if (responded->exchange(true)) return;
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    };
    try {
      server_->handler_(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      spdlog::error("http handler threw: {}", e.what());
      if (!responded->exchange(true)) write(make_response(500, "internal error\n", "text/plain", version_, false));
    }
  }

  void send_error(unsigned status, std::string body) {
    keep_alive_ = false;
    write(make_response(status, std::move(body), "text/plain", 11, false));
  }

  void write(HttpResponse res) {
    res.version(version_ == 10 ? 10 : 11);
    if (!keep_alive_) res.keep_alive(false);
    keep_alive_ = res.keep_alive();
    response_ = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(server_->options_.write_timeout);
    http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->response_.reset();
      if (ec || !self->keep_alive_) return self->close();
      self->read_request(false);
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer> server_;
  beast::flat_buffer buffer_{8192};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

HttpServer::HttpServer(asio::io_context& ioc, HttpServerOptions options, HttpHandler handler)
    : ioc_(ioc), options_(options), handler_(std::move(handler)), acceptor_(asio::make_strand(ioc)) {}

HttpServer::~HttpServer() = default;

core::Result<tcp::endpoint> HttpServer::listen(const tcp::endpoint& endpoint) {
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string hint = ec == asio::error::address_in_use ? " (another process is using this port; choose another)" : "";
    return core::fail(core::ErrorCode::kUnavailable,
                      "cannot listen on " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) +
                          ": " + ec.message() + hint);
  }
  auto bound = acceptor_.local_endpoint(ec);
  do_accept();
  return bound;
}

void HttpServer::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
  });
}

void HttpServer::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}; the listener keeps going", ec.message());
      // Back off briefly on resource exhaustion (EMFILE) instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor(), std::chrono::milliseconds(50));
      timer->async_wait([self, timer](beast::error_code) { self->do_accept(); });
      return;
    }
    if (self->open_connections_.fetch_add(1) >= self->options_.max_connections) {
      self->open_connections_.fetch_sub(1);
      spdlog::warn("connection refused: {} connections open (limit)", self->options_.max_connections);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Connection>(std::move(socket), self)->start();
    }
    self->do_accept();
  });
}

}  // namespace mpc::net
