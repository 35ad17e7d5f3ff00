#include "net/mtls_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

#include "core/near_key.h"
#include "net/host_port.h"
#include "tls/tls.h"

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const char* mtls_phase_name(MtlsPhase phase) {
  switch (phase) {
    case MtlsPhase::kResolve: return "resolve";
    case MtlsPhase::kConnect: return "connect";
    case MtlsPhase::kHandshake: return "handshake";
    case MtlsPhase::kPeerKey: return "peer_key";
    case MtlsPhase::kWrite: return "write";
    case MtlsPhase::kReadBeforeResponse: return "read_before_response";
    case MtlsPhase::kReadAfterResponseStarted: return "read_after_response_started";
  }
  return "unknown";
}

const char* mtls_cause_name(MtlsCause cause) {
  switch (cause) {
    case MtlsCause::kTimeout: return "timeout";
    case MtlsCause::kRefused: return "refused";
    case MtlsCause::kReset: return "reset";
    case MtlsCause::kClosed: return "closed";
    case MtlsCause::kTlsError: return "tls_error";
    case MtlsCause::kKeyMismatch: return "key_mismatch";
    case MtlsCause::kBadCertificate: return "bad_certificate";
    case MtlsCause::kBadResponse: return "bad_response";
    case MtlsCause::kOther: return "other";
  }
  return "unknown";
}

namespace {

// What an I/O error code means, as a value.
MtlsCause cause_of(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return MtlsCause::kTimeout;
  if (ec == asio::error::connection_refused) return MtlsCause::kRefused;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == asio::error::connection_aborted)
    return MtlsCause::kReset;
  if (ec == asio::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::ssl::error::stream_truncated)
    return MtlsCause::kClosed;
  if (ec.category() == asio::error::get_ssl_category()) return MtlsCause::kTlsError;
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) return MtlsCause::kBadResponse;
  return MtlsCause::kOther;
}

std::unexpected<MtlsError> failed(core::ErrorCode code, std::string message, MtlsFailure failure) {
  return std::unexpected(MtlsError{core::Error{code, std::move(message)}, failure});
}

}  // namespace

struct MtlsClient::Impl {
  std::shared_ptr<asio::ssl::context> tls;
  HostPort address;
  core::Ed25519PublicKey expected;
  MtlsClientOptions options;
  asio::io_context ioc;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point deadline;
  std::size_t handshakes = 0;

