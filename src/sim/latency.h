// Fetch latencies of the simulated tiers: log-normal, set by a median and
// a tail quantile (S3's published shape: median ~36 ms, p99.9 ~175 ms),
// with an optional injected tail (a fraction of requests made slower).
#pragma once

#include <cstdint>
#include <random>

namespace lode::sim {

struct LatencyShape {
  double median_ms = 1;
  double tail_ms = 2;  // at quantile `tail_quantile`
  double tail_quantile = 0.99;
  double slow_fraction = 0;  // of requests, also slowed by slow_factor
  double slow_factor = 1;
};

class Latency {
 public:
  explicit Latency(const LatencyShape& shape);
  double Sample(std::mt19937_64& rng) const;  // milliseconds

 private:
  LatencyShape shape_;
  double mu_, sigma_;
};

}  // namespace lode::sim
