#include "sim/requests.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>

namespace lode::sim {

std::vector<int64_t> NextRequestIndices(const std::vector<Request>& requests) {
  std::vector<int64_t> next(requests.size());
  absl::flat_hash_map<uint64_t, int64_t> later;  // key -> its earliest request seen so far
  for (size_t i = requests.size(); i-- > 0;) {
    auto [it, added] = later.try_emplace(requests[i].key, -1);
    next[i] = it->second;
    it->second = static_cast<int64_t>(i);
  }
  return next;
}

double WorkingSetBytes(const std::vector<Request>& requests, double window_s) {
  if (requests.empty()) return 0;
  // Each request keeps its key in the working set until the key's next
  // request or for the window, whichever is sooner; the integral over time
  // divided by the span is the mean working set.
  std::vector<int64_t> next = NextRequestIndices(requests);
  double first = requests.front().time_s, last = requests.back().time_s;
  double span = std::max(1.0, last - first), integral = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    double until = next[i] >= 0 ? requests[static_cast<size_t>(next[i])].time_s : last;
    double held = std::min(until - requests[i].time_s, window_s);
    integral += std::max(0.0, held) * requests[i].bytes;
  }
  return integral / span;
}

}  // namespace lode::sim
