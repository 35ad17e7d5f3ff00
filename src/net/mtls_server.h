// An asynchronous HTTP/1.1 server over mutual TLS 1.3 (Boost.Beast on
// OpenSSL), for the node's migration endpoint.
//
// After the handshake the peer's Ed25519 key is extracted from its single
// certificate and passed to `authorize`; a refusal closes the connection
// (counted by reason). Request targets in absolute form ("http://host/path")
// are accepted; route on request_path().
//
// Connections are budgeted in two classes (see net/connection_budget.h):
//   pre-auth       accepted, handshake or authorisation not finished: at most
//                  `max_preauth_connections`, and `max_preauth_per_source`
//                  from one source address. A newcomer is never refused for
//                  lack of room: the oldest pre-auth connection (of its own
//                  source when that source is at its cap) is evicted. The
//                  first bytes of the handshake (the ClientHello) must arrive
//                  within `first_bytes_timeout` of the accept, the whole
//                  handshake within `handshake_timeout`. Until the first
//                  bytes arrive a connection holds only a socket and a timer
//                  (no TLS state).
//   authenticated  the peer's key is authorised: at most `max_connections`;
//                  beyond that the newcomer is refused (too_many_connections).
// Then a deadline for each whole request (headers and body), a body limit
// (413), a header limit (431), a keep-alive idle limit and a write deadline.
// Accept errors are logged and the listener keeps going. Everything runs on
// io_contexts (see "Threads"); nothing blocks.
//
// Threads: nginx's model. Each of `connection_contexts` must be run by
// exactly one thread; each accepts on the one listening socket (its own
// descriptor of it, in its own epoll) and runs the connections it accepted,
// so a connection's handlers need no strand and never wake another thread,
// and a thread busy with a handshake leaves the next connection to one that
// is free (one acceptor handing connections out in turn, before, made every
// connection wait for that acceptor's thread: the CPUs idled 2-3% of a
// fresh-handshake load that nginx keeps them busy through). At least one
// context is required.
//
// close_connections_if() ends the authenticated connections whose peer key
// matches a predicate, gracefully: the exchange in flight is answered (with
// "Connection: close"), then a TLS close_notify. Handshakes in progress are
// never cut by it (they are authorised afresh when they finish).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/crypto.h"
#include "net/connection_budget.h"
#include "net/http_server.h"
#include "net/log_limiter.h"
#include "net/metrics.h"

namespace mpc::net {

struct MtlsServerOptions {
  std::chrono::milliseconds first_bytes_timeout{2'000};  // accept -> first byte of the ClientHello
  std::chrono::milliseconds handshake_timeout{5'000};    // accept -> handshake done
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t body_limit = 8 << 20;
  std::size_t header_limit = 16 << 10;
  std::size_t max_connections = 64;           // authenticated connections
  std::size_t max_preauth_connections = 256;  // handshakes in progress, all sources
  std::size_t max_preauth_per_source = 8;     // handshakes in progress, one source address
};

// nullopt: accept; otherwise the refusal reason (a metrics label).
using PeerAuthorizer = std::function<std::optional<std::string>(const core::Ed25519PublicKey&)>;
using MtlsHandler = std::function<void(HttpRequest&&, const core::Ed25519PublicKey& peer, Responder)>;
using PeerPredicate = std::function<bool(const core::Ed25519PublicKey&)>;

// The path of a request target, origin-form or absolute-form, without query.
std::string request_path(std::string_view target);
inline std::string request_path(const HttpRequest& request) { return request_path(std::string_view(request.target())); }

class MtlsServer : public std::enable_shared_from_this<MtlsServer> {
 public:
  // `metrics` may be null; refusals are counted as
  // mpc_connections_refused_total{reason=…}: handshake_failed (including a
  // certificate chain instead of one certificate, or TLS < 1.3),
  // no_client_cert, bad_client_cert (its key is not Ed25519),
  // too_many_connections (the authenticated budget is full), timeout
  // (ClientHello, handshake or request too slow), evicted_preauth (the
  // oldest handshake in progress made room for a newer one),
  // evicted_per_source (likewise, within one source address's cap), and
  // whatever reasons `authorize` returns (the node's: unauthorized_key).
  // A series appears with its first refusal.
  //
  // `authorize` is called with the server's connection lock held, and so
  // is the predicate of close_connections_if: neither may call back into
  // the server.
  MtlsServer(std::shared_ptr<boost::asio::ssl::context> tls, MtlsServerOptions options, PeerAuthorizer authorize,
             MtlsHandler handler, MetricsRegistry* metrics, std::vector<boost::asio::io_context*> connection_contexts);
  ~MtlsServer();

  core::Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // The bodies the handler expects to receive again (RequestBody); before listen().
  void expect_bodies(BodyExpectation expectation) { expect_bodies_ = std::move(expectation); }
  // Stops accepting and closes every connection at once; final (listen()
  // fails after it).
  void stop();
  // Gracefully closes the authenticated connections whose peer key satisfies
  // `predicate` (see above); returns how many were asked to close. From any
  // thread. An authorisation that races with this call is either seen by it
  // or made under the authoriser's new state.
  std::size_t close_connections_if(const PeerPredicate& predicate);

  // Connection objects alive (including ones being torn down).
  std::size_t open_connections() const { return open_.load(); }
  std::size_t preauth_connections() const;
  std::size_t authenticated_connections() const;

 private:
  class Connection;
  // One per connection context, each with its own descriptor of the
  // listening socket (see "Threads" above); used on that context only.
  struct Listener {
    explicit Listener(boost::asio::io_context& c) : context(c), acceptor(c), retry(c) {}
    boost::asio::io_context& context;
    boost::asio::ip::tcp::acceptor acceptor;
    // After a failed accept (e.g. out of descriptors), the next try waits
    // for this; stop() cancels it.
    boost::asio::steady_timer retry;
    // The peer of the accept in flight, as accept() reports it (no
    // getpeername per connection).
    boost::asio::ip::tcp::endpoint peer;
  };
  void do_accept(Listener& listener);
  using ConnectionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
  void on_accept(ConnectionSocket socket, const boost::asio::ip::tcp::endpoint& remote);
  void refuse(const std::string& reason);
  void forget(std::uint64_t id);
  // At most 10 log lines per 10 s for what any stranger can cause.
  bool may_log();

  std::shared_ptr<boost::asio::ssl::context> tls_;
  MtlsServerOptions options_;
  PeerAuthorizer authorize_;
  MtlsHandler handler_;
  BodyExpectation expect_bodies_;
  MetricsRegistry* metrics_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> open_{0};
  mutable std::mutex mu_;
  ConnectionBudget budget_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> live_;
  LogLimiter log_limiter_{"migration endpoint: connection refusals", "mpc_connections_refused_total"};
};

}  // namespace mpc::net
