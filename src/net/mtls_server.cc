#include "net/mtls_server.h"
#include "net/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include "core/near_key.h"
#include "tls/tls.h"

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string request_path(std::string_view target) {
  if (!target.empty() && target.front() != '/') {
    if (auto scheme = target.find("://"); scheme != std::string_view::npos) {
      auto path_start = target.find('/', scheme + 3);
      target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
    }
  }
  if (auto q = target.find_first_of("?#"); q != std::string_view::npos) target = target.substr(0, q);
  return std::string(target.empty() ? "/" : target);
}

class MtlsServer::Connection : public std::enable_shared_from_this<Connection>, public HttpSession<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<MtlsServer> server)
      : HttpSession(limits(server->options_)),
        peer_text_(endpoint_text(socket)),
        stream_(beast::tcp_stream(std::move(socket)), *server->tls_),
        server_(std::move(server)) {}
  ~Connection() { server_->open_.fetch_sub(1); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(self->server_->options_.handshake_timeout);
      self->stream_.async_handshake(asio::ssl::stream_base::server,
                                    [self](beast::error_code ec) { self->on_handshake(ec); });
    });
  }

  // From any thread.
  void drop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

  // HttpSession hooks.
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  void dispatch(HttpRequest&& request, Responder responder) { server_->handler_(std::move(request), peer_, std::move(responder)); }
  void on_timeout() {
    server_->refuse("timeout");
    spdlog::info("migration endpoint: {} did not send a whole request in time; closed", peer_text());
  }
  void finish() {
    // A short, bounded TLS close_notify, then close.
    lowest().expires_after(std::chrono::seconds(1));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close(); });
  }

 private:
  static SessionLimits limits(const MtlsServerOptions& o) {
    return SessionLimits{o.body_limit, o.header_limit, o.request_timeout, o.idle_timeout, o.write_timeout};
  }

  void on_handshake(beast::error_code ec) {
    if (closed()) return;  // dropped (drop_all_connections/stop) mid-handshake: not a refusal
    if (ec) {
      const bool no_cert = ec.category() == asio::error::get_ssl_category() &&
                           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
      server_->refuse(ec == beast::error::timeout ? "timeout" : no_cert ? "no_client_cert" : "handshake_failed");
      spdlog::info("migration endpoint: TLS handshake with {} failed: {}", peer_text(), ec.message());
      return close();
    }
    // The verify callback has already refused chains; what remains to refuse
    // here is a certificate whose key is not Ed25519.
    auto key = tls::peer_key(stream_.native_handle());
    if (!key) {
      server_->refuse("bad_client_cert");
      spdlog::info("migration endpoint: refused {}: {}", peer_text(), key.error().message);
      return close();
    }
    peer_ = *key;
    if (auto reason = server_->authorize_(peer_)) {
      server_->refuse(*reason);
      spdlog::warn("migration endpoint: refused {} with key {}: {}", peer_text(), core::ed25519_public_key_to_string(peer_), *reason);
      return close();
    }
    start_reading();
  }

  // Taken at accept: once a deadline has closed the socket it is unknown.
  static std::string endpoint_text(const tcp::socket& socket) {
    beast::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    return ec ? "a peer" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  const std::string& peer_text() const { return peer_text_; }

  std::string peer_text_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<MtlsServer> server_;
  core::Ed25519PublicKey peer_;
};

MtlsServer::MtlsServer(asio::io_context& ioc, std::shared_ptr<asio::ssl::context> tls, MtlsServerOptions options,
                       PeerAuthorizer authorize, MtlsHandler handler, MetricsRegistry* metrics)
    : ioc_(ioc),
      tls_(std::move(tls)),
      options_(options),
      authorize_(std::move(authorize)),
      handler_(std::move(handler)),
      metrics_(metrics),
      acceptor_(asio::make_strand(ioc)) {}

MtlsServer::~MtlsServer() = default;

void MtlsServer::refuse(const std::string& reason) {
  if (metrics_)
    metrics_->counter("mpc_connections_refused_total", "Migration endpoint connections refused, by reason", {{"reason", reason}}).inc();
}

core::Result<tcp::endpoint> MtlsServer::listen(const tcp::endpoint& endpoint) {
  MPC_ASSIGN(auto bound, bind_listener(acceptor_, endpoint));
  do_accept();
  return bound;
}

void MtlsServer::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
  });
  drop_all_connections();
}

void MtlsServer::drop_all_connections() {
  std::lock_guard lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (auto c = it->lock()) {
      c->drop();
      ++it;
    } else {
      it = connections_.erase(it);
    }
  }
}

void MtlsServer::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("migration endpoint: accept failed: {}; the listener keeps going", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor(), std::chrono::milliseconds(50));
      timer->async_wait([self, timer](beast::error_code) { self->do_accept(); });
      return;
    }
    if (self->open_.fetch_add(1) >= self->options_.max_connections) {
      self->open_.fetch_sub(1);
      self->refuse("too_many_connections");
      spdlog::warn("migration endpoint: connection refused: {} connections open (limit)", self->options_.max_connections);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code nodelay_ec;  // small TLS records must not wait for delayed ACKs (Nagle)
      socket.set_option(tcp::no_delay(true), nodelay_ec);
      auto conn = std::make_shared<Connection>(std::move(socket), self);
      {
        std::lock_guard lock(self->mu_);
        // Prune dead entries as we go, so the list stays as long as the open set.
        for (auto it = self->connections_.begin(); it != self->connections_.end();)
          it = it->expired() ? self->connections_.erase(it) : std::next(it);
        self->connections_.push_back(conn);
      }
      conn->start();
    }
    self->do_accept();
  });
}

}  // namespace mpc::net
