// Memory tier: decrypted chunks within a byte budget, evicted by LRU-K
// (K = 2). Values are shared, so an evicted chunk stays valid for readers
// still holding it. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/residency.h"

namespace lode::cache {

using SharedBytes = std::shared_ptr<const std::vector<uint8_t>>;

class MemoryCache {
 public:
  explicit MemoryCache(uint64_t budget_bytes);
  // How many evicted keys its LRU-K remembers for a budget.
  static size_t HistoryLimit(uint64_t budget_bytes) {
    return static_cast<size_t>(budget_bytes / (256 << 10) + 16);
  }

  // The value under `key`, or null. Counts as an access.
  SharedBytes Get(const std::string& key);
  void Put(const std::string& key, SharedBytes value);
  uint64_t bytes() const;

 private:
  mutable std::mutex mu_;
  Residency<std::string, SharedBytes> residency_;
};

}  // namespace lode::cache
