#include <charconv>

#include "backup/node_client.h"

namespace mpc::backup {

std::string NodeAddress::to_string() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

core::Result<NodeAddress> NodeAddress::parse(std::string_view text) {
  if (text.empty()) return core::invalid("expected host:port, got an empty value");
  if (auto scheme = text.find("://"); scheme != std::string_view::npos)
    return core::invalid("expected host:port with no scheme, got '" + std::string(text) + "' (drop '" +
                         std::string(text.substr(0, scheme + 3)) + "': the connection is always mutual TLS)");
  std::string_view host, port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return core::invalid("expected [ipv6]:port, got '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return core::invalid("expected host:port, got '" + std::string(text) + "' (no port)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return core::invalid("an IPv6 address needs brackets: [addr]:port, got '" + std::string(text) + "'");
  }
  if (host.empty()) return core::invalid("empty host in '" + std::string(text) + "'");
  for (char c : host)
    if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#')
      return core::invalid("expected host:port without scheme or path, got '" + std::string(text) + "'");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return core::invalid("invalid port in '" + std::string(text) + "' (1..65535)");
  return NodeAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace mpc::backup
