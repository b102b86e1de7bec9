// Miss-ratio curves: a recorded request stream (worker 0's L1 or the L2
// fleet's) replayed through each policy at cache sizes around the
// configured one, with the five-minute rule's size: the working set of
// the break-even interval (a chunk re-read sooner is cheaper to hold than
// to reload).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sim/requests.h"
#include "util/status.h"

namespace lode::sim {

struct CurvesConfig {
  std::string stream;  // "l1" or "l2"; empty: no curves
  std::vector<std::string> policies;
  std::vector<double> size_factors = {0.125, 0.25, 0.5, 1, 2, 4, 8};
};

struct Curves {
  std::string stream;
  double configured_bytes = 0;    // the cache the run had (L2: its chunks' worth)
  double break_even_seconds = 0;  // 0: no price for reloading, so no rule
  double five_minute_bytes = 0;
  // Per policy: {cache bytes, miss ratio} at each size.
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> policies;
};

// `configured_bytes` and the returned sizes are full-size bytes; the stream
// holds a `sampling_rate` sample, so it is replayed at sizes scaled by it.
Result<Curves> ComputeCurves(const CurvesConfig& config, const std::vector<Request>& requests,
                             double configured_bytes, double break_even_seconds,
                             double sampling_rate);

}  // namespace lode::sim