  std::string where() const { return address.to_string(); }

  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds(1);
  }

  // Runs the io_context until the started operation completes.
  void run() {
    ioc.restart();
    ioc.run();
  }

  std::unexpected<MtlsError> timeout_error(const char* while_doing, MtlsFailure failure) const {
    const auto ms = options.timeout.count();
    const std::string limit = ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    failure.cause = MtlsCause::kTimeout;
    return failed(core::ErrorCode::kTimeout, "no answer from " + where() + " within " + limit + " (while " + while_doing + ")",
                  failure);
  }

  void reset() {
    if (stream) {
      beast::error_code ec;
      beast::get_lowest_layer(*stream).socket().close(ec);
    }
    stream.reset();
    buffer.clear();
  }

  MtlsResult<void> connect() {
    if (stream) return {};
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(address.host, std::to_string(address.port), [&](beast::error_code e, tcp::resolver::results_type r) {
      ec = e;
      endpoints = std::move(r);
    });
    run();
    if (ec)
      return failed(core::ErrorCode::kUnavailable, "cannot resolve " + where() + ": " + ec.message(),
                    MtlsFailure{MtlsPhase::kResolve, cause_of(ec)});
    stream.emplace(ioc, *tls);
    tls::set_client_sni(stream->native_handle());
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(remaining());
    if (options.local_address) {
      // Bound first, so one endpoint of the local address's family is tried.
      std::optional<tcp::endpoint> target;
      for (const auto& entry : endpoints)
        if (entry.endpoint().address().is_v4() == options.local_address->is_v4()) {
          target = entry.endpoint();
          break;
        }
      if (!target) {
        reset();
        return failed(core::ErrorCode::kUnavailable, "cannot connect to " + where() + " from " + options.local_address->to_string() +
                                                         ": no address of the same family",
                      MtlsFailure{MtlsPhase::kConnect, MtlsCause::kOther});
      }
      lowest.socket().open(target->protocol(), ec);
      if (!ec) lowest.socket().bind(tcp::endpoint(*options.local_address, 0), ec);
      if (ec) {
        reset();
        return failed(core::ErrorCode::kUnavailable, "cannot bind to " + options.local_address->to_string() + ": " + ec.message(),
                      MtlsFailure{MtlsPhase::kConnect, cause_of(ec)});
      }
      lowest.async_connect(*target, [&](beast::error_code e) { ec = e; });
    } else {
      lowest.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    }
    run();
    if (ec) {
      reset();
      if (ec == beast::error::timeout) return timeout_error("connecting", MtlsFailure{MtlsPhase::kConnect});
      return failed(core::ErrorCode::kUnavailable, "cannot connect to " + where() + ": " + ec.message(),
                    MtlsFailure{MtlsPhase::kConnect, cause_of(ec)});
    }
    lowest.socket().set_option(tcp::no_delay(true), ec);  // no Nagle delay between TLS records
    lowest.expires_after(remaining());
    stream->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run();
    if (ec) {
      reset();
      if (ec == beast::error::timeout) return timeout_error("in the TLS handshake", MtlsFailure{MtlsPhase::kHandshake});
      const auto cause = cause_of(ec);
      const std::string how = cause == MtlsCause::kClosed || cause == MtlsCause::kReset
                                  ? "the server closed the connection during the TLS handshake"
                                  : "TLS handshake with " + where() + " failed";
      return failed(core::ErrorCode::kUnavailable, how + " (" + where() + "): " + ec.message(),
                    MtlsFailure{MtlsPhase::kHandshake, cause});
    }
    ++handshakes;
    auto key = tls::peer_key(stream->native_handle());
    if (!key) {
      reset();
      return failed(core::ErrorCode::kPermissionDenied, "the server at " + where() + ": " + key.error().message,
                    MtlsFailure{MtlsPhase::kPeerKey, MtlsCause::kBadCertificate});
    }
    if (!(*key == expected)) {
      reset();
      return failed(core::ErrorCode::kPermissionDenied,
                    "authentication failed: the server at " + where() + " presented TLS key " +
                        core::ed25519_public_key_to_string(*key) + ", but the expected key is " +
                        core::ed25519_public_key_to_string(expected),
                    MtlsFailure{MtlsPhase::kPeerKey, MtlsCause::kKeyMismatch});
    }
    return {};
  }

  // One request under the deadline already set.
  MtlsResult<MtlsResponse> exchange(const http::request<http::string_body>& req) {
    const bool reused = stream.has_value();
    if (auto st = connect(); !st) return std::unexpected(std::move(st).error());
    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(remaining());
    http::async_write(*stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) {
      reset();
      const MtlsFailure f{MtlsPhase::kWrite, cause_of(ec), false, reused};
      if (ec == beast::error::timeout) return timeout_error("sending the request", f);
      return failed(core::ErrorCode::kUnavailable,
                    "the server at " + where() + " closed the connection before answering (" + ec.message() + ")" + refusal_hint(),
                    f);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    const std::size_t buffered_before = buffer.size();
    lowest.expires_after(remaining());
    http::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) {
      const bool started = parser.got_some() || buffer.size() > buffered_before;
      reset();
      MtlsFailure f{started ? MtlsPhase::kReadAfterResponseStarted : MtlsPhase::kReadBeforeResponse, cause_of(ec), started, reused};
      if (ec == beast::error::timeout) return timeout_error(started ? "receiving the answer" : "waiting for the answer", f);
      if (ec == http::error::body_limit) {
        f.cause = MtlsCause::kBadResponse;
        return failed(core::ErrorCode::kInvalidArgument,
                      "the answer from " + where() + " is larger than " + std::to_string(options.body_limit) + " bytes", f);
      }
      if (f.cause == MtlsCause::kBadResponse)
        return failed(core::ErrorCode::kInvalidArgument, "the answer from " + where() + " is not valid HTTP: " + ec.message(), f);
      if (!started && (f.cause == MtlsCause::kClosed || f.cause == MtlsCause::kReset))
        return failed(core::ErrorCode::kUnavailable,
                      "the server at " + where() + " closed the connection without answering (" + ec.message() + ")" + refusal_hint(),
                      f);
      return failed(core::ErrorCode::kUnavailable,
                    std::string(started ? "the connection to " + where() + " broke during the answer: "
                                        : "reading the answer from " + where() + " failed: ") +
                        ec.message(),
                    f);
    }
    auto res = parser.release();
    MtlsResponse out{res.result_int(), std::move(res.body()), {}};
    for (const auto& field : res.base()) out.headers.insert(field.name_string(), field.value());
    if (!res.keep_alive() || !options.keep_alive) reset();
    return out;
  }

  // TLS 1.3 lets the client finish its handshake before the server has
  // judged the client certificate, so a server that refuses our key shows up
  // as a close without an answer (as does one that is shedding connections).
  static std::string refusal_hint() {
    return "; if this persists, the server may not accept this client's key (for an MPC node: is this backup service's key "
           "the one registered on-chain for the node's account?)";
  }

  MtlsResult<MtlsResponse> request(http::verb method, const std::string& path, std::string body, const std::string& content_type) {
    // One deadline for the whole call, a retry on a fresh connection included.
    deadline = std::chrono::steady_clock::now() + options.timeout;
    http::request<http::string_body> req{method, options.absolute_form ? "http://" + where() + path : path, 11};
    if (!options.absolute_form) req.set(http::field::host, where());
    req.set(http::field::user_agent, "mpc-backup");
    if (!body.empty() || method == http::verb::put || method == http::verb::post) req.set(http::field::content_type, content_type);
    req.keep_alive(options.keep_alive);
    req.body() = std::move(body);
    req.prepare_payload();
    auto out = exchange(req);
    // A kept-alive connection that the server closed while idle fails on
    // first use without any answer: the request was not processed.
    if (!out) {
      const auto& f = out.error().failure;
      const bool stale = f.reused_connection && !f.response_started &&
                         (f.phase == MtlsPhase::kWrite || f.phase == MtlsPhase::kReadBeforeResponse) &&
                         (f.cause == MtlsCause::kClosed || f.cause == MtlsCause::kReset);
      if (stale) out = exchange(req);
    }
    return out;
  }
};

MtlsClient::MtlsClient(std::shared_ptr<asio::ssl::context> tls, std::string host, std::uint16_t port,
                       core::Ed25519PublicKey expected_server_key, MtlsClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::move(tls);
  impl_->address = HostPort{std::move(host), port};
  impl_->expected = expected_server_key;
  impl_->options = options;
}

MtlsClient::~MtlsClient() { close(); }

MtlsResult<MtlsResponse> MtlsClient::request(http::verb method, const std::string& path, std::string body,
                                             const std::string& content_type) {
  return impl_->request(method, path, std::move(body), content_type);
}

MtlsResult<void> MtlsClient::connect() {
  impl_->deadline = std::chrono::steady_clock::now() + impl_->options.timeout;
  return impl_->connect();
}

void MtlsClient::close() { impl_->reset(); }

std::size_t MtlsClient::handshakes() const { return impl_->handshakes; }

}  // namespace mpc::net
