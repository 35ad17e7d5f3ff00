// Summaries of paired ratios (node / nginx measured in adjacent phases) for
// the benchmarks that compare two servers on one machine.
//
// The machine's speed drifts by tens of percent from one phase to the next
// (a shared VM: the same client's CPU per handshake moved by 1.5x within a
// minute), so a ratio is taken only between the two phases of a pair, and the
// pairs are summarised by their geometric mean with a 95% confidence interval
// (Student's t on the logarithms). The median of a few pairs, used before,
// said nothing about how far it could be from the ratio it estimates.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

namespace mpc::bench {

struct RatioSummary {
  std::size_t n = 0;      // ratios summarised (only the positive, finite ones)
  double geomean = 0;     // their geometric mean
  double low = 0;         // its 95% confidence interval, low ...
  double high = 0;        // ... and high (equal to geomean for one ratio)
  double min = 0, max = 0;
};

// The two-sided 95% quantile of Student's t with `df` degrees of freedom
// (df >= 1); tabulated to 30, then the normal's 1.96 plus the first-order
// correction 2.4/df, within 0.002 of the exact value.
inline double student_t95(std::size_t df) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df == 0) return 0;
  if (df <= std::size(kTable)) return kTable[df - 1];
  return 1.960 + 2.4 / static_cast<double>(df);
}

inline RatioSummary summarize_ratios(std::span<const double> ratios) {
  RatioSummary s;
  std::vector<double> logs;
  for (double r : ratios) {
    if (!(r > 0) || !std::isfinite(r)) continue;
    s.min = logs.empty() ? r : std::min(s.min, r);
    s.max = logs.empty() ? r : std::max(s.max, r);
    logs.push_back(std::log(r));
  }
  s.n = logs.size();
  if (s.n == 0) return s;
  double sum = 0;
  for (double l : logs) sum += l;
  const double mean = sum / static_cast<double>(s.n);
  s.geomean = s.low = s.high = std::exp(mean);
  if (s.n < 2) return s;
  double ss = 0;
  for (double l : logs) ss += (l - mean) * (l - mean);
  const double se = std::sqrt(ss / static_cast<double>(s.n - 1) / static_cast<double>(s.n));
  const double half = student_t95(s.n - 1) * se;
  s.low = std::exp(mean - half);
  s.high = std::exp(mean + half);
  return s;
}

// Where a goal "ratio >= goal" stands given the interval.
inline const char* verdict_at_least(const RatioSummary& s, double goal) {
  if (s.n == 0) return "no data";
  if (s.low >= goal) return "met";
  if (s.high < goal) return "not met";
  return "within the noise (the interval spans the goal)";
}

}  // namespace mpc::bench
