#include "net/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <charconv>
#include <optional>

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- Url

core::Result<Url> Url::parse(std::string_view text) {
  if (text.size() > 8192) return core::invalid("URL is longer than 8192 characters");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return core::invalid("URL contains whitespace or a control character");
    }
  }
  Url u;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return core::invalid("URL must start with http:// or https://");
  std::string scheme(text.substr(0, scheme_end));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return core::invalid("URL scheme must be http or https");
  u.scheme = std::move(scheme);

  std::string_view rest = text.substr(scheme_end + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  u.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return core::invalid("URL has no host");

  auto parts = split_authority(authority);
  if (!parts) {
    switch (parts.error()) {
      case HostPortProblem::kBadBrackets: return core::invalid("URL has a malformed [IPv6] address");
      case HostPortProblem::kBadIpv6: return core::invalid("URL has an invalid IPv6 address");
      case HostPortProblem::kEmpty:
      case HostPortProblem::kEmptyHost: return core::invalid("URL has no host");
      case HostPortProblem::kHostTooLong: return core::invalid("URL host is too long");
      case HostPortProblem::kBadPort: return core::invalid("URL has an invalid port");
      default: return core::invalid("URL host contains an invalid character");
    }
  }
  u.host = std::move(parts->host);
  u.port = std::to_string(parts->port.value_or(u.scheme == "https" ? 443 : 80));
  return u;
}

HostPort Url::address() const {
  std::uint16_t value = 0;  // a hand-built Url with a bad port shows port 0
  std::from_chars(port.data(), port.data() + port.size(), value);
  return HostPort{host, value};
}

std::string Url::host_port() const { return address().to_string(); }

// ---------------------------------------------------------------- client

