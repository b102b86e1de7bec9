// The most counted within any one second, for counts that arrive roughly
// in time order (starts are replayed in order, but a start's reads spread
// over its fetch time and admission waits push them later): the last
// kWindow seconds are kept, and a second is final once a count arrives
// kWindow seconds after it. A count older than the window goes to its
// oldest second.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace lode::sim {

class PeakPerSecond {
 public:
  void Add(double at_ms, uint64_t n) {
    auto second = static_cast<uint64_t>(std::max(0.0, at_ms) / 1000);
    while (newest_ < second) {  // seconds leaving the window are final
      ++newest_;
      uint64_t& leaving = counts_[newest_ % kWindow];
      peak_ = std::max(peak_, leaving);
      leaving = 0;
    }
    second = std::max(second, newest_ >= kWindow ? newest_ - kWindow + 1 : 0);
    counts_[second % kWindow] += n;
  }
  uint64_t peak() const {
    return std::max(peak_, *std::max_element(counts_.begin(), counts_.end()));
  }

 private:
  static constexpr uint64_t kWindow = 256;
  std::array<uint64_t, kWindow> counts_{};
  uint64_t newest_ = 0;
  uint64_t peak_ = 0;  // of the seconds that left the window
};

}  // namespace lode::sim
