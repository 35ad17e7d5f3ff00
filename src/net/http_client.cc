#include "net/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <charconv>
#include <optional>

namespace mpc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

core::Result<Url> Url::parse(std::string_view text) {
  Url u;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return core::invalid("URL must start with http:// or https://");
  u.scheme = std::string(text.substr(0, scheme_end));
  if (u.scheme != "http" && u.scheme != "https") return core::invalid("URL scheme must be http or https");
  std::string_view rest = text.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  u.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return core::invalid("URL has no host");
  std::string_view port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return core::invalid("URL has an unterminated IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return core::invalid("URL has garbage after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return core::invalid("URL has no host");
  for (char c : u.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return core::invalid("URL host contains an invalid character");
    }
  }
  if (port.empty()) {
    u.port = u.scheme == "https" ? "443" : "80";
  } else {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
      return core::invalid("URL has an invalid port");
    }
    u.port = std::string(port);
  }
  return u;
}

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;  // kept alive between requests
};

HttpClient::HttpClient(Url url, HttpClientOptions options)
    : url_(std::move(url)), options_(options), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() = default;

namespace {

core::Error net_error(const beast::error_code& ec, const std::string& where) {
  if (ec == beast::error::timeout) {
    return core::Error{core::ErrorCode::kTimeout, where + ": no answer before the deadline"};
  }
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return core::Error{core::ErrorCode::kInvalidArgument, where + ": the response is larger than the limit"};
  }
  return core::Error{core::ErrorCode::kUnavailable, where + ": " + ec.message()};
}

template <typename Stream>
core::Result<HttpResult> exchange(Stream& stream, beast::tcp_stream& tcp_layer, const Url& url, http::verb method,
                                  std::string body, std::string_view content_type, const HttpClientOptions& options) {
  http::request<http::string_body> req{method, url.target, 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "mpc-backup");
  req.set(http::field::content_type, content_type);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  beast::error_code ec;
  tcp_layer.expires_after(options.timeout);
  http::write(stream, req, ec);
  if (ec) return std::unexpected(net_error(ec, "HTTP request to " + url.host_port()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.body_limit);
  http::read(stream, buffer, parser, ec);
  if (ec) return std::unexpected(net_error(ec, "HTTP response from " + url.host_port()));
  auto res = parser.release();
  return HttpResult{res.result_int(), std::move(res.body())};
}

}  // namespace

core::Result<HttpResult> HttpClient::request(http::verb method, std::string body, std::string_view content_type) {
  const std::string where = url_.host_port();
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto connect = [&](beast::tcp_stream& stream) -> core::Status {
    auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) return core::fail(core::ErrorCode::kUnavailable, "cannot resolve " + where + ": " + ec.message());
    stream.expires_after(options_.timeout);
    stream.connect(endpoints, ec);
    if (ec) return std::unexpected(net_error(ec, "cannot connect to " + where));
    return {};
  };

  if (url_.scheme == "http") {
    // Reuse a kept-alive connection once; if it was closed by the peer, reconnect.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = impl_->plain.has_value();
      if (!reused) {
        impl_->plain.emplace(impl_->ioc);
        if (auto st = connect(*impl_->plain); !st) {
          impl_->plain.reset();
          return std::unexpected(st.error());
        }
      }
      auto r = exchange(*impl_->plain, *impl_->plain, url_, method, body, content_type, options_);
      if (r) return r;
      impl_->plain.reset();
      if (!reused || r.error().code != core::ErrorCode::kUnavailable) return r;
    }
    return core::fail(core::ErrorCode::kUnavailable, "connection to " + where + " keeps closing");
  }

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths(ec);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(impl_->ioc, ctx);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) {
    return core::fail(core::ErrorCode::kInternal, "cannot set TLS server name for " + where);
  }
  stream.set_verify_callback(ssl::host_name_verification(url_.host));
  MPC_TRY(connect(beast::get_lowest_layer(stream)));
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return std::unexpected(net_error(ec, "TLS handshake with " + where));
  auto r = exchange(stream, beast::get_lowest_layer(stream), url_, method, std::move(body), content_type, options_);
  stream.shutdown(ec);
  return r;
}

}  // namespace mpc::net
