#include "sim/curves.h"

#include <cmath>

#include "sim/policies.h"

namespace lode::sim {

Result<Curves> ComputeCurves(const CurvesConfig& config, const std::vector<Request>& requests,
                             double configured_bytes, double break_even_seconds,
                             double sampling_rate) {
  Curves curves;
  curves.stream = config.stream;
  curves.configured_bytes = configured_bytes;
  curves.break_even_seconds = break_even_seconds;
  if (break_even_seconds > 0) {
    curves.five_minute_bytes = WorkingSetBytes(requests, break_even_seconds) / sampling_rate;
  }
  std::vector<int64_t> next = NextRequestIndices(requests);
  double chunk = requests.empty() ? 1 : requests.front().bytes;
  for (const std::string& name : config.policies) {
    std::vector<std::pair<double, double>> points;
    for (double factor : config.size_factors) {
      double bytes = configured_bytes * factor;
      auto chunks = static_cast<size_t>(std::llround(bytes * sampling_rate / chunk));
      LODE_ASSIGN_OR_RETURN(double ratio, MissRatio(name, requests, next, chunks));
      points.emplace_back(bytes, ratio);
    }
    curves.policies.emplace_back(name, std::move(points));
  }
  return curves;
}

}  // namespace lode::sim
