// Chunk reads as one cache saw them, for replaying through other policies
// (policies.h) and other simulators (oracle_general.h).
#pragma once

#include <cstdint>
#include <vector>

namespace lode::sim {

struct Request {
  uint32_t time_s;
  uint64_t key;
  uint32_t bytes;
};

// The requests of one run: worker 0's L1 (every simulated read placed on
// it) and the L2 fleet's (every read an L1 missed, as a chunk).
struct RequestStreams {
  std::vector<Request> l1_worker0, l2;
};

// For each request, the index of the same key's next request; -1 if none.
std::vector<int64_t> NextRequestIndices(const std::vector<Request>& requests);

// Denning's working set over a window of `window_s` seconds: the bytes of
// distinct keys read within a window, averaged over the stream's span. A
// cache of this size holds everything read again within the window: with
// the five-minute rule's break-even interval, the size worth paying for.
double WorkingSetBytes(const std::vector<Request>& requests, double window_s);

}  // namespace lode::sim
