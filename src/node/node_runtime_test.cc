#include "node/node_runtime.h"

#include <gtest/gtest.h>

namespace mpc::node {
namespace {

net::HostPort listen(const std::string& text) { return net::HostPort::parse(text, net::PortZero::kAllowed).value(); }

TEST(ListenersApart, TheMigrationPortMayNotBeTheP2PPortOfTheSameHost) {
  EXPECT_TRUE(check_listeners_apart("https://127.0.0.1:3000", listen("127.0.0.1:8079")));
  EXPECT_TRUE(check_listeners_apart("http://node.example.com:80", listen("0.0.0.0:8079")));
  EXPECT_TRUE(check_listeners_apart("https://10.0.0.5:8079", listen("10.0.0.6:8079")));  // another host
  for (const auto& [url, addr] : std::vector<std::pair<std::string, std::string>>{{"https://127.0.0.1:8079", "127.0.0.1:8079"},
                                                                                  {"https://node.example.com:8079", "0.0.0.0:8079"},
                                                                                  {"https://localhost:9000", "127.0.0.1:9000"},
                                                                                  {"https://[::1]:9000", "[::]:9000"}}) {
    auto st = check_listeners_apart(url, listen(addr));
    ASSERT_FALSE(st) << url << " " << addr;
    EXPECT_NE(st.error().message.find("would share the P2P port"), std::string::npos) << st.error().message;
  }
}

TEST(ListenersApart, TheP2PUrlMustBeAUrl) {
  auto st = check_listeners_apart("node.example.com:80", listen("0.0.0.0:8079"));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("--p2p-url"), std::string::npos);
  EXPECT_FALSE(check_listeners_apart("https://node.example.com:80/path", listen("0.0.0.0:8079")));
}

}  // namespace
}  // namespace mpc::node
