// `lode sim`'s configuration: one JSON object naming the trace (a
// generator and its shape, or trace files) and the fleet (workers, L1, L2,
// latencies, events), the salt period, sampling and warm-up; variants of
// the fleet (or of the trace) to run; claims to check against the results.
// Every key is optional (defaults in SimConfig and PaperTraceShape); an
// unknown key is an error, so a typo is not silently the default.
// docs/formats/sim.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/azure.h"
#include "sim/claims.h"
#include "sim/generator.h"
#include "sim/simulator.h"
#include "util/status.h"

namespace lode::sim {

struct SimSetup;

struct NamedFleet {
  std::string name;  // "" when the configuration has no variants
  SimConfig fleet;
  // A variant that changes the trace: the setup its trace comes from
  // (the configuration's when null).
  std::shared_ptr<const SimSetup> own_trace;
};

struct SimSetup {
  PaperTraceShape trace;  // what to generate, unless trace_path is set
  // With `azure.days`, starts come from the Azure Functions trace instead
  // (trace's image keys still shape the images).
  AzureShape azure;
  // With the burst generator, starts come from it instead.
  std::optional<BurstShape> burst;
  std::string trace_path;  // a trace directory (trace_files.h), as written
  // Images to build the generated trace's functions on (trace.base_images,
  // as written): the caller reads them into trace.base_images.
  std::string base_images_path;
  SimConfig fleet;  // the configuration without its variants
  // The fleets to run: each variant, or just `fleet`; all on the one trace
  // but those that change it.
  std::vector<NamedFleet> variants;
  std::vector<Claim> claims;
};

// InvalidArgument naming the key for anything malformed.
Result<SimSetup> ParseSimConfig(const std::string& json_text);

}  // namespace lode::sim
