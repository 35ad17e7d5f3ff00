// The time seam of the polling loops (chain watcher, onboarding, backup
// daemon): they read the time and wait through a Clock, so tests drive them
// with a manual clock (tests/support/manual_clock.h) and never sleep to
// prove that something did not happen.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace mpc::core {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;

  virtual time_point now() = 0;
  // Waits until done() holds or the clock reaches `deadline`; returns
  // done(). REQUIRES: `lock` holds the mutex that guards done()'s state and
  // that `cv` waits with; whoever makes done() true notifies `cv`.
  virtual bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline,
                          const std::function<bool()>& done) = 0;

  bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, std::chrono::milliseconds duration,
                const std::function<bool()>& done) {
    return wait_until(lock, cv, now() + duration, done);
  }
};

// std::chrono::steady_clock.
Clock& steady_clock();

}  // namespace mpc::core
