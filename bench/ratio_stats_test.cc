#include "ratio_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

namespace mpc::bench {
namespace {

TEST(RatioStats, TwoRatiosHaveTheirGeometricMeanAndTheIntervalOfOneDegreeOfFreedom) {
  // log2 ratios 1 and 3: mean 2, standard error 1 (in log2), t(1) = 12.706.
  const std::vector<double> r = {2.0, 8.0};
  const RatioSummary s = summarize_ratios(r);
  EXPECT_EQ(s.n, 2u);
  EXPECT_NEAR(s.geomean, 4.0, 1e-12);
  EXPECT_NEAR(s.low, 4.0 * std::pow(2.0, -12.706), 1e-9);
  EXPECT_NEAR(s.high, 4.0 * std::pow(2.0, 12.706), 1e-6 * s.high);
  EXPECT_EQ(s.min, 2.0);
  EXPECT_EQ(s.max, 8.0);
}

TEST(RatioStats, EqualRatiosHaveNoSpread) {
  const std::vector<double> r = {0.93, 0.93, 0.93};
  const RatioSummary s = summarize_ratios(r);
  EXPECT_NEAR(s.geomean, 0.93, 1e-12);
  EXPECT_NEAR(s.low, 0.93, 1e-12);
  EXPECT_NEAR(s.high, 0.93, 1e-12);
  EXPECT_STREQ(verdict_at_least(s, 0.9), "met");
  EXPECT_STREQ(verdict_at_least(s, 0.95), "not met");
}

TEST(RatioStats, RatiosThatAreNotPositiveAndFiniteAreLeftOut) {
  // A phase with no requests gives 0; a server without any gives inf or NaN.
  const std::vector<double> r = {0.0, 1.0, std::numeric_limits<double>::infinity(), std::nan(""), -1.0};
  const RatioSummary s = summarize_ratios(r);
  EXPECT_EQ(s.n, 1u);
  EXPECT_EQ(s.geomean, 1.0);
  EXPECT_EQ(s.low, 1.0);
  EXPECT_EQ(s.high, 1.0);
  EXPECT_STREQ(verdict_at_least(summarize_ratios(std::vector<double>{0.0}), 0.9), "no data");
}

TEST(RatioStats, AnIntervalThatSpansTheGoalDecidesNothing) {
  const std::vector<double> r = {0.85, 1.05, 0.9, 1.0};
  const RatioSummary s = summarize_ratios(r);
  ASSERT_LT(s.low, 0.95);
  ASSERT_GT(s.high, 0.95);
  EXPECT_STREQ(verdict_at_least(s, 0.95), "within the noise (the interval spans the goal)");
}

TEST(RatioStats, TheTQuantilesJoinTheNormalApproximation) {
  EXPECT_EQ(student_t95(1), 12.706);
  EXPECT_EQ(student_t95(30), 2.042);
  EXPECT_NEAR(student_t95(31), 2.0395, 0.003);   // exact values: 31, 40, 60, 120 degrees of freedom
  EXPECT_NEAR(student_t95(40), 2.0211, 0.002);
  EXPECT_NEAR(student_t95(60), 2.0003, 0.002);
  EXPECT_NEAR(student_t95(120), 1.9799, 0.002);
  for (std::size_t df = 2; df < 200; ++df) EXPECT_LT(student_t95(df), student_t95(df - 1)) << df;
}

// Ratios drawn log-normal around a known one, as phases on a drifting
// machine give them: the interval must hold the true ratio in about 95% of
// runs, at the phase counts the benchmark uses and a few more.
TEST(RatioStats, TheIntervalHoldsTheTrueRatioNineteenTimesInTwenty) {
  const unsigned seed = std::random_device{}();
  std::printf("RatioStats coverage: seed %u\n", seed);
  std::mt19937 rng(seed);
  const double truth = 0.95;
  for (const std::size_t pairs : {3u, 5u, 12u, 40u}) {
    std::normal_distribution<double> log_ratio(std::log(truth), 0.11);
    const int runs = 4000;
    int covered = 0;
    for (int run = 0; run < runs; ++run) {
      std::vector<double> r(pairs);
      for (double& v : r) v = std::exp(log_ratio(rng));
      const RatioSummary s = summarize_ratios(r);
      if (s.low <= truth && truth <= s.high) ++covered;
    }
    // Binomial(4000, 0.95): standard deviation 0.34%; 93-97% is six of them.
    const double coverage = static_cast<double>(covered) / runs;
    EXPECT_GT(coverage, 0.93) << pairs << " pairs, seed " << seed;
    EXPECT_LT(coverage, 0.97) << pairs << " pairs, seed " << seed;
  }
}

}  // namespace
}  // namespace mpc::bench
