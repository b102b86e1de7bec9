// L1 disk cache: ciphertext chunks in one directory, one file per chunk named
// by its 64-hex name, within a byte budget, evicted by LRU-K (K = 2). Shared
// by every image a worker attaches. It survives restarts: opening indexes the
// files already there (oldest modification first) and removes temporary
// files a crash left. Contents are not trusted: readers verify what Get
// returns against the name and Remove what fails. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/residency.h"
#include "util/status.h"

namespace lode::cache {

struct DiskCacheStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t budget = 0;
  uint64_t evictions = 0;
};

class DiskCache {
 public:
  static Result<std::unique_ptr<DiskCache>> Open(const std::string& dir, uint64_t budget_bytes);
  // How many evicted chunks its LRU-K remembers for a budget.
  static size_t HistoryLimit(uint64_t budget_bytes);

  // The bytes stored under `name`, or nullopt when absent. Counts as an access.
  Result<std::optional<std::vector<uint8_t>>> Get(const std::string& name);
  // Stores `bytes` under `name`, evicting to stay within the budget. An
  // object larger than the whole budget is not stored.
  Status Put(const std::string& name, std::span<const uint8_t> bytes);
  // Drops `name` (for example after it failed verification).
  void Remove(const std::string& name);

  DiskCacheStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  DiskCache(std::string dir, uint64_t budget);
  Status Index();
  // Makes `name` resident, removing the files of the chunks it evicts.
  // Called with mu_ held.
  bool Admit(const std::string& name, uint64_t bytes);
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  mutable std::mutex mu_;
  Residency<std::string> residency_;
};

// True for a 64-character lower-case hex string (a chunk name).
bool IsChunkName(const std::string& name);

}  // namespace lode::cache
