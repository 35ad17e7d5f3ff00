#include "net/mtls_server.h"
#include "net/internal/http_session.h"
#include "net/internal/tls_socket_stream.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include "core/near_key.h"
#include "net/host_port.h"
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
  Connection(ConnectionSocket socket, std::shared_ptr<MtlsServer> server, std::uint64_t id, std::string peer_text)
      : HttpSession(limits(server->options_)),
        id_(id),
        peer_text_(std::move(peer_text)),
        accepted_(std::chrono::steady_clock::now()),
        tcp_(std::in_place, std::move(socket)),
        executor_(tcp_->get_executor()),
        server_(std::move(server)) {
    server_->open_.fetch_add(1);
  }
  ~Connection() {
    server_->forget(id_);
    server_->open_.fetch_sub(1);
  }

  // Waits for the first bytes of the ClientHello (a socket and the
  // connection's deadline; no TLS state yet), then runs the handshake.
  void start() {
    asio::dispatch(executor_, [self = shared_from_this()] {
      const auto& o = self->server_->options_;
      self->set_deadline(self->accepted_ + std::min(o.first_bytes_timeout, o.handshake_timeout));
      // The ClientHello has usually arrived by the time the connection is
      // accepted: look first, and wait for readiness only if it has not
      // (each wait re-arms the socket in epoll: one more syscall).
      self->on_first_bytes(beast::error_code{});
    });
  }

  // From any thread: closes at once (eviction of a pre-auth connection, stop()).
  void drop() {
    asio::post(executor_, [self = shared_from_this()] { self->close(); });
  }
  // From any thread: ends an authenticated connection after its exchange in flight.
  void close_gracefully() {
    asio::post(executor_, [self = shared_from_this()] { self->close_after_exchange(); });
  }

  // Written under the server's mutex, before any request is read; read under
  // it by close_connections_if (and peer_ by dispatch, after it was written).
  bool authenticated_ = false;
  core::Ed25519PublicKey peer_;

  // HttpSession hooks.
  TlsSocketStream& stream() { return *stream_; }
  ConnectionSocket& socket() { return stream_ ? stream_->socket() : *tcp_; }
  const BodyExpectation* body_expectation() { return server_->expect_bodies_ ? &server_->expect_bodies_ : nullptr; }
  void dispatch(HttpRequest&& request, Responder responder) { server_->handler_(std::move(request), peer_, std::move(responder)); }
  void on_timeout() {
    server_->refuse("timeout");
    if (server_->may_log()) spdlog::info("migration endpoint: {} did not send a whole request in time; closed", peer_text());
  }
  // The socket is closed: its budget slot is free at once, even while a
  // handler (or a held Responder) keeps this object alive.
  void on_closed() { server_->forget(id_); }
  void finish() {
    // A short, bounded TLS close_notify, then close. No request is read any
    // more: the slot is free already. The peer's close_notify is not waited
    // for (RFC 8446 6.1 does not require it; nginx does not either): every
    // answer is framed by its Content-Length, so nothing can be truncated
    // unseen, and a connection does not linger for it.
    server_->forget(id_);
    SSL_set_shutdown(stream_->native_handle(), SSL_get_shutdown(stream_->native_handle()) | SSL_RECEIVED_SHUTDOWN);
    set_deadline_after(std::chrono::seconds(1));
    stream_->async_shutdown([self = shared_from_this()](beast::error_code) { self->close(); });
  }

 private:
  static SessionLimits limits(const MtlsServerOptions& o) {
    return SessionLimits{o.body_limit, o.header_limit, o.request_timeout, o.idle_timeout, o.write_timeout};
  }

  void on_first_bytes(beast::error_code ec) {
    if (closed()) return;  // evicted or stopped meanwhile
    if (timed_out()) {
      server_->refuse("timeout");
      if (server_->may_log()) spdlog::info("migration endpoint: {} sent no TLS ClientHello in time; closed", peer_text());
      return close();
    }
    if (ec) return close();
    // What is there, without taking it: the first bytes of the ClientHello,
    // the end of the stream (the peer closed or reset before sending any: no
    // TLS state is built for it), or nothing yet. A readiness report with
    // nothing behind it happens (under load, about one fresh connection in
    // a few thousand); it once closed such a connection as if the peer had
    // gone, and the client saw its handshake cut off. It waits again.
    char first = 0;
    const ssize_t peeked = ::recv(tcp_->native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      tcp_->async_wait(ConnectionSocket::wait_read, [self = shared_from_this()](beast::error_code e) { self->on_first_bytes(e); });
      return;
    }
    if (peeked <= 0) {
      server_->refuse("handshake_failed");
      return close();
    }
    try {
      stream_.emplace(std::move(*tcp_), server_->tls_->native_handle());
    } catch (const std::exception& e) {  // OpenSSL could not make the connection's state
      server_->refuse("handshake_failed");
      if (server_->may_log()) spdlog::warn("migration endpoint: cannot start TLS with {}: {}", peer_text(), e.what());
      return close();
    }
    tcp_.reset();
    set_deadline(accepted_ + server_->options_.handshake_timeout);
    stream_->async_handshake([self = shared_from_this()](beast::error_code e) { self->on_handshake(e); });
  }

  void on_handshake(beast::error_code ec) {
    if (closed()) return;  // evicted or stopped mid-handshake: not a refusal
    if (ec) {
      const bool no_cert = ec.category() == asio::error::get_ssl_category() &&
                           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
      server_->refuse(timed_out() ? "timeout" : no_cert ? "no_client_cert" : "handshake_failed");
      if (server_->may_log()) spdlog::info("migration endpoint: TLS handshake with {} failed: {}", peer_text(), ec.message());
      return close();
    }
    // The verify callback has already refused chains; what remains to refuse
    // here is a certificate whose key is not Ed25519.
    auto key = tls::peer_key(stream_->native_handle());
    if (!key) {
      server_->refuse("bad_client_cert");
      if (server_->may_log()) spdlog::info("migration endpoint: refused {}: {}", peer_text(), key.error().message);
      return close();
    }
    std::optional<std::string> reason;
    Promotion promotion = Promotion::kGone;
    {
      // Authorised and counted in one step, so that close_connections_if()
      // either sees this connection or it was authorised under the new state.
      std::lock_guard lock(server_->mu_);
      if (server_->budget_.is_preauth(id_)) {
        peer_ = *key;
        reason = server_->authorize_(peer_);
        if (reason) {
          server_->budget_.release(id_);
        } else {
          promotion = server_->budget_.promote(id_);
          authenticated_ = promotion == Promotion::kAuthenticated;
        }
      }
    }
    if (reason) {
      server_->refuse(*reason);
      if (server_->may_log())
        spdlog::warn("migration endpoint: refused {} with key {}: {}", peer_text(), core::ed25519_public_key_to_string(*key), *reason);
      return close();
    }
    if (promotion == Promotion::kGone) return;  // evicted just now: its drop() is on the way
    if (promotion == Promotion::kFull) {
      server_->refuse("too_many_connections");
      if (server_->may_log())
        spdlog::warn("migration endpoint: refused {}: {} authenticated connections open (limit)", peer_text(),
                     server_->options_.max_connections);
      return close();
    }
    start_reading();
  }

  const std::string& peer_text() const { return peer_text_; }

  std::uint64_t id_;
  std::string peer_text_;
  std::chrono::steady_clock::time_point accepted_;
  std::optional<ConnectionSocket> tcp_;                            // until the first bytes arrive
  asio::io_context::executor_type executor_;                       // the connection's
  std::optional<TlsSocketStream> stream_;                          // from then on (TLS on the same socket)
  std::shared_ptr<MtlsServer> server_;
};

