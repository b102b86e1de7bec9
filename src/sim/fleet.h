// The simulated tiers, on lode's own cache code: a worker's L1 is the
// agent's memory tier over its LRU-K disk tier (cache::Residency with the
// agent's budgets and history sizes); the L2 is a fleet of nodes, each an
// LRU of stripes (memcached's policy), with stripes placed by the memcached
// tier's rendezvous hashing (cache::RankServers) under any k + m code:
// Reed-Solomon (4+1, 4+2), replication (1 + (r - 1)) or a single copy
// (1+0). Keys are 64-bit chunk ids.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cache/erasure.h"
#include "cache/residency.h"
#include "sim/latency.h"
#include "sim/peak_rate.h"

namespace lode::sim {

class WorkerCache {
 public:
  // `k`: LRU-K's K for both tiers (the agent's is 2; 1 is plain LRU).
  WorkerCache(uint64_t memory_bytes, uint64_t disk_bytes, int k = 2);

  enum class Found { kMemory, kDisk, kNo };
  // Looks a chunk up as the agent does: memory, then disk (a disk hit is
  // put in memory too).
  Found Read(uint64_t key, uint64_t bytes);
  // A chunk fetched from L2 or the origin goes to both tiers.
  void Fill(uint64_t key, uint64_t bytes);

 private:
  cache::Residency<uint64_t> memory_, disk_;
};

enum class NodeState { kUp, kDown, kSlow };

struct L2Read {
  bool hit = false;
  double latency_ms = 0;  // to the k-th stripe (a hit) or the last answer (a miss)
};

class L2Fleet {
 public:
  // `nodes` nodes of `node_bytes` each, stripes of a chunk under `code`;
  // `slow_factor` multiplies the latency of a node marked slow. A read asks
  // all k + m stripes at once, or with `hedge_ms` > 0 the k data stripes
  // first and the parity ones only if k are not in after `hedge_ms`.
  L2Fleet(int nodes, uint64_t node_bytes, cache::ErasureCode code, double slow_factor,
          double hedge_ms = 0);

  // Asks every stripe's node (the up ones) for chunk `key`: a hit when k
  // stripes are there. Each answer takes `stripe` latency; each stripe
  // found is sent (egress). On a hit, stripes that up nodes reported
  // missing before the chunk decoded are stored again, as MemcachedL2 does.
  // `at_ms` places the egress in time.
  L2Read Read(uint64_t key, uint64_t chunk_bytes, double at_ms, std::mt19937_64& rng,
              const Latency& stripe);
  // Stores the chunk's stripes (ceil(bytes / k) each) on their nodes that
  // are up.
  void Fill(uint64_t key, uint64_t chunk_bytes);

  void SetState(int node, NodeState state);
  // The node comes back up empty (a memcached restart).
  void Restart(int node);
  int nodes() const { return static_cast<int>(nodes_.size()); }
  const cache::ErasureCode& code() const { return code_; }
  // Stripes stored again after a read found them missing.
  uint64_t repaired() const { return repaired_; }
  // Bytes each node served (stripes read), for egress.
  const std::vector<uint64_t>& egress_bytes() const { return egress_; }
  // The most bytes each node served within one second.
  std::vector<uint64_t> peak_egress_per_second() const;

 private:
  struct Node {
    std::unique_ptr<cache::Residency<uint64_t>> stripes;
    NodeState state = NodeState::kUp;
  };
  // The nodes of stripes 0..k+m-1 of `key`, computed once per chunk.
  const uint16_t* Placement(uint64_t key);
  std::unique_ptr<cache::Residency<uint64_t>> EmptyNode() const;

  uint64_t node_bytes_;
  cache::ErasureCode code_;
  double slow_factor_;
  double hedge_ms_;
  std::vector<std::string> names_;
  std::vector<Node> nodes_;
  std::vector<uint64_t> egress_;
  std::vector<PeakPerSecond> busiest_;  // per node
  uint64_t repaired_ = 0;
  absl::flat_hash_map<uint64_t, uint32_t> placed_;  // chunk -> offset in placements_
  std::vector<uint16_t> placements_;
};

// A chunk's stripe `i` as an L2 key.
uint64_t StripeKey(uint64_t chunk, int stripe);
// 64-bit mixing (splitmix64's finalizer): chunk ids from content and salt.
uint64_t Mix(uint64_t x);

}  // namespace lode::sim
