#include "node/signing_plan.h"

#include <gtest/gtest.h>

#include <map>

namespace mpc::node {
namespace {

using namespace std::chrono_literals;

core::Bytes id_of(std::string_view s) { return core::Bytes(s.begin(), s.end()); }

TEST(LeaderOrder, IsAPermutationTheSameForEveryCallerAndDependsOnTheRequest) {
  const std::vector<std::uint64_t> ids = {0, 1, 2, 3, 4};
  const std::vector<std::uint64_t> shuffled = {3, 0, 4, 2, 1};
  const auto a = leader_order(ids, id_of("request-a"));
  EXPECT_EQ(a, leader_order(shuffled, id_of("request-a")));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, ids);
  // Leadership spreads over participants: over many requests every node leads some.
  std::map<std::uint64_t, int> first;
  for (int i = 0; i < 200; ++i) ++first[leader_order(ids, id_of("r" + std::to_string(i))).front()];
  EXPECT_EQ(first.size(), ids.size());
  for (const auto& [id, n] : first) EXPECT_GT(n, 10) << "participant " << id;
}

TEST(DecideLead, TheFirstReachableLeadsAtOnceWithThresholdSignersInOrder) {
  LeadInput in;
  in.order = {4, 1, 3, 0, 2};
  in.self = 4;
  in.reachable = {0, 1, 2, 3};
  in.threshold = 3;
  in.takeover_delay = 2s;
  const auto d = decide_lead(in);
  ASSERT_TRUE(d.lead) << d.reason;
  EXPECT_EQ(d.signers, (std::vector<std::uint64_t>{1, 3, 4}));
}

TEST(DecideLead, OthersWaitOneTakeoverDelayPerReachableParticipantAhead) {
  LeadInput in;
  in.order = {4, 1, 3, 0, 2};
  in.self = 3;
  in.reachable = {0, 1, 2, 4};
  in.threshold = 2;
  in.takeover_delay = 2s;
  in.waited = 1s;
  auto d = decide_lead(in);
  EXPECT_FALSE(d.lead);
  ASSERT_TRUE(d.wait);
  EXPECT_EQ(*d.wait, 3s);
  in.waited = 4s;
  d = decide_lead(in);
  ASSERT_TRUE(d.lead) << d.reason;
  EXPECT_EQ(d.signers, (std::vector<std::uint64_t>{3, 4}));  // self, then the first other in the order
}

TEST(DecideLead, AnUnreachableLeaderIsSkippedAtOnce) {
  LeadInput in;
  in.order = {4, 1, 3};
  in.self = 1;
  in.reachable = {3};  // 4 is gone
  in.threshold = 2;
  in.takeover_delay = 5s;
  const auto d = decide_lead(in);
  ASSERT_TRUE(d.lead) << d.reason;
  EXPECT_EQ(d.signers, (std::vector<std::uint64_t>{1, 3}));
}

TEST(DecideLead, TooFewReachableParticipantsCannotLead) {
  LeadInput in;
  in.order = {0, 1, 2};
  in.self = 0;
  in.reachable = {};
  in.threshold = 2;
  const auto d = decide_lead(in);
  EXPECT_FALSE(d.lead);
  EXPECT_FALSE(d.wait);
  EXPECT_NE(d.reason.find("only 1 participant(s) reachable, threshold 2"), std::string::npos) << d.reason;
}

TEST(DecideLead, ParticipantsThatFailedAreUsedOnlyWhenNobodyElseIsLeft) {
  LeadInput in;
  in.order = {0, 1, 2, 3};
  in.self = 0;
  in.reachable = {1, 2, 3};
  in.threshold = 3;
  in.failed = {1};
  auto d = decide_lead(in);
  ASSERT_TRUE(d.lead);
  EXPECT_EQ(d.signers, (std::vector<std::uint64_t>{0, 2, 3}));
  in.failed = {1, 2, 3};
  d = decide_lead(in);
  ASSERT_TRUE(d.lead);
  EXPECT_EQ(d.signers, (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(DecideLead, ANodeOutsideTheOrderNeverLeads) {
  LeadInput in;
  in.order = {0, 1, 2};
  in.self = 7;
  in.reachable = {0, 1, 2};
  in.threshold = 2;
  EXPECT_FALSE(decide_lead(in).lead);
}

}  // namespace
}  // namespace mpc::node