namespace {
// OpenSSL writes to a connection's socket with write(2) (TlsSocketStream):
// a peer that reset the connection would raise SIGPIPE, whose default is to
// kill the process. Ignored (once, and only if nobody chose a handler), so
// that the write fails with EPIPE and only that connection ends; nginx does
// the same.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current{};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore{};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGPIPE, &ignore, nullptr);
    }
  });
}
}  // namespace

MtlsServer::MtlsServer(std::shared_ptr<asio::ssl::context> tls, MtlsServerOptions options, PeerAuthorizer authorize,
                       MtlsHandler handler, MetricsRegistry* metrics, std::vector<asio::io_context*> connection_contexts)
    : tls_(std::move(tls)),
      options_(options),
      authorize_(std::move(authorize)),
      handler_(std::move(handler)),
      metrics_(metrics),
      budget_(ConnectionLimits{options.max_preauth_connections, options.max_preauth_per_source, options.max_connections}) {
  if (connection_contexts.empty() || std::ranges::find(connection_contexts, nullptr) != connection_contexts.end())
    throw std::invalid_argument("MtlsServer: connections need at least one io_context (run by one thread each)");
  for (asio::io_context* c : connection_contexts) listeners_.push_back(std::make_unique<Listener>(*c));
  ignore_sigpipe();
}

MtlsServer::~MtlsServer() = default;

void MtlsServer::refuse(const std::string& reason) {
  if (metrics_)
    metrics_->counter("mpc_connections_refused_total", "Migration endpoint connections refused, by reason", {{"reason", reason}}).inc();
}

bool MtlsServer::may_log() { return log_limiter_.allow(); }

void MtlsServer::forget(std::uint64_t id) {
  std::lock_guard lock(mu_);
  budget_.release(id);
  live_.erase(id);
}

std::size_t MtlsServer::preauth_connections() const {
  std::lock_guard lock(mu_);
  return budget_.preauth();
}

std::size_t MtlsServer::authenticated_connections() const {
  std::lock_guard lock(mu_);
  return budget_.authenticated();
}

