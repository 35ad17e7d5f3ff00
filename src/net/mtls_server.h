// An asynchronous HTTP/1.1 server over mutual TLS 1.3 (Boost.Beast on
// OpenSSL), for the node's migration endpoint.
//
// After the handshake the peer's Ed25519 key is extracted from its single
// certificate and passed to `authorize`; a refusal closes the connection
// (counted by reason). Limits: a handshake deadline, a deadline for each
// whole request (headers and body), a body limit (413), a header limit (431),
// a keep-alive idle limit, a write deadline and a cap on open connections.
// Accept errors are logged and the listener keeps going. Request targets in
// absolute form ("http://host/path") are accepted; route on request_path().
// drop_all_connections() closes every open connection at once (used when the
// chain's authorisation changes).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/crypto.h"
#include "net/http_server.h"
#include "net/metrics.h"

namespace mpc::net {

struct MtlsServerOptions {
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t body_limit = 8 << 20;
  std::size_t header_limit = 16 << 10;
  std::size_t max_connections = 64;
};

// nullopt: accept; otherwise the refusal reason (a metrics label).
using PeerAuthorizer = std::function<std::optional<std::string>(const core::Ed25519PublicKey&)>;
using MtlsHandler = std::function<void(HttpRequest&&, const core::Ed25519PublicKey& peer, Responder)>;

// The path of a request target, origin-form or absolute-form, without query.
std::string request_path(std::string_view target);
inline std::string request_path(const HttpRequest& request) { return request_path(std::string_view(request.target())); }

class MtlsServer : public std::enable_shared_from_this<MtlsServer> {
 public:
  // `metrics` may be null; refusals are counted as
  // mpc_connections_refused_total{reason=…}: handshake_failed (including a
  // certificate chain instead of one certificate, or TLS < 1.3),
  // no_client_cert, bad_client_cert (its key is not Ed25519),
  // too_many_connections, timeout (handshake or request too slow), and
  // whatever reasons `authorize` returns (the node's: unauthorized_key).
  // A series appears with its first refusal.
  MtlsServer(boost::asio::io_context& ioc, std::shared_ptr<boost::asio::ssl::context> tls, MtlsServerOptions options,
             PeerAuthorizer authorize, MtlsHandler handler, MetricsRegistry* metrics);
  ~MtlsServer();

  core::Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void stop();
  void drop_all_connections();
  std::size_t open_connections() const { return open_.load(); }

 private:
  class Connection;
  void do_accept();
  void refuse(const std::string& reason);

  boost::asio::io_context& ioc_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  MtlsServerOptions options_;
  PeerAuthorizer authorize_;
  MtlsHandler handler_;
  MetricsRegistry* metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<std::size_t> open_{0};
  std::mutex mu_;
  std::list<std::weak_ptr<Connection>> connections_;
};

}  // namespace mpc::net
