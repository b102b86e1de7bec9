// Counters and a latency histogram per cache tier, updated lock-free from
// many reader threads and read as a snapshot for `lode stats`.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace lode::cache {

// Power-of-two buckets of microseconds: bucket i counts latencies in
// [2^i, 2^(i+1)) us (bucket 0 also takes anything under 1 us).
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 24;
  void Record(std::chrono::nanoseconds latency);
  std::array<uint64_t, kBuckets> Snapshot() const;
  uint64_t SumNanos() const { return sum_ns_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_ = 0;
};

// The upper bound, in microseconds, below which `quantile` (0..1) of the
// recorded latencies fall; 0 when nothing was recorded.
uint64_t QuantileMicros(const std::array<uint64_t, LatencyHistogram::kBuckets>& buckets,
                        double quantile);

struct TierSnapshot {
  std::string tier;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t bytes = 0;  // bytes served from this tier
  uint64_t errors = 0;
  std::array<uint64_t, LatencyHistogram::kBuckets> latency{};
  uint64_t latency_sum_ns = 0;
};

struct TierMetrics {
  std::atomic<uint64_t> hits = 0;
  std::atomic<uint64_t> misses = 0;
  std::atomic<uint64_t> bytes = 0;
  std::atomic<uint64_t> errors = 0;
  LatencyHistogram latency;
  TierSnapshot Snapshot(std::string tier) const;
};

}  // namespace lode::cache
