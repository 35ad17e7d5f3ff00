// A small synchronous HTTP/1.1 client on Boost.Beast, for JSON-RPC.
//
// http:// connections are kept alive and reused; https:// (OpenSSL, peer
// verified against the system CAs, SNI set) uses one connection per request.
// Every request has a total deadline and a response size limit. Error
// messages name host:port only, never the path, query or userinfo (RPC URLs
// may carry API keys).
//
// Thread safety: one HttpClient per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"

namespace mpc::net {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::string port;
  std::string target;  // path + query, at least "/"
  // Parses http(s)://[userinfo@]host[:port][/path][?query]. Errors do not echo the URL.
  static core::Result<Url> parse(std::string_view text);
  std::string host_port() const { return host + ":" + port; }
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{30'000};
  std::size_t body_limit = 64 << 20;
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
};

class HttpClient {
 public:
  HttpClient(Url url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // kUnavailable: cannot connect / connection lost; kTimeout: deadline passed;
  // kInvalidArgument: response too large or malformed.
  core::Result<HttpResult> request(boost::beast::http::verb method, std::string body,
                                   std::string_view content_type = "application/json");
  const Url& url() const { return url_; }

 private:
  struct Impl;
  Url url_;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::net
