// Replay of a skewed start trace through the worker tiers (issue 5): many
// images over a common base, started on a few workers. Each worker has its
// own L1 (a real DiskCache with LRU-K); all share one L2 (real memcached
// servers, 4+1) and the origin (a dir:// store). Reports which tier served
// the chunk reads, to compare with the paper's 67% / 32% / 0.06% split.
//
// Usage: trace_bench [STARTS]. Chunks are 16 KiB here (budgets are set in
// chunks, so the split does not depend on the chunk size).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cache/chunk_fetcher.h"
#include "cache/disk_cache.h"
#include "cache/memcached_l2.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "testing/memcached_fleet.h"
#include "testing/scratch_dir.h"
#include "util/sha256.h"

namespace {

using namespace lode;

constexpr size_t kChunk = 16 << 10;
constexpr int kImages = 200;
constexpr int kBaseChunks = 400;       // the common base layers
constexpr int kImageChunks = 200;      // each image's own layers
constexpr int kBaseReadPerStart = 30;  // a start reads part of the base...
constexpr int kOwnReadPerStart = 10;   // ...and part of its own layers
constexpr int kWorkers = 8;
constexpr int kL1Chunks = 1500;  // per worker

struct Image {
  std::vector<std::string> reads;  // the chunks one start reads, in order
};

}  // namespace

int main(int argc, char** argv) {
  int starts = argc > 1 ? std::atoi(argv[1]) : 5000;
  testing::ScratchDir dir("lode-trace-bench");
  testing::MemcachedFleet fleet(5, 256);
  if (!fleet.ok()) {
    std::fprintf(stderr, "trace_bench: memcached did not start\n");
    return 1;
  }
  auto origin = *store::OpenStore("dir://" + dir / "store");
  std::mt19937_64 rng(42);
  auto new_chunk = [&] {
    std::vector<uint8_t> bytes(kChunk);
    for (size_t k = 0; k < kChunk; k += 8) {
      uint64_t r = rng();
      std::memcpy(bytes.data() + k, &r, 8);
    }
    std::string name = ToHex(Sha256::Of(bytes));
    if (!origin->Put(store::ChunkKey("root-0", name), bytes).ok()) std::abort();
    return name;
  };
  std::vector<std::string> base;
  for (int i = 0; i < kBaseChunks; ++i) base.push_back(new_chunk());
  // Every start of an image reads the same chunks (a function's start is
  // deterministic); images differ in which base chunks they touch.
  std::vector<Image> images(kImages);
  for (Image& img : images) {
    std::vector<std::string> own;
    for (int i = 0; i < kImageChunks; ++i) own.push_back(new_chunk());
    // Hot base chunks are shared by most images: skewed picks.
    std::geometric_distribution<int> pick(0.02);
    for (int i = 0; i < kBaseReadPerStart; ++i)
      img.reads.push_back(base[static_cast<size_t>(pick(rng) % kBaseChunks)]);
    for (int i = 0; i < kOwnReadPerStart; ++i) img.reads.push_back(own[static_cast<size_t>(i)]);
  }
  cache::L2Options l2o;
  l2o.servers = *cache::ParseMemcachedUrl(fleet.Url());
  l2o.code = {4, 1};
  auto l2 = *cache::MemcachedL2::Open(l2o);
  std::vector<std::unique_ptr<cache::DiskCache>> l1s;
  std::vector<std::unique_ptr<cache::ChunkFetcher>> workers;
  for (int w = 0; w < kWorkers; ++w) {
    l1s.push_back(*cache::DiskCache::Open(dir / ("l1-" + std::to_string(w)), kL1Chunks * kChunk));
    workers.push_back(std::make_unique<cache::ChunkFetcher>(
        cache::FetcherOptions{.l1 = l1s.back().get(), .l2 = l2.get()}, *origin));
  }
  // Image popularity: Zipf(1.1), as a few functions drive most starts.
  std::vector<double> weights;
  for (int i = 1; i <= kImages; ++i) weights.push_back(1.0 / std::pow(i, 1.1));
  std::discrete_distribution<int> popularity(weights.begin(), weights.end());
  std::uniform_int_distribution<int> worker(0, kWorkers - 1);
  uint64_t counts[3] = {0, 0, 0};
  for (int s = 0; s < starts; ++s) {
    const Image& img = images[static_cast<size_t>(popularity(rng))];
    cache::ChunkFetcher& f = *workers[static_cast<size_t>(worker(rng))];
    for (const std::string& name : img.reads) {
      auto got = f.Fetch("root-0", name);
      if (!got.ok()) {
        std::fprintf(stderr, "trace_bench: %s\n", got.status().ToString().c_str());
        return 1;
      }
      counts[static_cast<int>(got->tier)]++;
    }
  }
  double total = static_cast<double>(counts[0] + counts[1] + counts[2]);
  std::printf("| trace: %d starts, %d images (Zipf 1.1), %d workers | L1 | L2 | origin |\n", starts,
              kImages, kWorkers);
  std::printf("|---|---|---|---|\n");
  std::printf("| chunk reads served | %.2f%% | %.2f%% | %.3f%% |\n", 100 * counts[0] / total,
              100 * counts[1] / total, 100 * counts[2] / total);
  std::printf("| paper (AWS Lambda) | 67%% | 32%% | 0.06%% |\n");
  return 0;
}
