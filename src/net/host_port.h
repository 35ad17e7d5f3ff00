// A TCP address as operators write it and messages show it: "HOST:PORT",
// HOST a DNS name, an IPv4 literal or an IPv6 literal in brackets
// ("[::1]:8079"). The one place that splits, validates and formats such
// text; URLs (net::Url) split their authority with the same rules.
//
// Host rule: a bracketed host must be an IPv6 literal; an unbracketed one
// holds letters, digits, '.', '-' and '_' only (no scheme, user or path), at
// most 253 characters, and never a ':' (an IPv6 address needs its brackets,
// so "::1:80" is refused rather than guessed at). Port rule: decimal,
// 1..65535, or 0..65535 where PortZero::kAllowed (a listen address, where
// port 0 picks a free port).
//
// Lives in net (not core): its users are all network code, and checking an
// IPv6 literal uses Asio, which core does not link. The header itself needs
// no Asio (from_endpoint is a template), so thin headers can name HostPort.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace mpc::net {

enum class PortZero { kRefused, kAllowed };

// Why a text is not host[:port]. HostPort::parse words these with the text
// (addresses are operator input and carry no secrets); Url::parse words them
// without it (URLs may carry API keys).
enum class HostPortProblem {
  kEmpty,            // nothing at all
  kScheme,           // "https://host:port"
  kBadBrackets,      // "[::1" or "[::1]x"
  kBadIpv6,          // "[zz]:1"
  kNoPort,           // "host" where a port is required
  kUnbracketedIpv6,  // "::1:80"
  kEmptyHost,        // ":80"
  kHostTooLong,      // over 253 characters
  kBadHost,          // a character outside [A-Za-z0-9._-]
  kBadPort,          // not decimal, or out of range
};

// What a problem means, without the text that had it ("no port", ...).
std::string_view describe(HostPortProblem problem, PortZero zero = PortZero::kRefused);

// "host[:port]" split into its parts, brackets removed and the rules above
// applied; the port is nullopt when the text has none.
struct Authority {
  std::string host;
  std::optional<std::uint16_t> port;
};
std::expected<Authority, HostPortProblem> split_authority(std::string_view text, PortZero zero = PortZero::kRefused);

struct HostPort {
  std::string host;  // never bracketed: an IPv6 literal is stored as "::1"
  std::uint16_t port = 0;

  // Parses "HOST:PORT" (the port is required). Errors (kInvalidArgument)
  // name the text, e.g. "expected HOST:PORT, got 'node.example' (no port)";
  // a text holding '@' (user information, perhaps a password) is not echoed.
  static core::Result<HostPort> parse(std::string_view text, PortZero zero = PortZero::kRefused);
  // The address of an Asio endpoint (numeric host).
  template <class Endpoint>
  static HostPort from_endpoint(const Endpoint& endpoint) {
    return HostPort{endpoint.address().to_string(), endpoint.port()};
  }

  // "host:port", "[v6]:port".
  std::string to_string() const;
  // The host as a URL or a Host header writes it: "[v6]" bracketed.
  std::string url_host() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// An address text as an error message may show it: quoted, or not at all
// when it holds user information (possibly a password).
std::string shown_address(std::string_view text);

}  // namespace mpc::net
