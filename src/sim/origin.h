// The origin as the workers see it: each worker's agent admits at most
// `limit` origin fetches at once (cache::Admission); a fetch that finds
// them all taken waits for the first to end, or fails when that is more
// than `timeout_ms` away. Also counts the GETs the origin receives per
// minute and the busiest second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "sim/peak_rate.h"

namespace lode::sim {

struct AdmissionConfig {
  int limit = 32;             // the agent's --max-origin-fetches; 0: no limit
  double timeout_ms = 10000;  // the agent's --admission-timeout-ms
};

struct OriginCounts {
  uint64_t gets = 0;
  uint64_t waited = 0;          // had to wait for a slot
  uint64_t rejected = 0;        // gave up at the timeout (the read failed)
  uint64_t peak_in_flight = 0;  // on one worker
  uint64_t peak_gets_per_second = 0;
  std::vector<uint64_t> gets_per_minute;
};

class Origin {
 public:
  Origin(int workers, const AdmissionConfig& config);

  // A fetch from `worker` asked at `at_ms` that takes `takes_ms` once
  // admitted: how long it waited first, or nothing when it was rejected.
  std::optional<double> Fetch(size_t worker, double at_ms, double takes_ms);
  // The counts so far (with the busiest second).
  OriginCounts counts() const {
    OriginCounts c = counts_;
    c.peak_gets_per_second = busiest_.peak();
    return c;
  }

 private:
  void CountGet(double at_ms);

  AdmissionConfig config_;
  // Per worker, when its admitted fetches end (earliest first).
  std::vector<std::priority_queue<double, std::vector<double>, std::greater<>>> in_flight_;
  PeakPerSecond busiest_;
  OriginCounts counts_;
};

}  // namespace lode::sim
