#include "net/connection_budget.h"

#include <gtest/gtest.h>

#include <vector>

namespace mpc::net {
namespace {

using Address = boost::asio::ip::address;
Address ip(const char* text) { return boost::asio::ip::make_address(text); }

TEST(ConnectionBudget, AdmitsWithoutEvictionWhileThereIsRoom) {
  ConnectionBudget b({4, 4, 2});
  for (int i = 0; i < 4; ++i) {
    auto a = b.admit(ip("10.0.0.1"));
    EXPECT_FALSE(a.evicted);
  }
  EXPECT_EQ(b.preauth(), 4u);
  EXPECT_EQ(b.preauth_from(ip("10.0.0.1")), 4u);
}

TEST(ConnectionBudget, AFullPreauthBudgetEvictsTheOldestOverallNotTheNewcomer) {
  ConnectionBudget b({3, 3, 2});
  const auto first = b.admit(ip("10.0.0.1")).id;
  const auto second = b.admit(ip("10.0.0.2")).id;
  const auto third = b.admit(ip("10.0.0.3")).id;
  auto fourth = b.admit(ip("10.0.0.4"));
  ASSERT_TRUE(fourth.evicted);
  EXPECT_EQ(*fourth.evicted, (Eviction{first, EvictionReason::kPreauthBudget}));
  EXPECT_TRUE(b.is_preauth(fourth.id));
  EXPECT_FALSE(b.is_preauth(first));
  auto fifth = b.admit(ip("10.0.0.5"));
  ASSERT_TRUE(fifth.evicted);
  EXPECT_EQ(fifth.evicted->id, second);  // then the next oldest
  EXPECT_EQ(b.preauth(), 3u);
  EXPECT_TRUE(b.is_preauth(third));
  EXPECT_EQ(b.preauth_from(ip("10.0.0.1")), 0u);
}

TEST(ConnectionBudget, ASourceAtItsCapGivesUpItsOwnOldestAndSparesOthers) {
  ConnectionBudget b({100, 2, 2});
  const auto other = b.admit(ip("10.0.0.9")).id;  // older than the attacker's
  const auto a1 = b.admit(ip("10.0.0.1")).id;
  const auto a2 = b.admit(ip("10.0.0.1")).id;
  auto a3 = b.admit(ip("10.0.0.1"));
  ASSERT_TRUE(a3.evicted);
  EXPECT_EQ(*a3.evicted, (Eviction{a1, EvictionReason::kPerSourceCap}));
  auto a4 = b.admit(ip("10.0.0.1"));
  ASSERT_TRUE(a4.evicted);
  EXPECT_EQ(a4.evicted->id, a2);
  EXPECT_EQ(b.preauth_from(ip("10.0.0.1")), 2u);
  EXPECT_TRUE(b.is_preauth(other));
  EXPECT_EQ(b.preauth(), 3u);
}

TEST(ConnectionBudget, AThousandConnectionsFromOneAddressHoldOnlyTheirCap) {
  ConnectionBudget b({64, 8, 4});
  const auto legit = b.admit(ip("192.0.2.7")).id;
  std::size_t evictions = 0;
  for (int i = 0; i < 1000; ++i) evictions += b.admit(ip("127.0.0.1")).evicted.has_value();
  EXPECT_EQ(evictions, 1000u - 8u);
  EXPECT_EQ(b.preauth_from(ip("127.0.0.1")), 8u);
  EXPECT_TRUE(b.is_preauth(legit));
  EXPECT_EQ(b.promote(legit), Promotion::kAuthenticated);
}

TEST(ConnectionBudget, IPv6AndIPv4SourcesAreCountedApart) {
  ConnectionBudget b({10, 1, 1});
  EXPECT_FALSE(b.admit(ip("::1")).evicted);
  EXPECT_FALSE(b.admit(ip("127.0.0.1")).evicted);
  EXPECT_TRUE(b.admit(ip("::1")).evicted);
}

TEST(ConnectionBudget, PromotionMovesAConnectionToTheAuthenticatedBudget) {
  ConnectionBudget b({2, 2, 1});
  const auto id = b.admit(ip("10.0.0.1")).id;
  EXPECT_EQ(b.promote(id), Promotion::kAuthenticated);
  EXPECT_FALSE(b.is_preauth(id));
  EXPECT_TRUE(b.is_authenticated(id));
  EXPECT_EQ(b.preauth(), 0u);
  EXPECT_EQ(b.authenticated(), 1u);
  // Authenticated connections are never evicted by pre-auth traffic.
  for (int i = 0; i < 10; ++i) b.admit(ip("10.0.0.2"));
  EXPECT_TRUE(b.is_authenticated(id));
}

TEST(ConnectionBudget, AFullAuthenticatedBudgetRefusesTheNewcomerAndFreesItsSlot) {
  ConnectionBudget b({4, 4, 1});
  const auto first = b.admit(ip("10.0.0.1")).id;
  const auto second = b.admit(ip("10.0.0.1")).id;
  ASSERT_EQ(b.promote(first), Promotion::kAuthenticated);
  EXPECT_EQ(b.promote(second), Promotion::kFull);
  EXPECT_FALSE(b.is_preauth(second));
  EXPECT_EQ(b.authenticated(), 1u);
  b.release(first);
  const auto third = b.admit(ip("10.0.0.1")).id;
  EXPECT_EQ(b.promote(third), Promotion::kAuthenticated);
}

TEST(ConnectionBudget, AnEvictedConnectionCannotBePromotedAndReleaseIsIdempotent) {
  ConnectionBudget b({1, 1, 1});
  const auto old = b.admit(ip("10.0.0.1")).id;
  const auto young = b.admit(ip("10.0.0.2")).id;
  EXPECT_EQ(b.promote(old), Promotion::kGone);
  b.release(old);
  b.release(old);
  EXPECT_EQ(b.preauth(), 1u);
  EXPECT_TRUE(b.is_preauth(young));
  b.release(young);
  EXPECT_EQ(b.preauth(), 0u);
  EXPECT_EQ(b.preauth_from(ip("10.0.0.2")), 0u);
}

TEST(ConnectionBudget, ZeroLimitsAreRaisedToOne) {
  ConnectionBudget b({0, 0, 0});
  EXPECT_EQ(b.limits().max_preauth, 1u);
  const auto id = b.admit(ip("10.0.0.1")).id;
  EXPECT_EQ(b.promote(id), Promotion::kAuthenticated);
}

TEST(ConnectionBudget, EvictionLabelsAreTheMetricsReasons) {
  EXPECT_STREQ(eviction_label(EvictionReason::kPreauthBudget), "evicted_preauth");
  EXPECT_STREQ(eviction_label(EvictionReason::kPerSourceCap), "evicted_per_source");
}

}  // namespace
}  // namespace mpc::net
