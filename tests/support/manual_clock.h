// Test-only: a Clock that moves only when the test advances it. A loop
// waiting on it is parked until it is woken or the test moves the clock past
// its deadline, so a test proves "nothing happened before the deadline" by
// the loop's state (parked, waits() counted), not by sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "core/clock.h"

namespace mpc::testing {

class ManualClock final : public core::Clock {
 public:
  time_point now() override;
  bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline,
                  const std::function<bool()>& done) override;

  // Moves the clock and wakes every waiter whose deadline has passed.
  void advance(std::chrono::milliseconds by);
  // Waits (for real, up to `timeout`, failing loudly) until some thread has
  // entered a wait more than `after` times in all and is parked in it now.
  // Returns the number of waits entered so far.
  std::size_t await_parked(std::size_t after, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::size_t waits() const;

 private:
  struct Waiter {
    std::mutex* mu;
    std::condition_variable* cv;
  };
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a waiter parked or left
  time_point now_{std::chrono::seconds(1'000'000)};
  std::size_t waits_ = 0;
  std::vector<Waiter> parked_;
};

}  // namespace mpc::testing
