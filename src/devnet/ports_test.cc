// The devnet's P2P ports: chosen where no port-0 listener or outgoing
// connection can take them, and held, listening, until the node inherits
// its own.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <set>
#include <gtest/gtest.h>

#include "core/unique_fd.h"
#include "devnet/network.h"
#include "devnet/supervisor.h"

namespace mpc::devnet {
namespace {

// A socket bound to 127.0.0.1:port with SO_REUSEADDR, as every port-0
// listener of the project binds: 0 if the bind succeeded, else errno.
int bind_reusing(std::uint16_t port, core::UniqueFd& fd) {
  fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno;
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

TEST(DevnetPorts, APickedPortIsOutsideTheEphemeralRangeWhereThereIsRoom) {
  unsigned low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  const bool room = low > 10000 || high < 65535;
  for (int i = 0; i < 20; ++i) {
    auto port = pick_free_port("127.0.0.1");
    ASSERT_TRUE(port) << port.error().message;
    ASSERT_NE(*port, 0);
    if (room) EXPECT_TRUE(*port < low || *port > high) << *port << " is in the ephemeral range " << low << "-" << high;
  }
  EXPECT_FALSE(pick_free_port("localhost"));  // an IP address, not a name
}

// A port given to one node is released until `devnet up`, so it is free
// again; it must not be given to another. With every port outside the
// ephemeral range given out already, the pick is one the kernel chooses.
TEST(DevnetPorts, APortAlreadyGivenOutIsNeverPickedAgain) {
  unsigned low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  std::set<std::uint16_t> taken;
  for (unsigned p = 10000; p <= 65535; ++p)
    if (p < low || p > high) taken.insert(static_cast<std::uint16_t>(p));
  for (int i = 0; i < 5; ++i) {
    auto port = pick_free_port("127.0.0.1", taken);
    ASSERT_TRUE(port) << port.error().message;
    EXPECT_FALSE(taken.contains(*port)) << *port;
    taken.insert(*port);
  }
}

TEST(DevnetPorts, AHeldPortCannotBeSharedEvenWithReuseAddr) {
  auto port = pick_free_port("127.0.0.1");
  ASSERT_TRUE(port) << port.error().message;
  auto held = hold_port("127.0.0.1:" + std::to_string(*port), "node0 P2P");
  ASSERT_TRUE(held) << held.error().message;
  // A bound-only hold let such a bind (a port-0 listener given this port by
  // the kernel, another devnet) share the port, and the node then failed
  // to listen on the socket it inherited.
  core::UniqueFd other;
  EXPECT_EQ(bind_reusing(*port, other), EADDRINUSE);
  // The node takes the held socket over as it is: listening.
  int accepting = 0;
  socklen_t len = sizeof accepting;
  ASSERT_EQ(::getsockopt(held->get(), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len), 0);
  EXPECT_EQ(accepting, 1);
  held->reset();
  EXPECT_EQ(bind_reusing(*port, other), 0) << "the port is free again once the hold is released";
}

}  // namespace
}  // namespace mpc::devnet