core::Result<tcp::endpoint> MtlsServer::listen(const tcp::endpoint& endpoint) {
  if (stopped_) return core::fail(core::ErrorCode::kUnavailable, "the migration endpoint's server was stopped");
  Listener& first = *listeners_.front();
  MPC_ASSIGN(auto bound, bind_listener(first.acceptor, endpoint));
  // Every context gets its own descriptor of the socket, each in its own
  // epoll, so whichever thread is free takes the next connection. All of
  // them assigned, the first one too: asio then takes each out of its epoll
  // when it closes (a socket it opened itself it leaves to close(2), which
  // ends no registration while another descriptor of the socket is open).
  const int listening = first.acceptor.release();
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    beast::error_code ec;
    const int fd = i == 0 ? listening : ::fcntl(listening, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) ec.assign(errno, boost::system::system_category());
    else listeners_[i]->acceptor.assign(bound.protocol(), fd, ec);
    if (ec) {
      if (fd >= 0 && !listeners_[i]->acceptor.is_open()) ::close(fd);
      beast::error_code ignored;
      for (auto& l : listeners_) l->acceptor.close(ignored);
      return core::fail(core::ErrorCode::kUnavailable,
                        "cannot listen on " + HostPort::from_endpoint(bound).to_string() + ": a descriptor for I/O thread " +
                            std::to_string(i) + ": " + ec.message());
    }
  }
  for (auto& l : listeners_) {
    // Started on its own thread: a Listener is only ever used there.
    asio::post(l->context, [self = shared_from_this(), l = l.get()] { self->do_accept(*l); });
  }
  return bound;
}

void MtlsServer::stop() {
  stopped_ = true;  // no accept starts or completes into a connection after this
  for (auto& l : listeners_)
    asio::post(l->context, [self = shared_from_this(), l = l.get()] {
      beast::error_code ec;
      l->retry.cancel();
      l->acceptor.close(ec);
    });
  std::vector<std::shared_ptr<Connection>> all;  // released after the lock
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : live_)
      if (auto c = weak.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->drop();
}

std::size_t MtlsServer::close_connections_if(const PeerPredicate& predicate) {
  std::vector<std::shared_ptr<Connection>> seen;  // released after the lock
  std::vector<Connection*> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : live_) {
      auto c = weak.lock();
      if (!c) continue;
      if (c->authenticated_ && predicate(c->peer_)) doomed.push_back(c.get());
      seen.push_back(std::move(c));
    }
  }
  for (auto* c : doomed) c->close_gracefully();
  return doomed.size();
}

void MtlsServer::do_accept(Listener& l) {
  if (stopped_) return;
  // Accepted onto this listener's context: the connection runs on the thread
  // that accepted it.
  l.acceptor.async_accept(l.context, l.peer, [self = shared_from_this(), &l](beast::error_code ec, ConnectionSocket socket) {
    if (ec == asio::error::operation_aborted || !l.acceptor.is_open() || self->stopped_) return;
    if (ec) {
      if (self->may_log()) spdlog::warn("migration endpoint: accept failed: {}; the listener keeps going", ec.message());
      l.retry.expires_after(std::chrono::milliseconds(50));
      l.retry.async_wait([self, &l](beast::error_code ec) {
        if (!ec) self->do_accept(l);  // cancelled by stop(); do_accept checks it too
      });
      return;
    }
    try {
      self->on_accept(std::move(socket), l.peer);
    } catch (const std::exception& e) {  // e.g. bad_alloc: this connection is lost, the listener is not
      spdlog::error("migration endpoint: accepting a connection failed: {}", e.what());
    }
    self->do_accept(l);
  });
}

void MtlsServer::on_accept(ConnectionSocket socket, const tcp::endpoint& remote) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // small TLS records must not wait for delayed ACKs (Nagle)
  // Non-blocking once, here: the wait for the first bytes and the TLS
  // stream then find it so (asio's first wait and the stream each set it
  // again otherwise, one ioctl apiece).
  socket.non_blocking(true, ec);
  if (ec) return;  // the socket closes with this scope
  std::shared_ptr<Connection> conn;
  std::shared_ptr<Connection> victim;  // released after the lock
  std::optional<Eviction> evicted;
  {
    std::lock_guard lock(mu_);
    auto admission = budget_.admit(remote.address());
    evicted = admission.evicted;
    if (evicted) {
      if (auto it = live_.find(evicted->id); it != live_.end()) victim = it->second.lock();
    }
    try {
      conn = std::make_shared<Connection>(std::move(socket), shared_from_this(), admission.id,
                                          HostPort::from_endpoint(remote).to_string());
    } catch (...) {
      budget_.release(admission.id);
      throw;
    }
    live_.emplace(admission.id, conn);
  }
  if (evicted) {
    refuse(eviction_label(evicted->reason));
    if (may_log())
      spdlog::warn("migration endpoint: {} handshakes in progress{}; closed the oldest to admit {}",
                   evicted->reason == EvictionReason::kPerSourceCap ? options_.max_preauth_per_source : options_.max_preauth_connections,
                   evicted->reason == EvictionReason::kPerSourceCap ? " from " + remote.address().to_string() + " (limit per address)"
                                                                    : std::string(" (limit)"),
                   remote.address().to_string());
  }
  if (victim) victim->drop();
  conn->start();
}

}  // namespace mpc::net
