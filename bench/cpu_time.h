// CPU time of the calling thread, for the benchmarks' per-call figures:
// other processes on the machine do not inflate it (they may still share
// its caches).
#pragma once

#include <cstdlib>
#include <ctime>

namespace mpc::bench {

inline double thread_cpu_seconds() {
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) std::abort();
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace mpc::bench
