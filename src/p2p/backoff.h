// Reconnect delays: exponential, capped, jittered (pure; the mesh supplies
// the random number, tests a fixed one).
#pragma once

#include <chrono>

namespace mpc::p2p {

struct BackoffPolicy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
};

// The delay before the next dial after `failures` consecutive failed dials
// (0 after a connection that was established and then lost):
//   d = min(max, initial * 2^failures);  delay = d/2 + unit * d/2, in [d/2, d]
// ("equal jitter": never less than half the exponential step, so a
// flapping peer is not hammered, and dialers spread out). `unit` is clamped
// to [0, 1). Delays are at least 1 ms.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned failures, double unit);

}  // namespace mpc::p2p
