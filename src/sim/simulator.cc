#include "sim/simulator.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <unordered_map>

#include "cache/placement.h"
#include "sim/fleet.h"
#include "sim/origin.h"

namespace lode::sim {
namespace {

// Fetch times in 1/32-octave buckets of microseconds (2% apart), for
// percentiles.
class Histogram {
 public:
  void Add(double ms) {
    double us = std::max(1.0, ms * 1000);
    size_t b = std::min<size_t>(kBuckets - 1, static_cast<size_t>(std::log2(us) * kPerOctave));
    counts_[b]++;
    total_++;
  }
  Distribution Get() const {
    Distribution d{At(0.5), At(0.99), At(0.999), {}};
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets && total_ > 0; ++b) {
      if (counts_[b] == 0) continue;
      seen += counts_[b];
      d.cdf.emplace_back(UpperEdgeMs(b), static_cast<double>(seen) / static_cast<double>(total_));
    }
    return d;
  }

 private:
  static constexpr double kPerOctave = 32;
  static constexpr size_t kBuckets = 40 * 32;  // up to 2^40 us
  static double UpperEdgeMs(size_t b) {
    return std::exp2(static_cast<double>(b + 1) / kPerOctave) / 1000;
  }
  double At(double q) const {
    if (total_ == 0) return 0;
    uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_))), seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= want) return std::exp2((static_cast<double>(b) + 0.5) / kPerOctave) / 1000;
    }
    return 0;
  }
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets);
  uint64_t total_ = 0;
};

class Simulation {
 public:
  Simulation(const Trace& trace, const SimConfig& c, RequestStreams* streams)
      : trace_(trace),
        c_(c),
        streams_(streams                   ? streams
                 : c.curves.stream.empty() ? nullptr
                                           : &own_streams_),
        rng_(c.seed),
        l2_(c.l2_nodes, Scaled(c.l2_node_bytes), c.l2_code, c.l2_slow_factor, c.l2_hedge_ms),
        l1_memory_(c.l1_memory),
        l1_disk_(c.l1_disk),
        l2_stripe_(c.l2_stripe),
        origin_(c.origin),
        origin_gets_(c.workers, c.admission),
        sample_below_(static_cast<uint64_t>(std::ldexp(c.sampling_rate, 24))) {
    if (c.sandboxes.modeled()) sandboxes_.emplace(c.workers, c.sandboxes);
    for (int w = 0; w < c.workers; ++w) {
      workers_.emplace_back(Scaled(c.l1_memory_bytes), Scaled(c.l1_disk_bytes), c.l1_k);
      worker_names_.push_back("worker-" + std::to_string(w));
      all_workers_.push_back(static_cast<size_t>(w));
    }
    events_ = c.l2_events;
    std::stable_sort(events_.begin(), events_.end(), [](const NodeEvent& a, const NodeEvent& b) {
      return a.at_hours < b.at_hours;
    });
  }

  SimResult Run(const std::function<void(double)>& progress) {
    auto began = std::chrono::steady_clock::now();
    size_t step = std::max<size_t>(1, trace_.starts.size() / 200);
    for (size_t i = 0; i < trace_.starts.size(); ++i) {
      Start s = trace_.starts[i];
      s.time_s *= c_.time_scale;
      ApplyEventsUntil(s.time_s);
      Invoke(s);
      if (progress && i % step == 0) progress(static_cast<double>(i) / trace_.starts.size());
    }
    result_.l1_ms = l1_hist_.Get();
    result_.l2_ms = l2_hist_.Get();
    result_.origin_ms = origin_hist_.Get();
    result_.start_fetch_ms = start_hist_.Get();
    result_.l2_egress_bytes = l2_.egress_bytes();
    result_.l2_peak_egress_per_second = l2_.peak_egress_per_second();
    result_.l2_repaired = l2_.repaired();
    result_.origin = origin_gets_.counts();
    if (sandboxes_) result_.peak_sandboxes = sandboxes_->peak_live();
    if (!c_.curves.stream.empty()) result_.curves = MissRatioCurves();
    result_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    return result_;
  }

 private:
  uint64_t Scaled(uint64_t bytes) const {
    return static_cast<uint64_t>(static_cast<double>(bytes) * c_.sampling_rate);
  }

