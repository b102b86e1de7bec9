#include "cache/metrics.h"

#include <bit>

namespace lode::cache {

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  auto micros =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
  int bucket = micros == 0 ? 0 : static_cast<int>(std::bit_width(micros)) - 1;
  if (bucket >= kBuckets) bucket = kBuckets - 1;
  buckets_[static_cast<size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(latency.count()), std::memory_order_relaxed);
}

std::array<uint64_t, LatencyHistogram::kBuckets> LatencyHistogram::Snapshot() const {
  std::array<uint64_t, kBuckets> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t QuantileMicros(const std::array<uint64_t, LatencyHistogram::kBuckets>& buckets,
                        double quantile) {
  uint64_t total = 0;
  for (uint64_t n : buckets) total += n;
  if (total == 0) return 0;
  auto wanted = static_cast<uint64_t>(quantile * static_cast<double>(total));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen > wanted || seen == total) return uint64_t{2} << i;
  }
  return uint64_t{2} << (buckets.size() - 1);
}

TierSnapshot TierMetrics::Snapshot(std::string tier) const {
  return {std::move(tier), hits.load(),        misses.load(),     bytes.load(),
          errors.load(),   latency.Snapshot(), latency.SumNanos()};
}

}  // namespace lode::cache
