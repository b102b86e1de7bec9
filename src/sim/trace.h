// What the simulator replays: a catalog of images (their size in chunks and
// the chunks a start reads, in first-read order, named by content so
// images built on the same base layers share them) and sandbox starts
// (time, function, image). docs/formats/sim.md.
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
  std::vector<Image> images;
  std::vector<Start> starts;  // in time order
};

}  // namespace lode::sim
