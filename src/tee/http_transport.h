// The HTTP exchanges of the attestation sources, on Boost.Beast: the dstack
// guest agent over its unix socket (asio::local::stream_protocol) and a
// PCCS / Intel PCS over http(s) (the collateral's issuer chains come in
// response headers, which net::HttpClient does not return). One request per
// connection, one total deadline covering connect, TLS, write and read, and a
// response body limit. Errors name the socket path or host:port only.
//
//   kUnavailable      cannot connect, connection closed, TLS failure
//   kTimeout          the deadline passed
//   kInvalidArgument  malformed response, body over the limit, bad URL
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"

namespace mpc::tee {

struct HttpReply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The header's value, or empty.
  std::string header(std::string_view lower_case_name) const;
};

struct TransportOptions {
  std::chrono::milliseconds timeout{30'000};
  std::size_t body_limit = 4 << 20;
};

// One request to an HTTP server on a unix socket (Host: localhost).
core::Result<HttpReply> unix_socket_request(const std::filesystem::path& socket, boost::beast::http::verb method,
                                            const std::string& target, std::string body, const TransportOptions& options);

// GET of an http:// or https:// URL (https: peer verified against the system
// CAs and the host name, SNI set).
core::Result<HttpReply> url_get(std::string_view url, const TransportOptions& options);

}  // namespace mpc::tee
