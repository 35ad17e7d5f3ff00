#include "p2p/backoff.h"

#include <gtest/gtest.h>

namespace mpc::p2p {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesPerFailureWithinItsJitterBand) {
  const BackoffPolicy policy{milliseconds(100), milliseconds(10'000)};
  EXPECT_EQ(backoff_delay(policy, 0, 0.0), milliseconds(50));
  EXPECT_EQ(backoff_delay(policy, 0, 0.5), milliseconds(75));
  EXPECT_EQ(backoff_delay(policy, 1, 0.0), milliseconds(100));
  EXPECT_EQ(backoff_delay(policy, 3, 0.0), milliseconds(400));
  EXPECT_EQ(backoff_delay(policy, 3, 0.999999), milliseconds(799));
}

TEST(Backoff, IsCappedEvenForHugeFailureCounts) {
  const BackoffPolicy policy{milliseconds(100), milliseconds(5'000)};
  for (unsigned failures : {6u, 7u, 40u, 63u, 64u, 1000u, 4'000'000'000u}) {
    EXPECT_EQ(backoff_delay(policy, failures, 0.0), milliseconds(2'500)) << failures;
    EXPECT_LE(backoff_delay(policy, failures, 1.0), milliseconds(5'000)) << failures;
  }
}

TEST(Backoff, OutOfRangeRandomnessIsClamped) {
  const BackoffPolicy policy{milliseconds(100), milliseconds(1'000)};
  EXPECT_EQ(backoff_delay(policy, 0, -3.0), milliseconds(50));
  EXPECT_LE(backoff_delay(policy, 0, 7.0), milliseconds(100));
  EXPECT_EQ(backoff_delay(policy, 0, std::numeric_limits<double>::quiet_NaN()), milliseconds(50));
}

TEST(Backoff, ZeroPolicyStillWaitsAtLeastAMillisecond) {
  EXPECT_GE(backoff_delay(BackoffPolicy{milliseconds(0), milliseconds(0)}, 0, 0.0), milliseconds(1));
}

}  // namespace
}  // namespace mpc::p2p
