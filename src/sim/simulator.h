// Replays a trace's starts through a fleet: each start goes to a worker
// (placement), reads its image's start set chunk by chunk through the
// worker's L1, the L2 fleet and the origin, and fills the tiers it missed.
// Deterministic for a seed. Sampling follows SHARDS: only chunks whose
// hashed key falls under the rate are simulated, and every cache is
// scaled by the rate, so the shares of a sampled run estimate the full
// run's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/erasure.h"
#include "sim/curves.h"
#include "sim/latency.h"
#include "sim/origin.h"
#include "sim/requests.h"
#include "sim/sandboxes.h"
#include "sim/trace.h"

namespace lode::sim {

// A change of an L2 node (or all of them) at a time: "down", "up", "slow"
// or "restart" (back up, empty).
struct NodeEvent {
  static constexpr int kAll = -1;  // every node at once
  double at_hours = 0;
  int node = 0;
  std::string change;
};

struct SimConfig {
  uint64_t seed = 1;
  int workers = 100;
  std::string placement = "random";  // or "affinity": a function's top-ranked workers
  int affinity_spread = 2;           // ... among its `spread` best-ranked workers
  // Slots and keep-alive (sandboxes.h); when modeled the trace's events are
  // invocations, and only cold starts read chunks. A start whose workers are
  // full spills over to a random worker with a free slot; with none free it
  // is refused.
  SandboxConfig sandboxes;
  // A cold start's reads are issued this many at a time (the agent's
  // prefetch threads; 1: one after another).
  int start_parallelism = 16;
  AdmissionConfig admission;  // origin fetches per worker (origin.h)
  uint64_t l1_memory_bytes = 2ull << 30;
  uint64_t l1_disk_bytes = 32ull << 30;
  int l1_k = 2;  // LRU-K's K in L1 (the agent's); 1 is plain LRU
  int l2_nodes = 20;
  uint64_t l2_node_bytes = 64ull << 30;
  cache::ErasureCode l2_code{4, 1};
  double l2_slow_factor = 10;
  double l2_hedge_ms = 0;  // 0: every stripe asked at once
  LatencyShape l1_memory{0.02, 0.05, 0.99};
  LatencyShape l1_disk{1.1, 1.5, 0.99};    // BENCHMARKS.md, issue 5
  LatencyShape l2_stripe{1.5, 2.4, 0.99};  // ditto, a 4+1 read
  LatencyShape origin{36, 175, 0.999};     // S3's published shape
  double salt_period_hours = 0;            // 0: one salt for the whole trace
  bool salt_per_tenant = false;            // each tenant's salt its own (no dedup across)
  // Counts which images read each chunk key (the blast radius of one bad
  // chunk) and the keys stored per content (deduplication lost to salts).
  bool count_sharing = false;
  // Miss-ratio curves of worker 0's L1 or of the L2 stream (curves.h).
  CurvesConfig curves;
  double sampling_rate = 1;
  double warmup_hours = 0;
  // Time compression: the trace's times multiplied by this (0.1 replays
  // ten hours of starts in one, ten times as fast; 2 spreads them out).
  double time_scale = 1;
  std::vector<NodeEvent> l2_events;
  // What holding and reloading cost, in dollars (public prices, 2026:
  // memory of memory-optimized instances, gp3 volumes, S3 GETs).
  struct Prices {
    double memory_gib_hour = 0.005;
    double disk_gib_hour = 0.00011;
    double l2_read = 0;  // the L2's memory is paid as held memory
    double origin_read = 4e-7;
  } prices;
};

struct TierCounts {
  uint64_t l1 = 0, l2 = 0, origin = 0;
  uint64_t total() const { return l1 + l2 + origin; }
};

// Fetch times: percentiles, and the cumulative distribution as points
// {milliseconds, fraction at or below}.
struct Distribution {
  double p50 = 0, p99 = 0, p999 = 0;
  std::vector<std::pair<double, double>> cdf;
};

struct SimResult {
  uint64_t invocations = 0;    // events of the trace
  uint64_t warm = 0;           // invocations served by an idle sandbox
  uint64_t starts = 0;         // cold starts (the others)
  uint64_t spilled = 0;        // starts placed off their function's workers
  uint64_t refused = 0;        // starts with no free slot anywhere
  uint64_t failed_starts = 0;  // a read the origin's admission refused
  uint64_t peak_sandboxes = 0;
  uint64_t trace_reads = 0;  // chunk reads of the trace's starts
  uint64_t accesses = 0;     // of those, simulated (the sampled ones)
  TierCounts all, after_warmup;
  std::vector<TierCounts> hours;  // by hour of the trace
  // Per read served by each tier (origin: with any admission wait), and
  // per start (its reads' makespan over the lanes, sampled reads only).
  Distribution l1_ms, l2_ms, origin_ms, start_fetch_ms;
  std::vector<uint64_t> l2_egress_bytes;            // per node
  std::vector<uint64_t> l2_peak_egress_per_second;  // per node: its busiest second's bytes
  uint64_t l2_repaired = 0;                         // stripes stored again after a degraded read
  OriginCounts origin;
  // With count_sharing, over the simulated (sampled) chunks:
  struct Sharing {
    uint64_t keys = 0;      // distinct chunk keys read (content x salt generation)
    uint64_t contents = 0;  // distinct contents read
    uint64_t max_images_per_key = 0;
    uint64_t key_images = 0;  // distinct (key, image) pairs
  } sharing;
  std::optional<Curves> curves;
  double wall_seconds = 0;
};

// `progress`, when set, is told the fraction of starts done now and then;
// `streams`, when set, receives the requests.
SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const std::function<void(double done)>& progress = nullptr,
                   RequestStreams* streams = nullptr);

}  // namespace lode::sim
