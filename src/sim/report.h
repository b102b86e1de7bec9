// `lode sim --report`: one self-contained HTML page of a run's result (its
// claims table, each variant's tier split and latencies, and figures:
// tier shares by hour, the L2 hit ratio by hour of every variant), the
// figures drawn by gnuplot as SVG and inlined.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace lode::sim {

// Writes the report of `result` (as `lode sim` writes it) to `path`,
// atomically. FailedPrecondition when gnuplot cannot be run.
Status WriteReport(const nlohmann::json& result, const std::string& title, const std::string& path);

}  // namespace lode::sim
