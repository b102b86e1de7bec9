#include "sim/latency.h"

#include <cmath>

namespace lode::sim {
namespace {

// The standard normal quantile of p, by bisection on the CDF (computed
// once per shape, so simple beats fast).
double NormalQuantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

Latency::Latency(const LatencyShape& shape)
    : shape_(shape),
      mu_(std::log(shape.median_ms)),
      sigma_(shape.tail_ms > shape.median_ms
                 ? (std::log(shape.tail_ms) - std::log(shape.median_ms)) /
                       NormalQuantile(shape.tail_quantile)
                 : 0) {}

double Latency::Sample(std::mt19937_64& rng) const {
  double ms = std::exp(mu_ + sigma_ * std::normal_distribution<double>(0, 1)(rng));
  if (shape_.slow_fraction > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng) < shape_.slow_fraction) {
    ms *= shape_.slow_factor;
  }
  return ms;
}

}  // namespace lode::sim
