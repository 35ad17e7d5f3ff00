// A synchronous HTTP/1.1 client over mutual TLS 1.3, for backup-cli and
// tests: it presents our certificate, checks that the server's Ed25519 key is
// the expected one, and keeps the connection alive between requests. Every
// request has one total deadline (connect, handshake, write, read).
//
// Errors (core::ErrorCode):
//   kUnavailable       cannot resolve/connect, connection reset mid-answer
//   kTimeout           the deadline passed (the message names the phase)
//   kPermissionDenied  the server's key is not the expected one (both public
//                      keys named), or it closed the connection after the
//                      handshake without answering (it refused our key)
//   kInvalidArgument   a malformed or oversized answer
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>

#include "core/crypto.h"
#include "core/result.h"

namespace mpc::net {

struct MtlsResponse {
  unsigned status = 0;
  std::string body;
};

struct MtlsClientOptions {
  std::chrono::milliseconds timeout{30'000};
  std::size_t body_limit = 64 << 20;
  bool keep_alive = true;
  bool absolute_form = false;  // send "http://host/path" targets like the reference client
};

class MtlsClient {
 public:
  MtlsClient(std::shared_ptr<boost::asio::ssl::context> tls, std::string host, std::uint16_t port,
             core::Ed25519PublicKey expected_server_key, MtlsClientOptions options = {});
  ~MtlsClient();
  MtlsClient(const MtlsClient&) = delete;
  MtlsClient& operator=(const MtlsClient&) = delete;

  core::Result<MtlsResponse> request(boost::beast::http::verb method, const std::string& path, std::string body = {},
                                     const std::string& content_type = "application/json");
  // Connects and handshakes only (checks the server's key).
  core::Status connect();
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::net
