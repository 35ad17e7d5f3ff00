// Test-only: a client for peers that do not follow the protocol (or follow
// only part of it) — raw TCP or TLS on its own io_context, every step
// bounded by a deadline: past it the socket is closed (which completes the
// pending operation) and the step reports a timeout. Loopback only. Not
// thread-safe. Header-only: mtls_test (net_tests), mesh_test (p2p_tests)
// and signing_e2e_test share it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "core/bytes.h"
#include "net/host_port.h"
#include "tls/tls.h"

namespace mpc::testing {

class RawTlsClient {
 public:
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;
  using Millis = std::chrono::milliseconds;

  // A TLS client on `ctx` (its certificate, if any, is what the peer sees);
  // handshake() and write() give up after `step_limit`.
  explicit RawTlsClient(std::shared_ptr<boost::asio::ssl::context> ctx, Millis step_limit = std::chrono::seconds(3))
      : step_limit_(step_limit), ctx_(std::move(ctx)), stream_(ioc_, *ctx_) {
    tls::set_client_sni(stream_.native_handle());
  }
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  // TCP connect to `to` (a numeric host), from `source` (an IPv4 literal,
  // port 0) when given; TCP_NODELAY, so each write leaves at once.
  error_code connect(const net::HostPort& to, const char* source = nullptr) {
    error_code ec;
    const auto address = boost::asio::ip::make_address(to.host, ec);
    if (ec) return ec;
    if (source != nullptr) {
      socket().open(tcp::v4(), ec);
      if (!ec) socket().bind({boost::asio::ip::make_address(source), 0}, ec);
      if (ec) return ec;
    }
    socket().connect({address, to.port}, ec);
    if (!ec) socket().set_option(tcp::no_delay(true), ec);
    return ec;
  }
  // connect() to 127.0.0.1:port.
  error_code connect(std::uint16_t port, const char* source = nullptr) {
    return connect(net::HostPort{"127.0.0.1", port}, source);
  }
  // connect() to "HOST:PORT"; a text that does not parse is an error.
  error_code connect(const std::string& address) {
    auto parsed = net::HostPort::parse(address);
    if (!parsed) return boost::asio::error::invalid_argument;
    return connect(*parsed);
  }

  error_code handshake() {
    error_code ec = boost::asio::error::timed_out;
    stream_.async_handshake(boost::asio::ssl::stream_base::client, [&](error_code e) { ec = e; });
    bounded(step_limit_);
    return ec;
  }

  // Writes all of `data` through TLS, or on the TCP layer (tls = false: e.g.
  // the start of a ClientHello, or garbage).
  error_code write(std::string_view data, bool tls = true) { return write_bytes(core::as_bytes(data), tls); }
  error_code write(const core::Bytes& data, bool tls = true) { return write_bytes(data, tls); }

  // Exactly `n` bytes through TLS within `limit`, or nullopt.
  std::optional<core::Bytes> read_exactly(std::size_t n, Millis limit = std::chrono::seconds(3)) {
    core::Bytes out(n);
    error_code ec = boost::asio::error::timed_out;
    boost::asio::async_read(stream_, boost::asio::buffer(out), [&](error_code e, std::size_t) { ec = e; });
    if (!bounded(limit) || ec) return std::nullopt;
    return out;
  }

  struct Read {
    std::string data;    // everything received
    error_code ec;       // why reading stopped
    bool timed_out = false;
    Millis elapsed{};
  };
  // Reads until the other side closes the connection (EOF or reset), or
  // `limit` passes (timed_out).
  Read read_until_close(Millis limit, bool tls = true) {
    Read out;
    std::string chunk;
    const auto start = std::chrono::steady_clock::now();
    std::function<void()> next = [&] {
      chunk.resize(4096);
      auto done = [&](error_code e, std::size_t n) {
        out.data.append(chunk.data(), n);
        if (e) out.ec = e;
        else next();
      };
      if (tls) stream_.async_read_some(boost::asio::buffer(chunk), done);
      else socket().async_read_some(boost::asio::buffer(chunk), done);
    };
    next();
    out.timed_out = !bounded(limit);
    out.elapsed = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    return out;
  }
  // True once the other side has closed the connection within `limit`;
  // whatever it sends before is read and dropped. False on a timeout.
  bool closed_within(Millis limit, bool tls = true) { return !read_until_close(limit, tls).timed_out; }

  tcp::socket& socket() { return stream_.next_layer(); }
  void close() {
    error_code ec;
    socket().close(ec);
  }

 private:
  error_code write_bytes(core::ByteView data, bool tls) {
    error_code ec = boost::asio::error::timed_out;
    auto done = [&](error_code e, std::size_t) { ec = e; };
    if (tls) boost::asio::async_write(stream_, boost::asio::buffer(data.data(), data.size()), done);
    else boost::asio::async_write(socket(), boost::asio::buffer(data.data(), data.size()), done);
    bounded(step_limit_);
    return ec;
  }
  // Runs the pending operation for at most `limit`; on expiry closes the
  // socket (which completes it) and returns false.
  bool bounded(Millis limit) {
    ioc_.restart();
    ioc_.run_for(limit);
    if (ioc_.stopped()) return true;
    close();
    ioc_.restart();
    ioc_.run();
    return false;
  }

  Millis step_limit_;
  boost::asio::io_context ioc_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  boost::asio::ssl::stream<tcp::socket> stream_;
};

}  // namespace mpc::testing
