#include "sim/sandboxes.h"

#include <algorithm>

namespace lode::sim {

Sandboxes::Sandboxes(int workers, const SandboxConfig& config)
    : config_(config), used_(static_cast<size_t>(workers)) {}

void Sandboxes::AdvanceTo(double t) {
  while (!expiries_.empty() && std::get<0>(expiries_.top()) < t) {
    auto [at, box, generation] = expiries_.top();
    expiries_.pop();
    if (boxes_[box].generation == generation) Remove(box);
  }
}

bool Sandboxes::TakeWarm(uint32_t function, double t) {
  auto it = by_function_.find(function);
  if (it == by_function_.end()) return false;
  for (uint32_t box : it->second) {
    if (boxes_[box].busy_until <= t) {
      Use(box, t);
      return true;
    }
  }
  return false;
}

void Sandboxes::Start(uint32_t function, size_t worker, double t) {
  uint32_t box;
  if (free_boxes_.empty()) {
    box = static_cast<uint32_t>(boxes_.size());
    boxes_.push_back({});
  } else {
    box = free_boxes_.back();
    free_boxes_.pop_back();
  }
  boxes_[box] = {function, static_cast<uint32_t>(worker), 0, boxes_[box].generation + 1};
  by_function_[function].push_back(box);
  used_[worker]++;
  peak_live_ = std::max(peak_live_, ++live_);
  Use(box, t);
}

void Sandboxes::Use(uint32_t box, double t) {
  Box& b = boxes_[box];
  b.busy_until = t + config_.invocation_s;
  expiries_.emplace(b.busy_until + config_.keep_alive_s, box, ++b.generation);
}

void Sandboxes::Remove(uint32_t box) {
  Box& b = boxes_[box];
  std::vector<uint32_t>& mine = by_function_[b.function];
  mine.erase(std::find(mine.begin(), mine.end(), box));
  if (mine.empty()) by_function_.erase(b.function);
  used_[b.worker]--;
  live_--;
  b.generation++;
  free_boxes_.push_back(box);
}

}  // namespace lode::sim
