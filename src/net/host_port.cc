#include "net/host_port.h"

#include <boost/asio/ip/address.hpp>

#include <cctype>
#include <charconv>

namespace mpc::net {

namespace {

constexpr std::size_t kMaxHost = 253;  // a DNS name's limit

bool is_host_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'; }

std::expected<std::uint16_t, HostPortProblem> parse_port(std::string_view text, PortZero zero) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535 ||
      (value == 0 && zero == PortZero::kRefused))
    return std::unexpected(HostPortProblem::kBadPort);
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string shown_address(std::string_view text) {
  if (text.find('@') != std::string_view::npos) return "a value with user information (not shown)";
  return "'" + std::string(text) + "'";
}

std::string_view describe(HostPortProblem problem, PortZero zero) {
  switch (problem) {
    case HostPortProblem::kEmpty: return "an empty value";
    case HostPortProblem::kScheme: return "HOST:PORT has no scheme";
    case HostPortProblem::kBadBrackets: return "an IPv6 address is written [ADDR]:PORT";
    case HostPortProblem::kBadIpv6: return "not an IPv6 address inside the brackets";
    case HostPortProblem::kNoPort: return "no port";
    case HostPortProblem::kUnbracketedIpv6: return "an IPv6 address needs brackets: [ADDR]:PORT";
    case HostPortProblem::kEmptyHost: return "empty host";
    case HostPortProblem::kHostTooLong: return "the host is longer than 253 characters";
    case HostPortProblem::kBadHost: return "the host may hold letters, digits, '.', '-' and '_' only: no user or path";
    case HostPortProblem::kBadPort: return zero == PortZero::kAllowed ? "the port must be 0..65535" : "the port must be 1..65535";
  }
  return "invalid";
}

std::expected<Authority, HostPortProblem> split_authority(std::string_view text, PortZero zero) {
  if (text.empty()) return std::unexpected(HostPortProblem::kEmpty);
  if (text.find("://") != std::string_view::npos) return std::unexpected(HostPortProblem::kScheme);
  Authority out;
  std::optional<std::string_view> port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::unexpected(HostPortProblem::kBadBrackets);
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) return std::unexpected(HostPortProblem::kEmptyHost);
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address_v6(out.host, ec);
    if (ec) return std::unexpected(HostPortProblem::kBadIpv6);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::unexpected(HostPortProblem::kBadBrackets);
      port = after.substr(1);
    }
  } else {
    const auto colon = text.rfind(':');
    const std::string_view host = text.substr(0, colon);
    if (colon != std::string_view::npos) port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::unexpected(HostPortProblem::kUnbracketedIpv6);
    if (host.empty()) return std::unexpected(HostPortProblem::kEmptyHost);
    if (host.size() > kMaxHost) return std::unexpected(HostPortProblem::kHostTooLong);
    for (char c : host)
      if (!is_host_char(c)) return std::unexpected(HostPortProblem::kBadHost);
    out.host = std::string(host);
  }
  if (port) {
    auto value = parse_port(*port, zero);
    if (!value) return std::unexpected(value.error());
    out.port = *value;
  }
  return out;
}

core::Result<HostPort> HostPort::parse(std::string_view text, PortZero zero) {
  auto parts = split_authority(text, zero);
  if (parts && !parts->port) parts = std::unexpected(HostPortProblem::kNoPort);
  if (!parts) {
    switch (parts.error()) {
      case HostPortProblem::kEmpty: return core::invalid("expected HOST:PORT, got an empty value");
      case HostPortProblem::kScheme: {
        const auto scheme = text.substr(0, text.find("://") + 3);
        return core::invalid("expected HOST:PORT with no scheme, got " + shown_address(text) + " (drop '" +
                             (scheme.find('@') == std::string_view::npos ? std::string(scheme) : "the scheme") + "')");
      }
      default:
        return core::invalid("expected HOST:PORT, got " + shown_address(text) + " (" + std::string(describe(parts.error(), zero)) + ")");
    }
  }
  return HostPort{std::move(parts->host), *parts->port};
}

std::string HostPort::url_host() const { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

std::string HostPort::to_string() const { return url_host() + ":" + std::to_string(port); }

}  // namespace mpc::net
