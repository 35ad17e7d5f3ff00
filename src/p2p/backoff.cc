#include "p2p/backoff.h"

#include <algorithm>
#include <cmath>

namespace mpc::p2p {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned failures, double unit) {
  const double initial = std::max<double>(1.0, static_cast<double>(policy.initial.count()));
  const double cap = std::max<double>(initial, static_cast<double>(policy.max.count()));
  const double step = std::min(cap, std::ldexp(initial, static_cast<int>(std::min(failures, 62u))));
  if (!(unit >= 0.0)) unit = 0.0;  // NaN too
  if (unit >= 1.0) unit = std::nextafter(1.0, 0.0);
  const double delay = step / 2 + unit * step / 2;
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(delay)));
}

}  // namespace mpc::p2p
