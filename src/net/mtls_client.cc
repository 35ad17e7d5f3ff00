#include "net/mtls_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

#include "core/near_key.h"
#include "tls/tls.h"

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct MtlsClient::Impl {
  std::shared_ptr<asio::ssl::context> tls;
  std::string host;
  std::uint16_t port;
  core::Ed25519PublicKey expected;
  MtlsClientOptions options;
  asio::io_context ioc;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point deadline;

  std::string where() const { return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port); }

  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds(1);
  }

  // Runs the io_context until the started operation completes.
  void run() {
    ioc.restart();
    ioc.run();
  }

  core::Error timeout_error(const char* phase) const {
    const auto ms = options.timeout.count();
    const std::string limit = ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    return core::Error{core::ErrorCode::kTimeout, "no answer from " + where() + " within " + limit + " (while " + phase + ")"};
  }

  void reset() {
    if (stream) {
      beast::error_code ec;
      beast::get_lowest_layer(*stream).socket().close(ec);
    }
    stream.reset();
    buffer.clear();
  }

  core::Status connect() {
    if (stream) return {};
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(host, std::to_string(port), [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
    });
    run();
    if (ec) return core::fail(core::ErrorCode::kUnavailable, "cannot resolve " + where() + ": " + ec.message());
    stream.emplace(ioc, *tls);
    tls::set_client_sni(stream->native_handle());
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(remaining());
    lowest.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec == beast::error::timeout) {
      reset();
      return std::unexpected(timeout_error("connecting"));
    }
    if (ec) {
      reset();
      return core::fail(core::ErrorCode::kUnavailable, "cannot connect to " + where() + ": " + ec.message());
    }
    lowest.socket().set_option(tcp::no_delay(true), ec);  // no Nagle delay between TLS records
    lowest.expires_after(remaining());
    stream->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run();
    if (ec == beast::error::timeout) {
      reset();
      return std::unexpected(timeout_error("in the TLS handshake"));
    }
    if (ec) {
      reset();
      return core::fail(core::ErrorCode::kUnavailable, "TLS handshake with " + where() + " failed: " + ec.message());
    }
    auto key = tls::peer_key(stream->native_handle());
    if (!key) {
      reset();
      return core::fail(core::ErrorCode::kPermissionDenied, "the server at " + where() + ": " + key.error().message);
    }
    if (!(*key == expected)) {
      reset();
      return core::fail(core::ErrorCode::kPermissionDenied,
                        "authentication failed: the server at " + where() + " presented TLS key " +
                            core::ed25519_public_key_to_string(*key) + ", but the expected key is " +
                            core::ed25519_public_key_to_string(expected));
    }
    return {};
  }

  // One request under the deadline already set. A kept-alive connection
  // that the server closed while idle fails on first use; that failure is
  // reported through `stale` so the caller can retry once on a fresh
  // connection (the request was not processed: nothing came back).
  core::Result<MtlsResponse> exchange(const http::request<http::string_body>& req, bool& stale) {
    stale = false;
    const bool reused = stream.has_value();
    MPC_TRY(connect());
    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(remaining());
    http::async_write(*stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec == beast::error::timeout) {
      reset();
      return std::unexpected(timeout_error("sending the request"));
    }
    if (ec) {
      reset();
      stale = reused;
      return core::fail(core::ErrorCode::kPermissionDenied,
                        "the server at " + where() + " closed the connection after the TLS handshake (" + ec.message() +
                            "): it does not accept this client's key");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    lowest.expires_after(remaining());
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec == beast::error::timeout) {
      reset();
      return std::unexpected(timeout_error("waiting for the answer"));
    }
    if (ec) {
      const bool nothing_received = !parser.got_some();
      reset();
      if (nothing_received && (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
                               ec == asio::error::connection_reset)) {
        stale = reused;
        // On a fresh connection, TLS 1.3 lets the client finish its handshake
        // before the server has judged the client certificate: a server that
        // refuses our key shows up here, as a close without an answer.
        return core::fail(core::ErrorCode::kPermissionDenied,
                          "the server at " + where() +
                              " closed the connection after the TLS handshake without answering: it does not accept this "
                              "client's key (for an MPC node: is this backup service's key registered on-chain for the "
                              "node's account?)");
      }
      if (ec == http::error::body_limit)
        return core::invalid("the answer from " + where() + " is larger than " + std::to_string(options.body_limit) + " bytes");
      return core::fail(core::ErrorCode::kUnavailable, "reading the answer from " + where() + " failed: " + ec.message());
    }
    auto res = parser.release();
    MtlsResponse out{res.result_int(), std::move(res.body())};
    if (!res.keep_alive() || !options.keep_alive) reset();
    return out;
  }

  core::Result<MtlsResponse> request(http::verb method, const std::string& path, std::string body, const std::string& content_type) {
    // One deadline for the whole call, a retry on a fresh connection included.
    deadline = std::chrono::steady_clock::now() + options.timeout;
    http::request<http::string_body> req{method, options.absolute_form ? "http://" + where() + path : path, 11};
    if (!options.absolute_form) req.set(http::field::host, where());
    req.set(http::field::user_agent, "mpc-backup");
    if (!body.empty() || method == http::verb::put || method == http::verb::post) req.set(http::field::content_type, content_type);
    req.keep_alive(options.keep_alive);
    req.body() = std::move(body);
    req.prepare_payload();
    bool stale = false;
    auto out = exchange(req, stale);
    if (!out && stale) out = exchange(req, stale);
    return out;
  }
};

MtlsClient::MtlsClient(std::shared_ptr<asio::ssl::context> tls, std::string host, std::uint16_t port,
                       core::Ed25519PublicKey expected_server_key, MtlsClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::move(tls);
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->expected = expected_server_key;
  impl_->options = options;
}

MtlsClient::~MtlsClient() { close(); }

core::Result<MtlsResponse> MtlsClient::request(http::verb method, const std::string& path, std::string body,
                                               const std::string& content_type) {
  return impl_->request(method, path, std::move(body), content_type);
}

core::Status MtlsClient::connect() {
  impl_->deadline = std::chrono::steady_clock::now() + impl_->options.timeout;
  return impl_->connect();
}

void MtlsClient::close() { impl_->reset(); }

}  // namespace mpc::net