namespace {

// Runs one asynchronous operation to completion on `ioc` and returns its
// error code. Deadlines are enforced by the stream (beast::tcp_stream
// expiry), which completes the operation with beast::error::timeout.
template <typename Start>
beast::error_code run_op(asio::io_context& ioc, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

core::Error classify(const beast::error_code& ec, const std::string& what, const HttpClientOptions& options) {
  if (ec == beast::error::timeout) {
    return core::Error{core::ErrorCode::kTimeout,
                       what + ": no answer within " + std::to_string(options.timeout.count()) + " ms"};
  }
  if (ec == http::error::body_limit) {
    return core::Error{core::ErrorCode::kInvalidArgument,
                       what + ": the response body is larger than the " + std::to_string(options.body_limit) +
                           "-byte limit"};
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return core::Error{core::ErrorCode::kInvalidArgument, what + ": the response header is too large"};
  }
  if (is_http_parse_error(ec)) {
    return core::Error{core::ErrorCode::kInvalidArgument, what + ": malformed HTTP response (" + ec.message() + ")"};
  }
  return core::Error{core::ErrorCode::kUnavailable, what + ": " + ec.message()};
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;  // a kept-alive http:// connection
  std::optional<ssl::context> tls;         // created on first https:// request

  core::Result<tcp::resolver::results_type> resolve(const Url& url) {
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type results;
    auto ec = run_op(ioc, [&](auto handler) {
      resolver.async_resolve(url.host, url.port,
                             [&results, handler](beast::error_code ec, tcp::resolver::results_type r) mutable {
                               results = std::move(r);
                               handler(ec);
                             });
    });
    if (ec) return core::fail(core::ErrorCode::kUnavailable, "cannot resolve " + url.host_port() + ": " + ec.message());
    return results;
  }

  core::Status connect(beast::tcp_stream& stream, const Url& url, Clock::time_point deadline,
                       const HttpClientOptions& options) {
    MPC_ASSIGN(auto endpoints, resolve(url));
    if (Clock::now() >= deadline) return core::fail(core::ErrorCode::kTimeout, "resolving " + url.host_port() + ": deadline passed");
    stream.expires_at(deadline);
    auto ec = run_op(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
    if (ec) return std::unexpected(classify(ec, "cannot connect to " + url.host_port(), options));
    return {};
  }
};

HttpClient::HttpClient(Url url, HttpClientOptions options)
    : url_(std::move(url)), options_(options), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() = default;

namespace {

struct Exchange {
  beast::error_code ec;
  bool wrote = false;       // the request was written completely
  bool got_some = false;    // some response bytes arrived
  bool keep_alive = false;
  HttpResult result;
};

template <typename Stream>
Exchange exchange(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcp_layer, Clock::time_point deadline,
                  const http::request<http::string_body>& req, const HttpClientOptions& options) {
  Exchange x;
  tcp_layer.expires_at(deadline);
  x.ec = run_op(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (x.ec) return x;
  x.wrote = true;
  // Room for 64 KiB per read: Beast reads what the buffer can hold (512
  // bytes when it starts empty), and a large answer (an RPC view of the
  // state) would otherwise take a system call per 512 bytes.
  beast::flat_buffer buffer;
  buffer.reserve(64 << 10);
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.body_limit);
  parser.header_limit(64 << 10);
  x.ec = run_op(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  x.got_some = parser.got_some();
  if (x.ec) return x;
  auto res = parser.release();
  x.keep_alive = res.keep_alive();
  x.result.status = res.result_int();
  x.result.content_type = std::string(res[http::field::content_type]);
  x.result.body = std::move(res.body());
  return x;
}

}  // namespace

core::Result<HttpResult> HttpClient::request(http::verb method, std::string body, std::string_view content_type,
                                             const HttpHeaders& headers) {
  const auto deadline = Clock::now() + options_.timeout;
  const std::string where = url_.host_port();

  http::request<http::string_body> req{method, url_.target, 11};
  req.set(http::field::host, url_.port == (url_.scheme == "https" ? "443" : "80") ? url_.address().url_host() : where);
  req.set(http::field::user_agent, "mpc-backup");
  if (!body.empty() || method == http::verb::post || method == http::verb::put) {
    req.set(http::field::content_type, content_type);
  }
  for (const auto& [name, value] : headers) {
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      return core::invalid("HTTP header '" + name.substr(0, name.find_first_of("\r\n")) + "' contains a line break");
    }
    req.set(name, value);
  }
  req.keep_alive(url_.scheme == "http");
  req.body() = std::move(body);
  req.prepare_payload();

  if (url_.scheme == "http") {
    // A kept-alive connection may have been closed by the server meanwhile:
    // if it fails before any response byte arrives, reconnect once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = impl_->plain.has_value();
      if (!reused) {
        impl_->plain.emplace(impl_->ioc);
        if (auto st = impl_->connect(*impl_->plain, url_, deadline, options_); !st) {
          impl_->plain.reset();
          return std::unexpected(st.error());
        }
      }
      auto x = exchange(impl_->ioc, *impl_->plain, *impl_->plain, deadline, req, options_);
      if (!x.ec) {
        if (!x.keep_alive) impl_->plain.reset();
        return std::move(x.result);
      }
      impl_->plain.reset();
      const bool stale = reused && !x.got_some && x.ec != beast::error::timeout;
      if (!stale) {
        return std::unexpected(classify(x.ec, (x.wrote ? "HTTP response from " : "HTTP request to ") + where, options_));
      }
    }
    return core::fail(core::ErrorCode::kUnavailable, "connection to " + where + " keeps closing");
  }

  if (!impl_->tls) {
    impl_->tls.emplace(ssl::context::tls_client);
    beast::error_code ec;
    impl_->tls->set_default_verify_paths(ec);
    if (ec) {
      impl_->tls.reset();
      return core::fail(core::ErrorCode::kInternal, "cannot load the system CA certificates: " + ec.message());
    }
    impl_->tls->set_verify_mode(ssl::verify_peer);
  }
  beast::ssl_stream<beast::tcp_stream> stream(impl_->ioc, *impl_->tls);
  if (!is_ip_literal(url_.host) && !SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) {
    return core::fail(core::ErrorCode::kInternal, "cannot set the TLS server name for " + where);
  }
  stream.set_verify_callback(ssl::host_name_verification(url_.host));
  MPC_TRY(impl_->connect(beast::get_lowest_layer(stream), url_, deadline, options_));
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto ec = run_op(impl_->ioc, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
  if (ec) {
    auto e = classify(ec, "TLS handshake with " + where, options_);
    return std::unexpected(e);
  }
  auto x = exchange(impl_->ioc, stream, beast::get_lowest_layer(stream), deadline, req, options_);
  if (x.ec) return std::unexpected(classify(x.ec, (x.wrote ? "HTTP response from " : "HTTP request to ") + where, options_));
  // Best-effort close_notify, bounded by a short deadline; the answer is already in hand.
  beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(500));
  (void)run_op(impl_->ioc, [&](auto handler) { stream.async_shutdown(handler); });
  return std::move(x.result);
}

core::Result<HttpResult> HttpClient::get(const HttpHeaders& headers) {
  return request(http::verb::get, std::string(), "application/json", headers);
}

core::Result<HttpResult> HttpClient::post(std::string body, std::string_view content_type, const HttpHeaders& headers) {
  return request(http::verb::post, std::move(body), content_type, headers);
}

}  // namespace mpc::net
