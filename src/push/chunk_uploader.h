// Seals and uploads chunks on a pool of threads. At most two chunks per
// thread are queued or being worked on: Submit blocks beyond that, so memory
// stays bounded. Thread-safe for one submitting thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "chunk/convergent.h"
#include "manifest/manifest.h"
#include "store/object_store.h"
#include "util/task_queue.h"

namespace lode::push {

struct UploadStats {
  uint64_t existing = 0;
  uint64_t uploaded = 0;
  uint64_t bytes_uploaded = 0;
};

class ChunkUploader {
 public:
  using Done = std::function<void(const manifest::ChunkEntry&)>;
  ChunkUploader(store::ObjectStore& store, std::string root, const chunk::Salt& salt, bool compress,
                int threads);

  // Queues one chunk; `done` runs on a worker with its manifest entry.
  Status Submit(std::vector<uint8_t> plaintext, Done done);
  // Waits for every queued chunk; returns the first error.
  Status Finish();
  UploadStats stats() const;

 private:
  Status Upload(const std::vector<uint8_t>& plaintext, manifest::ChunkEntry* entry);

  store::ObjectStore& store_;
  std::string root_;
  chunk::Salt salt_;
  bool compress_;
  mutable std::mutex mu_;
  std::set<chunk::ChunkName> seen_;  // names stored or being stored by this push
  UploadStats stats_;
  TaskQueue queue_;  // last: its threads stop before the members they use go
};

}  // namespace lode::push
