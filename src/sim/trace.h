// What the simulator replays: a catalog of images (their size in chunks and
// the chunks a start reads, in first-read order, named by content so
// images built on the same base layers share them) and sandbox starts
// (time, function, image), each function a tenant's. docs/formats/sim.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lode::sim {

struct Image {
  std::string name;
  uint64_t chunks = 0;              // stored chunks of the image
  std::vector<uint64_t> start_set;  // content ids a start reads, in order
};

struct Start {
  double time_s = 0;
  uint32_t function = 0;
  uint32_t image = 0;
};

struct Trace {
  uint64_t chunk_bytes = 512 << 10;
  std::vector<std::string> functions;
  // Whose each function is (an index into `tenants`); empty: one tenant.
  std::vector<std::string> tenants;
  std::vector<uint32_t> function_tenant;
  std::vector<Image> images;
  std::vector<Start> starts;  // in time order
};

// The tenant of `function`'s name ("t0" when the trace has none).
inline std::string TenantOf(const Trace& trace, uint32_t function) {
  if (trace.function_tenant.empty()) return "t0";
  return trace.tenants[trace.function_tenant[function]];
}
// Its index (0 when the trace has none).
inline uint32_t TenantIndex(const Trace& trace, uint32_t function) {
  return trace.function_tenant.empty() ? 0 : trace.function_tenant[function];
}

}  // namespace lode::sim
