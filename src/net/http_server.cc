#include "net/http_server.h"
#include "net/internal/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Every completion handler of the server is a catch-and-log boundary: an
// exception must not unwind into io_context::run() (and from there end the
// thread that runs it, or the process).
template <class F>
void guarded(const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("http server: {} threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("http server: {} threw a non-standard exception", what);
  }
}

}  // namespace

core::Result<tcp::endpoint> parse_listen_address(std::string_view text) {
  MPC_ASSIGN(auto address, HostPort::parse(text, PortZero::kAllowed));
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address.host == "localhost" ? "127.0.0.1" : address.host, ec);
  if (ec) return core::invalid("cannot listen on " + shown_address(text) + ": HOST must be a numeric IP address or localhost");
  return tcp::endpoint(ip, address.port);
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

void RequestBody::reader::init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
  ec = {};
  body_.same_as.reset();
  // Only a body of announced length can be the expected one, and only of its length.
  if (length && header_ != nullptr && body_.expect != nullptr && *body_.expect) expected_ = (*body_.expect)(*header_);
  if (expected_ && *length != expected_->size()) expected_.reset();
  if (expected_ || !length) return;
  if (*length > body_.max_size()) {
    ec = http::error::buffer_overflow;
    return;
  }
  body_.reserve(static_cast<std::size_t>(*length));
}

void RequestBody::reader::depart() {
  body_.reserve(expected_->size());  // the announced length: an expected body has it (init)
  body_.assign(expected_->data(), matched_);
  expected_.reset();
}

bool RequestBody::reader::put_piece(std::string_view piece, beast::error_code& ec) {
  if (expected_) {
    if (piece.size() <= expected_->size() - matched_ && std::memcmp(piece.data(), expected_->data() + matched_, piece.size()) == 0) {
      matched_ += piece.size();
      return true;
    }
    depart();
  }
  if (piece.size() > body_.max_size() - body_.size()) {
    ec = http::error::buffer_overflow;
    return false;
  }
  body_.append(piece);
  return true;
}

void RequestBody::reader::finish(beast::error_code& ec) {
  ec = {};
  if (!expected_) return;
  // Beast calls finish() only once the announced length has come, which is
  // the expected body's length; anything else keeps its own bytes all the same.
  if (matched_ == expected_->size()) {
    body_.same_as = std::move(expected_);
  } else {
    depart();
  }
}

void ResponseBody::writer::init(beast::error_code& ec) {
  ec = {};
  if (!body_.streamed) return;
  auto stream = body_.streamed->open();
  if (!stream) {
    spdlog::error("http server: a streamed answer cannot start: {}", stream.error().message);
    ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
    return;
  }
  stream_ = std::move(*stream);
  // No larger than the body: a small answer does not take (and free) a
  // whole chunk, whose free makes glibc consolidate its fast bins.
  chunk_size_ = static_cast<std::size_t>(std::clamp<std::uint64_t>(body_.streamed->size(), 4, kChunk));
  chunk_ = std::make_unique_for_overwrite<char[]>(chunk_size_);
}

boost::optional<std::pair<ResponseBody::writer::const_buffers_type, bool>> ResponseBody::writer::get(beast::error_code& ec) {
  ec = {};
  if (!stream_) return {{const_buffers_type(body_.data(), body_.size()), false}};
  auto n = stream_->read(chunk_.get(), std::min(next_max_, chunk_size_));
  next_max_ = kChunk;
  if (!n) {
    spdlog::error("http server: a streamed answer failed: {}", n.error().message);
    ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
    return boost::none;
  }
  if (*n == 0) return boost::none;
  return {{const_buffers_type(chunk_.get(), *n), true}};
}

void append_response_head(std::string& out, const HttpResponse::header_type& header) {
  const unsigned version = header.version(), code = header.result_int();
  const std::string_view reason = header.reason();
  const char status_line[] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + version / 10 % 10), '.',
                              static_cast<char>('0' + version % 10), ' ', static_cast<char>('0' + code / 100 % 10),
                              static_cast<char>('0' + code / 10 % 10), static_cast<char>('0' + code % 10), ' '};
  out.append(status_line, sizeof status_line);
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& field : header) {
    const std::string_view name = field.name_string(), value = field.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
  out += "\r\n";
}

