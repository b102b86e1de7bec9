#include "sim/fleet.h"

#include <algorithm>

#include "cache/disk_cache.h"
#include "cache/memory_cache.h"
#include "cache/placement.h"

namespace lode::sim {
namespace {

// memcached evicts least recently used items; it remembers nothing of them.
constexpr int kMemcachedK = 1;

std::string Hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = digits[v & 15];
  return s;
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t StripeKey(uint64_t chunk, int stripe) { return Mix(chunk ^ (uint64_t(stripe + 1) << 56)); }

WorkerCache::WorkerCache(uint64_t memory_bytes, uint64_t disk_bytes, int k)
    : memory_(memory_bytes, k, cache::MemoryCache::HistoryLimit(memory_bytes)),
      disk_(disk_bytes, k, cache::DiskCache::HistoryLimit(disk_bytes)) {}

WorkerCache::Found WorkerCache::Read(uint64_t key, uint64_t bytes) {
  disk_.Prefetch(key);  // overlaps the disk tier's lookup with the memory tier's
  if (memory_.Touch(key)) return Found::kMemory;
  if (!disk_.Touch(key)) return Found::kNo;
  memory_.Insert(key, bytes, [](uint64_t, uint64_t) {});
  return Found::kDisk;
}

void WorkerCache::Fill(uint64_t key, uint64_t bytes) {
  disk_.Insert(key, bytes, [](uint64_t, uint64_t) {});
  memory_.Insert(key, bytes, [](uint64_t, uint64_t) {});
}

L2Fleet::L2Fleet(int nodes, uint64_t node_bytes, cache::ErasureCode code, double slow_factor,
                 double hedge_ms)
    : node_bytes_(node_bytes),
      code_(code),
      slow_factor_(slow_factor),
      hedge_ms_(hedge_ms),
      egress_(nodes),
      busiest_(nodes) {
  for (int i = 0; i < nodes; ++i) {
    names_.push_back("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":11211");
    nodes_.push_back({EmptyNode(), NodeState::kUp});
  }
}

std::unique_ptr<cache::Residency<uint64_t>> L2Fleet::EmptyNode() const {
  return std::make_unique<cache::Residency<uint64_t>>(node_bytes_, kMemcachedK, 0);
}

const uint16_t* L2Fleet::Placement(uint64_t key) {
  size_t total = static_cast<size_t>(code_.total());
  auto [it, added] = placed_.try_emplace(key, static_cast<uint32_t>(placements_.size()));
  if (added) {
    for (size_t node : cache::RankServers(names_, Hex(key), total)) {
      placements_.push_back(static_cast<uint16_t>(node));
    }
  }
  return placements_.data() + it->second;
}

L2Read L2Fleet::Read(uint64_t key, uint64_t chunk_bytes, double at_ms, std::mt19937_64& rng,
                     const Latency& stripe) {
  const uint16_t* placed = Placement(key);
  // The stripes' nodes are far apart in memory: start all their lookups.
  for (int i = 0; i < code_.total(); ++i) nodes_[placed[i]].stripes->Prefetch(StripeKey(key, i));
  uint64_t stripe_bytes = (chunk_bytes + static_cast<uint64_t>(code_.k) - 1) / code_.k;
  double found[64] = {}, slowest = 0;
  // Up nodes that answered without their stripe: when, and which stripe.
  std::pair<double, int> absent[64] = {};
  int n = 0, n_absent = 0;
  // Stripes [first, last) asked at `asked_at` ms.
  auto ask = [&](int first, int last, double asked_at) {
    for (int i = first; i < last; ++i) {
      Node& node = nodes_[placed[i]];
      if (node.state == NodeState::kDown) continue;  // a dead node never answers
      double ms =
          asked_at + stripe.Sample(rng) * (node.state == NodeState::kSlow ? slow_factor_ : 1);
      slowest = std::max(slowest, ms);
      if (node.stripes->Touch(StripeKey(key, i))) {
        found[n++] = ms;
        egress_[placed[i]] += stripe_bytes;
        busiest_[placed[i]].Add(at_ms + ms, stripe_bytes);
      } else {
        absent[n_absent++] = {ms, i};
      }
    }
  };
  if (hedge_ms_ <= 0) {
    ask(0, code_.total(), 0);
  } else {
    // The data stripes first; the parity ones only when k stripes are not
    // in by the hedge delay.
    ask(0, code_.k, 0);
    int in_time = static_cast<int>(
        std::count_if(found, found + n, [this](double ms) { return ms <= hedge_ms_; }));
    if (in_time < code_.k) ask(code_.k, code_.total(), hedge_ms_);
  }
  if (n < code_.k) return {false, slowest};
  std::nth_element(found, found + code_.k - 1, found + n);
  double decoded_at = found[code_.k - 1];
  // As the memcached tier does: the stripes reported missing by the time
  // the chunk decodes are stored again (a node that restarted empty).
  for (int a = 0; a < n_absent; ++a) {
    if (absent[a].first > decoded_at) continue;
    int i = absent[a].second;
    nodes_[placed[i]].stripes->Insert(StripeKey(key, i), stripe_bytes, [](uint64_t, uint64_t) {});
    repaired_++;
  }
  return {true, decoded_at};
}

std::vector<uint64_t> L2Fleet::peak_egress_per_second() const {
  std::vector<uint64_t> peaks;
  for (const PeakPerSecond& node : busiest_) peaks.push_back(node.peak());
  return peaks;
}

void L2Fleet::Fill(uint64_t key, uint64_t chunk_bytes) {
  const uint16_t* placed = Placement(key);
  uint64_t stripe_bytes = (chunk_bytes + static_cast<uint64_t>(code_.k) - 1) / code_.k;
  for (int i = 0; i < code_.total(); ++i) {
    Node& node = nodes_[placed[i]];
    if (node.state == NodeState::kDown) continue;
    node.stripes->Insert(StripeKey(key, i), stripe_bytes, [](uint64_t, uint64_t) {});
  }
}

void L2Fleet::SetState(int node, NodeState state) {
  nodes_[static_cast<size_t>(node)].state = state;
}

void L2Fleet::Restart(int node) {
  nodes_[static_cast<size_t>(node)] = {EmptyNode(), NodeState::kUp};
}

}  // namespace lode::sim
