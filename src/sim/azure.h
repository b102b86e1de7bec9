// Starts from the Azure Functions 2019 trace (Shahrad et al., ATC'20):
// its invocations_per_function files hold, per function (HashOwner,
// HashApp, HashFunction, Trigger), the invocations of each minute of a day
// (columns 1..1440). Invocations become sandbox starts through a
// keep-alive model: an invocation occupies a sandbox for
// `invocation_seconds`; a minute needs ceil(invocations x seconds / 60)
// sandboxes; sandboxes idle longer than `keep_alive_minutes` are gone; a
// minute that needs more than are warm starts the rest, at random times
// within it. Each function runs on one of the paper-shaped images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/generator.h"
#include "sim/trace.h"
#include "util/status.h"

namespace lode::sim {

struct AzureShape {
  std::vector<std::string> days;  // invocations_per_function CSV files, one per day, in order
  double keep_alive_minutes = 10;
  double invocation_seconds = 1;
};

// The images come from `images` (its `functions` is replaced by the number
// of functions in the files). InvalidArgument naming the file and line
// for anything malformed.
Result<Trace> AzureTrace(const AzureShape& azure, PaperTraceShape images);

}  // namespace lode::sim
