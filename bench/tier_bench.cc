// Chunk read latency per tier (issue 5), on loopback: L1 (local disk), L2
// (5 memcached servers, erasure-coded) and the origin (Ceph RGW over S3).
// Then one L2 server frozen (SIGSTOP): 4+1 coding vs 4 stripes without
// parity vs 2-way replication (1+1), each read asking every server that
// holds a piece and finishing with the first k good ones.
// Usage: tier_bench [CHUNKS]   (prints Markdown tables; needs scripts/rgw.sh)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cache/disk_cache.h"
#include "cache/memcached_l2.h"
#include "store/layout.h"
#include "store/object_store.h"
#include "testing/memcached_fleet.h"
#include "testing/rgw_server.h"
#include "testing/scratch_dir.h"
#include "util/sha256.h"

namespace {

using namespace lode;
using Clock = std::chrono::steady_clock;
constexpr size_t kChunk = 512 << 10;

struct Chunk {
  std::string name;
  cache::SharedBytes bytes;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::pair<double, double> P50P99(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.5), at(0.99)};
}

template <typename Read>
std::vector<double> Time(const std::vector<Chunk>& chunks, int rounds, Read read) {
  std::vector<double> out;
  for (int r = 0; r < rounds; ++r) {
    for (const Chunk& c : chunks) {
      Clock::time_point t = Clock::now();
      bool ok = read(c);
      out.push_back(ok ? Micros(Clock::now() - t) : 1e9);
    }
  }
  return out;
}

void Row(const char* label, const std::vector<double>& us) {
  auto [p50, p99] = P50P99(us);
  size_t failed = std::count(us.begin(), us.end(), 1e9);
  std::printf("| %s | %.0f | %.0f | %zu |\n", label, p50, p99, failed);
}

std::unique_ptr<cache::MemcachedL2> OpenL2(const testing::MemcachedFleet& fleet,
                                           cache::ErasureCode code) {
  cache::L2Options o;
  o.servers = *cache::ParseMemcachedUrl(fleet.Url());
  o.code = code;
  o.deadline = std::chrono::milliseconds(250);
  return *cache::MemcachedL2::Open(o);
}

void Fill(cache::MemcachedL2& l2, const std::vector<Chunk>& chunks) {
  for (const Chunk& c : chunks) l2.Fill(c.name, c.bytes);
  for (const Chunk& c : chunks) {
    for (int i = 0; i < 500 && !l2.Get(c.name).ok(); ++i) {
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 200;
  testing::ScratchDir dir("lode-tier-bench");
  testing::RgwServer rgw(dir / "rgw");
  if (!rgw.ok()) {
    std::fprintf(stderr, "tier_bench: RGW did not start: %s\n", rgw.error().c_str());
    return 1;
  }
  ::setenv("AWS_ACCESS_KEY_ID", rgw.access_key().c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", rgw.secret_key().c_str(), 1);
  testing::MemcachedFleet fleet(5, 1024);
  auto origin = *store::OpenStore(rgw.Url("bench"));
  auto l1 = *cache::DiskCache::Open(dir / "l1", 8ull << 30);
  std::mt19937_64 rng(1);
  std::vector<Chunk> chunks;
  for (int i = 0; i < count; ++i) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(kChunk);
    for (size_t k = 0; k < kChunk; k += 8) {
      uint64_t r = rng();
      std::memcpy(bytes->data() + k, &r, 8);
    }
    Chunk c{ToHex(Sha256::Of(*bytes)), bytes};
    if (!origin->Put(store::ChunkKey("root-0", c.name), *bytes).ok() ||
        !l1->Put(c.name, *bytes).ok()) {
      std::fprintf(stderr, "tier_bench: could not store chunk %d\n", i);
      return 1;
    }
    chunks.push_back(c);
  }
  auto l2 = OpenL2(fleet, {4, 1});
  auto plain4 = OpenL2(fleet, {4, 0});
  auto replicated = OpenL2(fleet, {1, 1});
  for (auto* l : {l2.get(), plain4.get(), replicated.get()}) Fill(*l, chunks);

  // Reads verify the name, as the agent's fetcher does.
  auto verified = [](const std::vector<uint8_t>& b, const std::string& name) {
    return ToHex(Sha256::Of(b)) == name;
  };
  std::printf("| tier (512 KiB chunk, loopback) | p50 us | p99 us | failed |\n|---|---|---|---|\n");
  Row("L1 (local disk, page cache warm)", Time(chunks, 3, [&](const Chunk& c) {
        auto r = l1->Get(c.name);
        return r.ok() && r->has_value() && verified(**r, c.name);
      }));
  Row("L2 memcached 4+1", Time(chunks, 3, [&](const Chunk& c) {
        auto r = l2->Get(c.name);
        return r.ok() && verified(*r, c.name);
      }));
  Row("origin (RGW, S3)", Time(chunks, 3, [&](const Chunk& c) {
        auto r = origin->Get(store::ChunkKey("root-0", c.name));
        return r.ok() && verified(*r, c.name);
      }));

  std::printf(
      "\n| L2 read, 512 KiB chunk | healthy p50 | healthy p99 | one node frozen p50 | frozen p99 | "
      "failed (frozen) | bytes stored per chunk |\n|---|---|---|---|---|---|---|\n");
  struct Variant {
    const char* label;
    cache::MemcachedL2* l2;
    double overhead;
  };
  Variant variants[] = {{"4+1 erasure-coded", l2.get(), 1.25},
                        {"4 stripes, no parity", plain4.get(), 1.0},
                        {"2-way replication (1+1)", replicated.get(), 2.0}};
  std::vector<std::vector<double>> healthy;
  for (const Variant& v : variants) {
    healthy.push_back(Time(chunks, 2, [&](const Chunk& c) {
      auto r = v.l2->Get(c.name);
      return r.ok() && verified(*r, c.name);
    }));
  }
  fleet.Freeze(0);
  for (size_t i = 0; i < std::size(variants); ++i) {
    const Variant& v = variants[i];
    auto frozen = Time(chunks, 1, [&](const Chunk& c) {
      auto r = v.l2->Get(c.name);
      return r.ok() && verified(*r, c.name);
    });
    auto [h50, h99] = P50P99(healthy[i]);
    std::vector<double> ok_times;
    for (double t : frozen)
      ok_times.push_back(t >= 1e9 ? 250000 : t);  // a failure waited out the deadline
    auto [f50, f99] = P50P99(ok_times);
    size_t failed = std::count(frozen.begin(), frozen.end(), 1e9);
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f | %zu of %zu | %.2fx |\n", v.label, h50, h99, f50,
                f99, failed, frozen.size(), v.overhead);
  }
  fleet.Thaw(0);
  return 0;
}
