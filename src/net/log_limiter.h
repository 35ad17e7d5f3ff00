// A rate limit for log lines about hostile or failing peers: at most
// `lines` per `window`; when a window with suppressed lines ends, one line
// says how many were not logged (the counters still count them all).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace mpc::net {

class LogLimiter {
 public:
  // `what`: the subject of the summary line ("p2p: ... connection refusals");
  // `counter`: the metric that counts them all.
  LogLimiter(std::string what, std::string counter, std::size_t lines = 10,
             std::chrono::seconds window = std::chrono::seconds(10))
      : what_(std::move(what)), counter_(std::move(counter)), lines_(lines), window_(window) {}

  // True when this line may be logged now.
  bool allow();

 private:
  const std::string what_;
  const std::string counter_;
  const std::size_t lines_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_{};
  std::size_t logged_ = 0;
  std::size_t suppressed_ = 0;
};

}  // namespace mpc::net
