#include "sim/origin.h"

#include <algorithm>

namespace lode::sim {

Origin::Origin(int workers, const AdmissionConfig& config)
    : config_(config), in_flight_(static_cast<size_t>(workers)) {}

std::optional<double> Origin::Fetch(size_t worker, double at_ms, double takes_ms) {
  auto& ends = in_flight_[worker];
  while (!ends.empty() && ends.top() <= at_ms) ends.pop();
  double wait = 0;
  if (config_.limit > 0 && ends.size() >= static_cast<size_t>(config_.limit)) {
    wait = ends.top() - at_ms;
    if (wait > config_.timeout_ms) {
      counts_.rejected++;
      return std::nullopt;
    }
    ends.pop();  // that fetch's slot is this one's
    counts_.waited++;
  }
  ends.push(at_ms + wait + takes_ms);
  counts_.peak_in_flight = std::max<uint64_t>(counts_.peak_in_flight, ends.size());
  CountGet(at_ms + wait);
  return wait;
}

void Origin::CountGet(double at_ms) {
  counts_.gets++;
  auto second = static_cast<uint64_t>(at_ms / 1000);
  auto minute = static_cast<size_t>(second / 60);
  if (counts_.gets_per_minute.size() <= minute) counts_.gets_per_minute.resize(minute + 1);
  counts_.gets_per_minute[minute]++;
  busiest_.Add(at_ms, 1);
}

}  // namespace lode::sim
