#include "agent/profile_recorder.h"

namespace lode::agent {

void ProfileRecorder::Note(uint64_t index) {
  if (!active_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  if (index >= seen_.size() || seen_[index] || order_.size() >= catalog::kMaxProfileChunks) return;
  int64_t now_ns = MonotonicNanos();
  seen_[index] = true;
  order_.push_back(static_cast<uint32_t>(index));
  if (first_ns_ == 0) first_ns_ = now_ns;
  last_new_ns_ = now_ns;
}

bool ProfileRecorder::ShouldStop(int64_t now_ns, int64_t quiet_ns, int64_t max_ns) const {
  if (!active_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mu_);
  if (first_ns_ == 0) return false;
  return now_ns - last_new_ns_ >= quiet_ns || now_ns - first_ns_ >= max_ns;
}

std::optional<catalog::StartupProfile> ProfileRecorder::Stop() {
  if (!active_.exchange(false)) return std::nullopt;
  std::lock_guard lock(mu_);
  if (order_.empty()) return std::nullopt;
  return catalog::StartupProfile{std::move(order_)};
}

}  // namespace lode::agent
