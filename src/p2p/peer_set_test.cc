#include "p2p/peer_set.h"

#include <gtest/gtest.h>

namespace mpc::p2p {
namespace {

core::Ed25519PublicKey key(std::uint8_t b) {
  core::Ed25519PublicKey k;
  k.bytes.fill(b);
  return k;
}

Peer peer(std::uint64_t id, std::uint8_t key_byte) {
  return Peer{id, "node" + std::to_string(id) + ".near", key(key_byte), "127.0.0.1", static_cast<std::uint16_t>(1000 + id)};
}

TEST(PeerSet, SkipsOurOwnEntryAndIndexesByIdAndKey) {
  auto set = PeerSet::make(1, key(1), {peer(0, 10), peer(1, 1), peer(2, 12)}, 16);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->by_id(1), nullptr);
  ASSERT_NE(set->by_key(key(12)), nullptr);
  EXPECT_EQ(set->by_key(key(12))->participant_id, 2u);
  EXPECT_EQ(set->by_key(key(1)), nullptr);
}

TEST(PeerSet, RefusesBadListsNamingTheEntry) {
  struct Case {
    std::vector<Peer> peers;
    std::string expected;
  };
  auto no_host = peer(3, 13);
  no_host.host = "";
  auto spaced = peer(3, 13);
  spaced.host = "a b";
  auto no_port = peer(4, 14);
  no_port.port = 0;
  auto bad_account = peer(5, 15);
  bad_account.account_id = "Not An Account";
  const std::vector<Case> cases = {
      {{peer(2, 12), peer(2, 13)}, "participant 2 is listed twice"},
      {{peer(2, 12), peer(3, 12)}, "participant 3 (node3.near) has the same TLS key as participant 2"},
      {{peer(2, 1)}, "participant 2 (node2.near) has this node's own TLS key"},
      {{no_host}, "participant 3 (node3.near): host"},
      {{spaced}, "participant 3 (node3.near): host"},
      {{no_port}, "participant 4 (node4.near): port 0"},
      {{bad_account}, "participant 5: account id"},
      {{peer(2, 12), peer(3, 13), peer(4, 14)}, "more than 2 peers"},
  };
  for (const auto& c : cases) {
    auto set = PeerSet::make(1, key(1), c.peers, 2);
    ASSERT_FALSE(set) << c.expected;
    EXPECT_EQ(set.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(set.error().message.find(c.expected), std::string::npos) << set.error().message;
  }
}

TEST(PeerSet, LowerIdDials) {
  EXPECT_TRUE(dials(0, 1));
  EXPECT_FALSE(dials(1, 0));
  EXPECT_FALSE(dials(3, 3));
}

}  // namespace
}  // namespace mpc::p2p
