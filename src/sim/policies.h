// Replacement policies to compare on a recorded request stream (a
// worker's L1 or the L2 fleet's): the agent's own LRU-K and LRU
// (cache::Residency), 2Q (Johnson and Shasha, VLDB'94), ARC (Megiddo and
// Modha, FAST'03), S3-FIFO (Yang et al., SOSP'23), SIEVE (Zhang et al.,
// NSDI'24) and Belady's MIN with bypass, the offline optimum, as the
// bound. Chunks are all one size, so capacities count chunks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/requests.h"
#include "util/status.h"

namespace lode::sim {

class Policy {
 public:
  virtual ~Policy() = default;
  // The stream's `index`-th request, for `key`: true on a hit; a miss
  // admits the key (Belady may bypass it).
  virtual bool Access(uint64_t key, size_t index) = 0;
};

// "lru-2" (the agent's tiers), "lru", "2q", "arc", "s3-fifo", "sieve",
// "belady" (which needs `next`, NextRequestIndices of the stream).
const std::vector<std::string>& PolicyNames();
Result<std::unique_ptr<Policy>> MakePolicy(const std::string& name, size_t capacity_chunks,
                                           uint64_t chunk_bytes, const std::vector<int64_t>& next);

// The share of `requests` that miss under `name` with room for
// `capacity_chunks` chunks.
Result<double> MissRatio(const std::string& name, const std::vector<Request>& requests,
                         const std::vector<int64_t>& next, size_t capacity_chunks);

}  // namespace lode::sim