  void ApplyEventsUntil(double t) {
    while (next_event_ < events_.size() && events_[next_event_].at_hours * 3600 <= t) {
      const NodeEvent& e = events_[next_event_++];
      int first = e.node == NodeEvent::kAll ? 0 : e.node;
      int last = e.node == NodeEvent::kAll ? l2_.nodes() : e.node + 1;
      for (int node = first; node < last; ++node) {
        if (e.change == "restart") {
          l2_.Restart(node);
        } else {
          l2_.SetState(node, e.change == "down"   ? NodeState::kDown
                             : e.change == "slow" ? NodeState::kSlow
                                                  : NodeState::kUp);
        }
      }
    }
  }

  void Invoke(const Start& s) {
    result_.invocations++;
    if (sandboxes_) {
      sandboxes_->AdvanceTo(s.time_s);
      if (sandboxes_->TakeWarm(s.function, s.time_s)) {
        result_.warm++;
        return;
      }
    }
    std::optional<size_t> worker = WorkerFor(s.function);
    if (!worker) {
      result_.refused++;
      return;
    }
    if (sandboxes_) sandboxes_->Start(s.function, *worker, s.time_s);
    RunStart(s, *worker);
  }

  bool HasFreeSlot(size_t worker) const { return !sandboxes_ || sandboxes_->HasFreeSlot(worker); }

  // The first of `candidates` with a free slot, from index `first` on.
  std::optional<size_t> FirstFree(const std::vector<size_t>& candidates, size_t first) const {
    for (size_t i = 0; i < candidates.size(); ++i) {
      size_t worker = candidates[(first + i) % candidates.size()];
      if (HasFreeSlot(worker)) return worker;
    }
    return std::nullopt;
  }

  // A random worker with a free slot.
  std::optional<size_t> AnyWorker() {
    size_t first = std::uniform_int_distribution<size_t>(0, workers_.size() - 1)(rng_);
    return FirstFree(all_workers_, first);
  }

  std::optional<size_t> WorkerFor(uint32_t function) {
    if (c_.placement != "affinity") return AnyWorker();
    auto [it, added] = ranked_.try_emplace(function);
    if (added) {
      it->second = cache::RankServers(worker_names_, trace_.functions[function],
                                      static_cast<size_t>(c_.affinity_spread));
    }
    size_t first = std::uniform_int_distribution<size_t>(0, it->second.size() - 1)(rng_);
    if (std::optional<size_t> worker = FirstFree(it->second, first)) return worker;
    result_.spilled++;
    return AnyWorker();
  }

  // A cold start on `worker`: its start set's reads, issued
  // `start_parallelism` at a time (the agent prefetches a start's profile
  // on that many threads), each when a lane frees up.
  void RunStart(const Start& s, size_t worker) {
    uint64_t salt = c_.salt_period_hours > 0
                        ? static_cast<uint64_t>(s.time_s / (c_.salt_period_hours * 3600))
                        : 0;
    uint64_t tenant = c_.salt_per_tenant ? TenantIndex(trace_, s.function) + 1 : 0;
    size_t hour = static_cast<size_t>(s.time_s / 3600);
    if (result_.hours.size() <= hour) result_.hours.resize(hour + 1);
    bool warm = s.time_s >= c_.warmup_hours * 3600;
    lanes_.assign(static_cast<size_t>(c_.start_parallelism), 0);  // ms into the start
    bool failed = false;
    for (uint64_t content : trace_.images[s.image].start_set) {
      uint64_t key = Mix(content ^ Mix(salt + 0x5a17 + (tenant << 32)));
      if ((Mix(key) >> 40) >= sample_below_) continue;
      result_.accesses++;
      if (c_.count_sharing) CountSharing(key, content, s.image);
      auto lane = std::min_element(lanes_.begin(), lanes_.end());
      TierCounts served;
      std::optional<double> ms = Read(worker, key, s.time_s * 1000 + *lane, served);
      if (!ms) {
        failed = true;  // the agent fails the read, and the start with it
        break;
      }
      *lane += *ms;
      Count(result_.all, served);
      Count(result_.hours[hour], served);
      if (warm) Count(result_.after_warmup, served);
    }
    result_.starts++;
    result_.failed_starts += failed;
    result_.trace_reads += trace_.images[s.image].start_set.size();
    if (!failed) start_hist_.Add(*std::max_element(lanes_.begin(), lanes_.end()));
  }

