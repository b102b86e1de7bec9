// The tiered read path for ciphertext chunks: L1 disk, then the memcached
// L2 fleet (optional), then the origin store behind admission control. Every
// chunk is verified against its name (SHA-256 of its bytes) before it is
// returned or cached; a bad copy in L1 or L2 is dropped and fetched from the
// next tier, a bad copy at the origin is an error. A chunk found below L1
// fills L1; one from the origin also fills L2 (in the background).
// Concurrent fetches of one chunk share a single fetch. Thread-safe.
#pragma once

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/admission.h"
#include "cache/disk_cache.h"
#include "cache/memcached_l2.h"
#include "cache/memory_cache.h"
#include "cache/metrics.h"
#include "store/object_store.h"
#include "util/status.h"

namespace lode::cache {

enum class Tier { kL1, kL2, kOrigin };

struct FetcherOptions {
  DiskCache* l1 = nullptr;    // optional
  MemcachedL2* l2 = nullptr;  // optional
  int max_origin_fetches = 32;
  std::chrono::milliseconds admission_timeout{10000};
};

struct Fetched {
  SharedBytes bytes;
  Tier tier = Tier::kOrigin;  // where the bytes were found
  bool shared = false;        // another caller's fetch delivered them
};

class ChunkFetcher {
 public:
  ChunkFetcher(const FetcherOptions& options, store::ObjectStore& origin);

  // The verified bytes of chunk `name` (64 hex) of root `root`.
  Result<Fetched> Fetch(const std::string& root, const std::string& name);
  std::vector<TierSnapshot> Metrics() const;
  const Admission& admission() const { return admission_; }

 private:
  Result<Fetched> FetchOnce(const std::string& root, const std::string& name);
  std::optional<Fetched> FromL1(const std::string& name);
  std::optional<Fetched> FromL2(const std::string& name);
  Result<Fetched> FromOrigin(const std::string& root, const std::string& name);

  DiskCache* l1_;
  MemcachedL2* l2_;
  store::ObjectStore& origin_;
  Admission admission_;
  TierMetrics l1_metrics_;
  TierMetrics l2_metrics_;
  TierMetrics origin_metrics_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<Result<Fetched>>> in_flight_;
};

// True when `bytes` hash to `name` (64 hex).
bool MatchesName(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace lode::cache
