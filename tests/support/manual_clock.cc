#include "support/manual_clock.h"

#include <algorithm>
#include <stdexcept>

namespace mpc::testing {

core::Clock::time_point ManualClock::now() {
  std::lock_guard lock(mu_);
  return now_;
}

bool ManualClock::wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline,
                             const std::function<bool()>& done) {
  const Waiter me{lock.mutex(), &cv};
  {
    std::lock_guard g(mu_);
    ++waits_;
    parked_.push_back(me);
  }
  changed_.notify_all();
  // advance() takes the waiter's mutex before notifying, so no wake-up is
  // lost between the checks below and cv.wait().
  bool result = false;
  for (;;) {
    if (done()) {
      result = true;
      break;
    }
    if (now() >= deadline) break;
    cv.wait(lock);
  }
  {
    std::lock_guard g(mu_);
    auto it = std::find_if(parked_.begin(), parked_.end(), [&](const Waiter& w) { return w.cv == me.cv && w.mu == me.mu; });
    if (it != parked_.end()) parked_.erase(it);
  }
  changed_.notify_all();
  return result;
}

void ManualClock::advance(std::chrono::milliseconds by) {
  std::vector<Waiter> to_wake;
  {
    std::lock_guard g(mu_);
    now_ += by;
    to_wake = parked_;
  }
  for (const auto& w : to_wake) {
    std::lock_guard g(*w.mu);
    w.cv->notify_all();
  }
}

std::size_t ManualClock::await_parked(std::size_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!changed_.wait_for(lock, timeout, [&] { return waits_ > after && !parked_.empty(); }))
    throw std::runtime_error("ManualClock: no loop parked in a wait within the deadline (waits so far: " + std::to_string(waits_) + ")");
  return waits_;
}

std::size_t ManualClock::waits() const {
  std::lock_guard g(mu_);
  return waits_;
}

}  // namespace mpc::testing
