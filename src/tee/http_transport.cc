#include "tee/http_transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <optional>

#include "net/http_client.h"

namespace mpc::tee {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

namespace {

// Runs one asynchronous operation to completion on `ioc`; the streams'
// expiry (set by the caller) bounds it.
template <typename Start>
beast::error_code run_op(asio::io_context& ioc, Start start) {
  beast::error_code result = asio::error::would_block;
  bool done = false;
  start([&result, &done](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  while (!done && ioc.run_one() > 0) {
  }
  return result;
}

core::Error classify(const beast::error_code& ec, const std::string& what, const TransportOptions& options) {
  if (ec == beast::error::timeout)
    return {core::ErrorCode::kTimeout, what + ": no answer within " + std::to_string(options.timeout.count()) + " ms"};
  if (ec == http::error::body_limit)
    return {core::ErrorCode::kInvalidArgument,
            what + ": the response body is larger than the " + std::to_string(options.body_limit) + "-byte limit"};
  if (ec.category() == boost::beast::http::make_error_code(http::error::bad_version).category() && ec != http::error::end_of_stream)
    return {core::ErrorCode::kInvalidArgument, what + ": malformed HTTP response (" + ec.message() + ")"};
  return {core::ErrorCode::kUnavailable, what + ": " + ec.message()};
}

template <typename Stream, typename Layer>
core::Result<HttpReply> exchange(asio::io_context& ioc, Stream& stream, Layer& layer,
                                 const http::request<http::string_body>& req, const std::string& what,
                                 const TransportOptions& options) {
  (void)layer;
  if (auto ec = run_op(ioc, [&](auto h) { http::async_write(stream, req, h); }); ec)
    return std::unexpected(classify(ec, what, options));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.body_limit);
  parser.header_limit(64 << 10);
  if (auto ec = run_op(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); }); ec)
    return std::unexpected(classify(ec, what, options));
  auto res = parser.release();
  HttpReply reply;
  reply.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = std::move(res.body());
  return reply;
}

}  // namespace

std::string HttpReply::header(std::string_view lower_case_name) const {
  auto it = headers.find(std::string(lower_case_name));
  return it == headers.end() ? std::string() : it->second;
}

core::Result<HttpReply> unix_socket_request(const std::filesystem::path& socket, http::verb method, const std::string& target,
                                            std::string body, const TransportOptions& options) {
  const std::string what = "dstack agent at " + socket.string();
  asio::io_context ioc;
  beast::basic_stream<local> stream(ioc);
  stream.expires_after(options.timeout);
  if (auto ec = run_op(ioc, [&](auto h) { stream.async_connect(local::endpoint(socket.string()), h); }); ec)
    return std::unexpected(classify(ec, "cannot connect to the " + what, options));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::connection, "close");
  if (!body.empty() || method == http::verb::post) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  auto reply = exchange(ioc, stream, stream, req, what, options);
  beast::error_code ignored;
  stream.socket().shutdown(local::socket::shutdown_both, ignored);
  return reply;
}

core::Result<HttpReply> url_get(std::string_view url_text, const TransportOptions& options) {
  auto url = net::Url::parse(url_text);
  if (!url) return std::unexpected(url.error());
  const std::string what = url->host_port();
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  auto ec = run_op(ioc, [&](auto h) {
    resolver.async_resolve(url->host, url->port, [&endpoints, h](beast::error_code e, tcp::resolver::results_type r) mutable {
      endpoints = std::move(r);
      h(e);
    });
  });
  if (ec) return core::fail(core::ErrorCode::kUnavailable, "cannot resolve " + what + ": " + ec.message());
  http::request<http::string_body> req{http::verb::get, url->target, 11};
  req.set(http::field::host, url->host);
  req.set(http::field::connection, "close");
  if (url->scheme == "http") {
    beast::tcp_stream stream(ioc);
    stream.expires_after(options.timeout);
    if (auto e = run_op(ioc, [&](auto h) { stream.async_connect(endpoints, h); }); e)
      return std::unexpected(classify(e, "cannot connect to " + what, options));
    return exchange(ioc, stream, stream, req, what, options);
  }
  ssl::context tls(ssl::context::tls_client);
  tls.set_default_verify_paths(ec);
  if (ec) return core::fail(core::ErrorCode::kUnavailable, "cannot load the system CA certificates: " + ec.message());
  tls.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str()))
    return core::fail(core::ErrorCode::kUnavailable, "cannot set the TLS server name for " + what);
  stream.set_verify_callback(ssl::host_name_verification(url->host));
  beast::get_lowest_layer(stream).expires_after(options.timeout);
  if (auto e = run_op(ioc, [&](auto h) { beast::get_lowest_layer(stream).async_connect(endpoints, h); }); e)
    return std::unexpected(classify(e, "cannot connect to " + what, options));
  if (auto e = run_op(ioc, [&](auto h) { stream.async_handshake(ssl::stream_base::client, h); }); e)
    return std::unexpected(classify(e, "TLS handshake with " + what, options));
  return exchange(ioc, stream, beast::get_lowest_layer(stream), req, what, options);
}

}  // namespace mpc::tee
