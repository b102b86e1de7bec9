// Claims a simulation is checked against: a statement, where it comes from
// (the paper, the design), which variant and which number of its result
// (a JSON pointer, e.g. "/tiers_after_warmup/l1" or "/hours/30/l2_hit_ratio"),
// optionally less the same number of another variant (`compare_to`) or
// another number (`compare_metric`, of `compare_to` or the same variant),
// and the bound: `expect` within `tolerance`, or `at_most` / `at_least`.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::sim {

struct Claim {
  std::string claim, source, variant, metric, compare_to, compare_metric;
  std::optional<double> expect, tolerance, at_most, at_least;
};

// From the configuration's "claims"; `variants` are the names a claim may
// refer to (one "" when there are none).
Result<std::vector<Claim>> ParseClaims(const nlohmann::json& claims,
                                       const std::vector<std::string>& variants);

// The claims table: per claim, its fields, the simulated `value` (null when
// the result has no such number) and `pass`.
nlohmann::json CheckClaims(const std::vector<Claim>& claims,
                           const std::map<std::string, nlohmann::json>& results);

}  // namespace lode::sim
