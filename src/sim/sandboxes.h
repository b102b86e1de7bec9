// Sandboxes on workers, for runs where the trace's events are invocations:
// an invocation of a function reuses an idle sandbox of it (a warm start,
// no chunk read) or starts a new one (a cold start, which reads its start
// set) on a worker with a free slot. An invocation keeps its sandbox busy
// for `invocation_s`; a sandbox idle for longer than `keep_alive_s` is
// gone and frees its slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace lode::sim {

struct SandboxConfig {
  int slots = 0;            // per worker; 0: no limit
  double keep_alive_s = 0;  // 0 with no slot limit: every event a cold start
  double invocation_s = 1;
  bool modeled() const { return slots > 0 || keep_alive_s > 0; }
};

class Sandboxes {
 public:
  Sandboxes(int workers, const SandboxConfig& config);

  // Time moves on to `t`: sandboxes idle past their keep-alive go.
  void AdvanceTo(double t);
  // Takes an idle sandbox of `function`, busy from `t`: false if none.
  bool TakeWarm(uint32_t function, double t);
  bool HasFreeSlot(size_t worker) const {
    return config_.slots == 0 || used_[worker] < static_cast<uint32_t>(config_.slots);
  }
  // A new sandbox of `function` on `worker` (which has a free slot), busy
  // from `t`.
  void Start(uint32_t function, size_t worker, double t);
  size_t live() const { return live_; }
  size_t peak_live() const { return peak_live_; }

 private:
  struct Box {
    uint32_t function, worker;
    double busy_until;
    uint32_t generation;  // bumped at each use: older expiries are stale
  };
  using Expiry = std::tuple<double, uint32_t, uint32_t>;  // at, box, generation
  void Use(uint32_t box, double t);
  void Remove(uint32_t box);

  SandboxConfig config_;
  std::vector<uint32_t> used_;  // slots used, by worker
  std::vector<Box> boxes_;
  std::vector<uint32_t> free_boxes_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> by_function_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
  size_t live_ = 0, peak_live_ = 0;
};

}  // namespace lode::sim
