// The tiered read path for ciphertext chunks: L1 disk, then the origin store
// (the memcached L2 slots in between). Every chunk is verified against its
// name (SHA-256 of its bytes) before it is returned or cached; a bad copy in
// L1 is dropped and fetched again, a bad copy at the origin is an error.
// Concurrent fetches of one chunk share a single fetch. Thread-safe.
#pragma once

#include <future>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/disk_cache.h"
#include "cache/memory_cache.h"
#include "cache/metrics.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::cache {

enum class Tier { kL1, kOrigin };

struct Fetched {
  SharedBytes bytes;
  Tier tier = Tier::kOrigin;  // where the bytes were found
  bool shared = false;        // another caller's fetch delivered them
};

class ChunkFetcher {
 public:
  // `l1` may be null (no disk cache).
  ChunkFetcher(DiskCache* l1, store::ObjectStore& origin);

  // The verified bytes of chunk `name` (64 hex) of root `root`.
  Result<Fetched> Fetch(const std::string& root, const std::string& name);
  std::vector<TierSnapshot> Metrics() const;

 private:
  Result<Fetched> FetchOnce(const std::string& root, const std::string& name);
  Result<Fetched> FromOrigin(const std::string& root, const std::string& name);

  DiskCache* l1_;
  store::ObjectStore& origin_;
  TierMetrics l1_metrics_;
  TierMetrics origin_metrics_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<Result<Fetched>>> in_flight_;
};

// True when `bytes` hash to `name` (64 hex).
bool MatchesName(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace lode::cache
