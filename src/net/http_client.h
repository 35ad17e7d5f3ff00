// A small synchronous HTTP/1.1 client on Boost.Beast (JSON-RPC, REST).
//
// http:// connections are kept alive and reused; https:// (OpenSSL, peer
// certificate verified against the system CAs and the host name, SNI set)
// uses one connection per request. Every request has ONE total deadline
// covering connect, TLS handshake, write and read (DNS resolution is bounded
// by the system resolver), and a response size limit.
//
// Errors (core::ErrorCode):
//   kUnavailable      DNS failure, connection refused/reset/closed, TLS failure
//   kTimeout          the request's deadline passed
//   kInvalidArgument  a bad URL, a response over the limit, a malformed response
// Error messages name host:port only, never the path, query or userinfo (RPC
// URLs may carry API keys).
//
// Thread safety: an HttpClient is not thread-safe; use one per thread or
// serialise calls (near::RpcClient does).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"
#include "net/host_port.h"

namespace mpc::net {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // decimal, defaulted from the scheme
  std::string target;  // path + query, at least "/"; the fragment is dropped
  // Parses http(s)://[userinfo@]host[:port][/path][?query][#fragment].
  // Userinfo is accepted and discarded. Errors never echo the URL.
  static core::Result<Url> parse(std::string_view text);
  // The host and port (the port defaulted from the scheme).
  HostPort address() const;
  // "host:port" ("[::1]:port" for IPv6): the only part of a URL that may
  // appear in messages.
  std::string host_port() const;
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{30'000};  // total, per request
  std::size_t body_limit = 64 << 20;          // response body bytes
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(Url url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` to the URL's target with `body` (a Content-Type header is
  // set when the body is non-empty or the method is POST/PUT) and `headers`.
  // Any HTTP status is a success here; callers interpret it.
  core::Result<HttpResult> request(boost::beast::http::verb method, std::string body,
                                   std::string_view content_type = "application/json",
                                   const HttpHeaders& headers = {});
  core::Result<HttpResult> get(const HttpHeaders& headers = {});
  core::Result<HttpResult> post(std::string body, std::string_view content_type = "application/json",
                                const HttpHeaders& headers = {});

  const Url& url() const { return url_; }
  const HttpClientOptions& options() const { return options_; }

 private:
  struct Impl;
  Url url_;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::net
