#include "net/host_port.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "net/http_server.h"  // parse_listen_address

namespace mpc::net {
namespace {

std::string error_of(std::string_view text, PortZero zero = PortZero::kRefused) {
  auto r = HostPort::parse(text, zero);
  EXPECT_FALSE(r) << "accepted: " << text;
  if (r) return "";
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  return r.error().message;
}

TEST(HostPort, ParsesNamesIpv4AndBracketedIpv6) {
  EXPECT_EQ(HostPort::parse("node.example:8079"), (HostPort{"node.example", 8079}));
  EXPECT_EQ(HostPort::parse("10.0.0.9:1"), (HostPort{"10.0.0.9", 1}));
  EXPECT_EQ(HostPort::parse("[::1]:65535"), (HostPort{"::1", 65535}));
  EXPECT_EQ(HostPort::parse("[2001:db8::7]:443"), (HostPort{"2001:db8::7", 443}));
  EXPECT_EQ(HostPort::parse("my_host-1.local:80"), (HostPort{"my_host-1.local", 80}));
}

TEST(HostPort, FormatsIpv6WithBracketsAndRoundTrips) {
  EXPECT_EQ((HostPort{"node.example", 8079}).to_string(), "node.example:8079");
  EXPECT_EQ((HostPort{"::1", 80}).to_string(), "[::1]:80");
  EXPECT_EQ((HostPort{"::1", 80}).url_host(), "[::1]");
  EXPECT_EQ((HostPort{"127.0.0.1", 80}).url_host(), "127.0.0.1");
  for (const char* text : {"a.b:1", "[::]:0", "[fe80::1]:9", "127.0.0.1:3030"}) {
    auto parsed = HostPort::parse(text, PortZero::kAllowed);
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message;
    EXPECT_EQ(parsed->to_string(), text);
  }
}

TEST(HostPort, FromEndpointIsNumericAndBracketsIpv6) {
  using boost::asio::ip::make_address;
  using boost::asio::ip::tcp;
  EXPECT_EQ(HostPort::from_endpoint(tcp::endpoint(make_address("127.0.0.1"), 3030)).to_string(), "127.0.0.1:3030");
  EXPECT_EQ(HostPort::from_endpoint(tcp::endpoint(make_address("::1"), 8079)).to_string(), "[::1]:8079");
}

TEST(HostPort, ChecksThePortRange) {
  EXPECT_NE(error_of("h:0").find("the port must be 1..65535"), std::string::npos);
  EXPECT_NE(error_of("h:65536").find("the port must be 1..65535"), std::string::npos);
  EXPECT_NE(error_of("h:12ab").find("the port must be"), std::string::npos);
  EXPECT_NE(error_of("h:-1").find("the port must be"), std::string::npos);
  EXPECT_NE(error_of("h:+1").find("the port must be"), std::string::npos);
  EXPECT_NE(error_of("h:").find("the port must be"), std::string::npos);
  EXPECT_NE(error_of("h:99999999999999999999").find("the port must be"), std::string::npos);
  EXPECT_EQ(HostPort::parse("h:0", PortZero::kAllowed), (HostPort{"h", 0}));
  EXPECT_NE(error_of("h:65536", PortZero::kAllowed).find("the port must be 0..65535"), std::string::npos);
}

TEST(HostPort, NamesWhatIsWrongAndTheText) {
  EXPECT_EQ(error_of(""), "expected HOST:PORT, got an empty value");
  EXPECT_EQ(error_of("node.example"), "expected HOST:PORT, got 'node.example' (no port)");
  EXPECT_EQ(error_of("[::1]"), "expected HOST:PORT, got '[::1]' (no port)");
  EXPECT_EQ(error_of("https://node.example:8079"), "expected HOST:PORT with no scheme, got 'https://node.example:8079' (drop 'https://')");
  EXPECT_NE(error_of("::1:8079").find("an IPv6 address needs brackets: [ADDR]:PORT"), std::string::npos);
  EXPECT_NE(error_of("[::1:8079").find("an IPv6 address is written [ADDR]:PORT"), std::string::npos);
  EXPECT_NE(error_of("[::1]8079").find("an IPv6 address is written [ADDR]:PORT"), std::string::npos);
  EXPECT_NE(error_of("[zz]:8079").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(error_of(":8079").find("empty host"), std::string::npos);
  EXPECT_NE(error_of("[]:8079").find("empty host"), std::string::npos);
  EXPECT_NE(error_of("node/x:8079").find("the host may hold"), std::string::npos);
  EXPECT_NE(error_of("no de:8079").find("the host may hold"), std::string::npos);
  EXPECT_NE(error_of(std::string(254, 'a') + ":1").find("longer than 253"), std::string::npos);
  EXPECT_TRUE(HostPort::parse(std::string(253, 'a') + ":1"));
}

TEST(HostPort, NeverEchoesUserInformation) {
  for (const char* text : {"user:SECRET@node:8079", "https://user:SECRET@node:8079", "SECRET@node"}) {
    const auto message = error_of(text);
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << message;
    EXPECT_NE(message.find("HOST:PORT"), std::string::npos) << message;
  }
}

TEST(SplitAuthority, LeavesThePortOptionalAndReportsTypedProblems) {
  auto a = split_authority("rpc.example.org");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "rpc.example.org");
  EXPECT_FALSE(a->port);
  auto v6 = split_authority("[::1]");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(v6->port);
  EXPECT_EQ(split_authority("h:70000").error(), HostPortProblem::kBadPort);
  EXPECT_EQ(split_authority("a:b:c").error(), HostPortProblem::kUnbracketedIpv6);
  EXPECT_EQ(split_authority("").error(), HostPortProblem::kEmpty);
  EXPECT_EQ(split_authority("http://h:1").error(), HostPortProblem::kScheme);
}

TEST(ParseListenAddress, TakesIpLiteralsLocalhostAndPortZero) {
  auto v4 = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->port(), 0);
  EXPECT_TRUE(v4->address().is_loopback());
  auto any6 = parse_listen_address("[::]:8079");
  ASSERT_TRUE(any6);
  EXPECT_TRUE(any6->address().is_v6());
  EXPECT_TRUE(any6->address().is_unspecified());
  auto local = parse_listen_address("localhost:3030");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->address().to_string(), "127.0.0.1");
}

TEST(ParseListenAddress, RefusesNamesAndMalformedAddressesNamingTheText) {
  auto name = parse_listen_address("node.example:3030");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().message, "cannot listen on 'node.example:3030': HOST must be a numeric IP address or localhost");
  auto no_port = parse_listen_address("127.0.0.1");
  ASSERT_FALSE(no_port);
  EXPECT_EQ(no_port.error().message, "expected HOST:PORT, got '127.0.0.1' (no port)");
  EXPECT_FALSE(parse_listen_address("::1:3030"));  // ambiguous without brackets
  EXPECT_FALSE(parse_listen_address("127.0.0.1:65536"));
}

}  // namespace
}  // namespace mpc::net
