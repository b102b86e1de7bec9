// What `lode sim` writes: the run's JSON result (docs/formats/sim.md). The
// same configuration gives the same bytes: nothing of the machine's speed
// is in it.
#pragma once

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "sim/simulator.h"

namespace lode::sim {

// The result of running `fleet` (one of setup's variants) on setup's trace.
nlohmann::json ResultJson(const SimSetup& setup, const SimConfig& fleet, const SimResult& result);

}  // namespace lode::sim