  // One chunk read through L1, L2 and the origin at `at_ms`, filling the
  // tiers it missed: how long it took, or nothing when the origin's
  // admission refused it.
  std::optional<double> Read(size_t worker, uint64_t key, double at_ms, TierCounts& served) {
    uint64_t bytes = trace_.chunk_bytes;
    auto time_s = static_cast<uint32_t>(at_ms / 1000);
    if (streams_ && worker == 0) {
      streams_->l1_worker0.push_back({time_s, key, static_cast<uint32_t>(bytes)});
    }
    WorkerCache& l1 = workers_[worker];
    WorkerCache::Found found = l1.Read(key, bytes);
    if (found != WorkerCache::Found::kNo) {
      double ms = (found == WorkerCache::Found::kMemory ? l1_memory_ : l1_disk_).Sample(rng_);
      l1_hist_.Add(ms);
      served.l1 = 1;
      return ms;
    }
    if (streams_) streams_->l2.push_back({time_s, key, static_cast<uint32_t>(bytes)});
    L2Read r = l2_.Read(key, bytes, at_ms, rng_, l2_stripe_);
    double ms = r.latency_ms;
    if (r.hit) {
      l2_hist_.Add(ms);
      served.l2 = 1;
    } else {
      double from_origin = origin_.Sample(rng_);
      std::optional<double> waited = origin_gets_.Fetch(worker, at_ms + ms, from_origin);
      if (!waited) return std::nullopt;
      origin_hist_.Add(*waited + from_origin);
      ms += *waited + from_origin;
      served.origin = 1;
      l2_.Fill(key, bytes);
    }
    l1.Fill(key, bytes);
    return ms;
  }

  // The configured cache of the curves' stream and its five-minute rule:
  // L1's disk tier reloads from L2, the L2's memory from the origin.
  std::optional<Curves> MissRatioCurves() const {
    constexpr double kGiB = 1024.0 * 1024 * 1024;
    double chunk_gib = static_cast<double>(trace_.chunk_bytes) / kGiB;
    bool l1 = c_.curves.stream == "l1";
    double configured = l1 ? static_cast<double>(c_.l1_disk_bytes)
                           : static_cast<double>(c_.l2_nodes) *
                                 static_cast<double>(c_.l2_node_bytes) * c_.l2_code.k /
                                 c_.l2_code.total();
    double reload = l1 ? c_.prices.l2_read : c_.prices.origin_read;
    double hold_per_s =
        chunk_gib * (l1 ? c_.prices.disk_gib_hour : c_.prices.memory_gib_hour) / 3600;
    Result<Curves> curves =
        ComputeCurves(c_.curves, l1 ? streams_->l1_worker0 : streams_->l2, configured,
                      hold_per_s > 0 ? reload / hold_per_s : 0, c_.sampling_rate);
    if (!curves.ok()) return std::nullopt;  // the configuration's policies were checked
    return *curves;
  }

  void CountSharing(uint64_t key, uint64_t content, uint32_t image) {
    if (!key_images_.insert({key, image}).second) return;
    result_.sharing.key_images++;
    uint64_t& images = images_per_key_[key];
    if (images++ == 0) result_.sharing.keys++;
    result_.sharing.max_images_per_key = std::max(result_.sharing.max_images_per_key, images);
    if (contents_.insert(content).second) result_.sharing.contents++;
  }

  static void Count(TierCounts& into, const TierCounts& one) {
    into.l1 += one.l1;
    into.l2 += one.l2;
    into.origin += one.origin;
  }

  const Trace& trace_;
  SimConfig c_;
  RequestStreams own_streams_;  // for curves when the caller wants no streams
  RequestStreams* streams_;
  std::mt19937_64 rng_;
  std::vector<WorkerCache> workers_;
  std::vector<std::string> worker_names_;
  std::vector<size_t> all_workers_;  // 0, 1, ...
  std::optional<Sandboxes> sandboxes_;
  std::unordered_map<uint32_t, std::vector<size_t>> ranked_;  // by function
  L2Fleet l2_;
  Latency l1_memory_, l1_disk_, l2_stripe_, origin_;
  Origin origin_gets_;
  std::vector<double> lanes_;                                      // the current start's, reused
  absl::flat_hash_set<std::pair<uint64_t, uint32_t>> key_images_;  // with count_sharing
  absl::flat_hash_map<uint64_t, uint64_t> images_per_key_;
  absl::flat_hash_set<uint64_t> contents_;
  uint64_t sample_below_;
  std::vector<NodeEvent> events_;
  size_t next_event_ = 0;
  Histogram l1_hist_, l2_hist_, origin_hist_, start_hist_;
  SimResult result_;
};

}  // namespace

SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const std::function<void(double)>& progress, RequestStreams* streams) {
  return Simulation(trace, config, streams).Run(progress);
}

}  // namespace lode::sim
