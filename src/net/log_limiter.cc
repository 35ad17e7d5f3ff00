#include "net/log_limiter.h"

#include <spdlog/spdlog.h>

namespace mpc::net {

bool LogLimiter::allow() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ >= window_) {
    if (suppressed_ > 0)
      spdlog::warn("{}: {} more not logged (at most {} lines per {} s; {} counts them all)", what_, suppressed_, lines_,
                   window_.count(), counter_);
    start_ = now;
    logged_ = 0;
    suppressed_ = 0;
  }
  if (logged_ < lines_) {
    ++logged_;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace mpc::net