core::Result<std::string> body_text(const HttpResponse& response) {
  const auto& body = response.body();
  if (!body.streamed) return std::string(body);
  MPC_ASSIGN(auto stream, body.streamed->open());
  std::string text(body.streamed->size(), '\0');
  std::size_t at = 0;
  for (;;) {
    char chunk[ResponseBody::writer::kChunk];
    MPC_ASSIGN(std::size_t n, stream->read(chunk, sizeof chunk));
    if (n == 0) break;
    if (n > text.size() - at) return core::fail(core::ErrorCode::kInternal, "a streamed body yields more than its size");
    std::memcpy(text.data() + at, chunk, n);
    at += n;
  }
  if (at != text.size()) return core::fail(core::ErrorCode::kInternal, "a streamed body yields less than its size");
  return text;
}

HttpResponse make_streamed_response(unsigned status, std::shared_ptr<const StreamedBody> body, std::string content_type,
                                    unsigned version, bool keep_alive) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::server, "mpc-backup");
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body().streamed = std::move(body);
  res.prepare_payload();
  return res;
}

class HttpServer::Connection : public std::enable_shared_from_this<Connection>, public HttpSession<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<HttpServer> server)
      : HttpSession(limits(server->options_)), stream_(std::move(socket)), server_(std::move(server)) {}

  ~Connection() { server_->open_connections_.fetch_sub(1); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      guarded("starting a connection", [&] { self->start_reading(); });
    });
  }

  // HttpSession hooks.
  beast::tcp_stream& stream() { return stream_; }
  tcp::socket& socket() { return stream_.socket(); }
  void dispatch(HttpRequest&& request, Responder responder) { server_->handler_(std::move(request), std::move(responder)); }
  void on_timeout() {}
  void finish() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    close();
  }

 private:
  static SessionLimits limits(const HttpServerOptions& o) {
    return SessionLimits{o.body_limit, o.header_limit, o.request_timeout, o.idle_timeout, o.write_timeout};
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer> server_;
};

HttpServer::HttpServer(asio::io_context& ioc, HttpServerOptions options, HttpHandler handler)
    : ioc_(ioc), options_(options), handler_(std::move(handler)), acceptor_(asio::make_strand(ioc)) {}

HttpServer::~HttpServer() = default;

core::Result<tcp::endpoint> bind_listener(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string hint = ec == asio::error::address_in_use ? " (another process is using this port; choose another)" : "";
    return core::fail(core::ErrorCode::kUnavailable,
                      "cannot listen on " + HostPort::from_endpoint(endpoint).to_string() + ": " + ec.message() + hint);
  }
  return acceptor.local_endpoint(ec);
}

core::Result<tcp::endpoint> HttpServer::listen(const tcp::endpoint& endpoint) {
  MPC_ASSIGN(auto bound, bind_listener(acceptor_, endpoint));
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
    bool accept_now = true;  // false once a back-off timer will accept again
    guarded("accepting a connection", [&] {
      if (ec) {
        spdlog::warn("accept failed: {}; the listener keeps going", ec.message());
        // Back off briefly on resource exhaustion (EMFILE) instead of spinning.
        auto timer = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor(), std::chrono::milliseconds(50));
        timer->async_wait([self, timer](beast::error_code) {
          guarded("listening again after a failed accept", [&] { self->do_accept(); });
        });
        accept_now = false;
        return;
      }
      if (self->open_connections_.fetch_add(1) >= self->options_.max_connections) {
        self->open_connections_.fetch_sub(1);
        spdlog::warn("connection refused: {} connections open (limit)", self->options_.max_connections);
        beast::error_code ignored;
        socket.close(ignored);
        return;
      }
      beast::error_code nodelay_ec;  // responses must not wait for delayed ACKs (Nagle)
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      std::shared_ptr<Connection> connection;
      try {
        connection = std::make_shared<Connection>(std::move(socket), self);
      } catch (...) {
        self->open_connections_.fetch_sub(1);  // no Connection, so no destructor gives the slot back
        throw;
      }
      connection->start();
    });
    if (accept_now) guarded("listening for the next connection", [&] { self->do_accept(); });
  });
}

}  // namespace mpc::net
