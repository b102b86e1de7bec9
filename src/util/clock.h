// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the host,
// so times stamped by the agent and by `lode run` can be subtracted.
#pragma once

#include <time.h>

#include <cstdint>

namespace lode {

inline int64_t MonotonicNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace lode
