// A synchronous HTTP/1.1 client over mutual TLS 1.3, for backup-cli and
// tests: it presents our certificate, checks that the server's Ed25519 key is
// the expected one, and keeps the connection alive between requests. Every
// request has one total deadline (connect, handshake, write, read).
//
// A failure is an MtlsError: a core::Error (code and a readable message)
// plus an MtlsFailure saying, as values, in which phase it failed, why, and
// whether any byte of the answer had arrived, so that callers decide (retry
// or not, which exit code) without reading the text.
//
// Codes:
//   kUnavailable       cannot resolve/connect, the handshake failed, or the
//                      peer closed/reset the connection (before or during
//                      the answer). A server that does not accept our key
//                      closes right after the handshake: that is seen here
//                      too, as a close before any answer byte.
//   kTimeout           the deadline passed (the message names the phase)
//   kPermissionDenied  the server's key is not the expected one (both public
//                      keys named), or its certificate holds no usable key
//   kInvalidArgument   a malformed or oversized answer
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include "core/crypto.h"
#include "core/result.h"

namespace mpc::net {

struct MtlsResponse {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
};

enum class MtlsPhase : std::uint8_t {
  kResolve,
  kConnect,
  kHandshake,
  kPeerKey,                   // the server's certificate or key (mismatch: kKeyMismatch)
  kWrite,                     // sending the request
  kReadBeforeResponse,        // waiting for the answer, no byte of it yet
  kReadAfterResponseStarted,  // part of the answer had arrived
};

enum class MtlsCause : std::uint8_t {
  kTimeout,      // the request's deadline passed
  kRefused,      // connection refused (nobody listening)
  kReset,        // connection reset / broken pipe / aborted
  kClosed,       // orderly or abrupt end of stream (EOF, TLS close_notify, truncation)
  kTlsError,     // a TLS alert or protocol error
  kKeyMismatch,  // the server's key is not the expected one
  kBadCertificate,
  kBadResponse,  // malformed or oversized HTTP answer
  kOther,
};

struct MtlsFailure {
  MtlsPhase phase = MtlsPhase::kConnect;
  MtlsCause cause = MtlsCause::kOther;
  bool response_started = false;   // at least one byte of the answer arrived
  bool reused_connection = false;  // on a kept-alive connection
  bool operator==(const MtlsFailure&) const = default;
};

const char* mtls_phase_name(MtlsPhase phase);
const char* mtls_cause_name(MtlsCause cause);

// Converts to core::Error (slicing) wherever a core::Result is returned.
struct MtlsError : core::Error {
  MtlsFailure failure;
};

template <class T>
using MtlsResult = std::expected<T, MtlsError>;

struct MtlsClientOptions {
  std::chrono::milliseconds timeout{30'000};
  std::size_t body_limit = 64 << 20;
  bool keep_alive = true;
  bool absolute_form = false;  // send "http://host/path" targets like the reference client
  // Binds the client socket to this local address before connecting (tests
  // and benchmarks that need distinct source addresses on loopback).
  std::optional<boost::asio::ip::address> local_address;
};

class MtlsClient {
 public:
  MtlsClient(std::shared_ptr<boost::asio::ssl::context> tls, std::string host, std::uint16_t port,
             core::Ed25519PublicKey expected_server_key, MtlsClientOptions options = {});
  ~MtlsClient();
  MtlsClient(const MtlsClient&) = delete;
  MtlsClient& operator=(const MtlsClient&) = delete;

  // A kept-alive connection the server had closed while idle is replaced
  // once, within the same deadline, when nothing of the answer came back.
  MtlsResult<MtlsResponse> request(boost::beast::http::verb method, const std::string& path, std::string body = {},
                                   const std::string& content_type = "application/json");
  // Connects and handshakes only (checks the server's key).
  MtlsResult<void> connect();
  void close();
  // TLS handshakes completed so far (a kept-alive connection counts once).
  std::size_t handshakes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::net
