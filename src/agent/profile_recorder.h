// Records which chunks an attachment reads during a start, in first-read
// order, until the start goes quiet (no chunk read for the first time for
// a while) or a time bound passes; the agent then merges the recording into
// the image's startup profile (catalog/profile.h). Hole chunks are never
// read and never recorded; prefetched chunks are not reads of the start.
// Thread-safe; Note is cheap once a chunk was seen.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "catalog/profile.h"
#include "util/clock.h"

namespace lode::agent {

class ProfileRecorder {
 public:
  explicit ProfileRecorder(uint64_t chunk_count) : seen_(chunk_count, false) {}

  // A read of chunk `index`: the clock is read and the lock taken only
  // while recording.
  void Note(uint64_t index);
  // True while recording and, at `now_ns`, no new chunk was read for
  // `quiet_ns` after the first one, or the first read is `max_ns` old.
  bool ShouldStop(int64_t now_ns, int64_t quiet_ns, int64_t max_ns) const;
  // Ends the recording; nullopt if it had ended already or holds nothing.
  std::optional<catalog::StartupProfile> Stop();

 private:
  std::atomic<bool> active_ = true;
  mutable std::mutex mu_;
  std::vector<bool> seen_;       // guarded by mu_
  std::vector<uint32_t> order_;  // guarded by mu_
  int64_t first_ns_ = 0;         // guarded by mu_
  int64_t last_new_ns_ = 0;      // guarded by mu_
};

}  // namespace lode::agent
