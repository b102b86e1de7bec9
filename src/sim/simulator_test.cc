#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "sim/generator.h"

namespace lode::sim {
namespace {

constexpr uint64_t kChunk = 512 << 10;

// Independent reference traffic: `starts` starts, each reading one of
// `objects` chunks chosen with Zipf(s) popularity, one start per second.
// With `sweep`, the first `objects` starts read each chunk once, in order.
Trace IrmTrace(uint32_t objects, double s, uint64_t starts, uint64_t seed,
               std::vector<double>* popularity = nullptr, bool sweep = false) {
  Trace t;
  t.functions.push_back("f");
  std::vector<double> p(objects);
  double sum = 0;
  for (uint32_t i = 0; i < objects; ++i) sum += p[i] = std::pow(i + 1.0, -s);
  for (double& x : p) x /= sum;
  for (uint32_t i = 0; i < objects; ++i) t.images.push_back({std::to_string(i), 1, {i + 1}});
  std::discrete_distribution<uint32_t> pick(p.begin(), p.end());
  std::mt19937_64 rng(seed);
  for (uint64_t n = 0; n < starts; ++n) {
    uint32_t object = sweep && n < objects ? static_cast<uint32_t>(n) : pick(rng);
    t.starts.push_back({static_cast<double>(n), 0, object});
  }
  if (popularity) *popularity = p;
  return t;
}

// No L1: every read goes to the L2 fleet.
SimConfig L2Only(int nodes, uint64_t node_chunks, cache::ErasureCode code) {
  SimConfig c;
  c.workers = 1;
  c.l1_memory_bytes = c.l1_disk_bytes = 0;
  c.l2_nodes = nodes;
  c.l2_code = code;
  c.l2_node_bytes = node_chunks * ((kChunk + static_cast<uint64_t>(code.k) - 1) / code.k);
  return c;
}

double L2HitRatio(const TierCounts& t) {
  return static_cast<double>(t.l2) / static_cast<double>(t.l2 + t.origin);
}

// Che's approximation of an LRU cache of `capacity` objects under IRM: the
// characteristic time T solves sum(1 - exp(-p_i T)) = capacity, and the
// hit ratio is sum(p_i (1 - exp(-p_i T))).
double CheHitRatio(const std::vector<double>& p, double capacity) {
  auto filled = [&](double t) {
    double sum = 0;
    for (double x : p) sum += 1 - std::exp(-x * t);
    return sum;
  };
  double lo = 0, hi = 1;
  while (filled(hi) < capacity) hi *= 2;
  for (int i = 0; i < 100; ++i) ((filled((lo + hi) / 2) < capacity) ? lo : hi) = (lo + hi) / 2;
  double hit = 0;
  for (double x : p) hit += x * (1 - std::exp(-x * lo));
  return hit;
}

TEST(SimulatorTest, AnLruNodeMatchesChesApproximation) {
  std::vector<double> p;
  Trace t = IrmTrace(20000, 0.8, 400000, 7, &p);
  for (uint64_t capacity : {500, 2000}) {
    SimConfig c = L2Only(1, capacity, {1, 0});
    c.warmup_hours = 100000.0 / 3600;  // hit ratios of a warm cache
    SimResult r = Simulate(t, c);
    EXPECT_NEAR(L2HitRatio(r.after_warmup), CheHitRatio(p, static_cast<double>(capacity)), 0.02)
        << capacity;
  }
}

// Everything fits the fleet; at hour 1, `down` nodes die.
TierCounts AfterLosing(int down, int nodes, cache::ErasureCode code) {
  Trace t = IrmTrace(2000, 0.5, 3 * 3600, 3, nullptr, /*sweep=*/true);
  SimConfig c = L2Only(nodes, 10000, code);
  for (int n = 0; n < down; ++n) c.l2_events.push_back({1.0, n, "down"});
  SimResult r = Simulate(t, c);
  return r.hours.at(2);  // an hour after the loss
}

TEST(SimulatorTest, ASingleCopyLosesItsShareOfHitsWithANode) {
  TierCounts after = AfterLosing(1, 10, {1, 0});
  EXPECT_NEAR(L2HitRatio(after), 0.9, 0.03);  // the dead node's tenth misses
}

TEST(SimulatorTest, ReedSolomonLosesNothingUpToItsParity) {
  EXPECT_EQ(AfterLosing(1, 10, {4, 1}).origin, 0u);
  EXPECT_EQ(AfterLosing(2, 10, {4, 2}).origin, 0u);
  EXPECT_GT(AfterLosing(2, 10, {4, 1}).origin, 0u);  // one loss past the parity
}

// Nodes restarted one at a time get their stripes back from degraded reads
// (as MemcachedL2 stores them again, when the miss is reported before the
// chunk decodes: about 4 in 5 here), so a code with one parity keeps most
// chunks through a rolling restart that reads in between; without the
// repair the 22% of chunks with stripes on both restarted nodes would go.
TEST(SimulatorTest, DegradedReadsRefillARestartedNode) {
  Trace t;
  t.functions.push_back("f");
  constexpr uint32_t kObjects = 2000;
  for (uint32_t i = 0; i < kObjects; ++i) t.images.push_back({std::to_string(i), 1, {i + 1}});
  for (uint32_t pass = 0; pass < 3; ++pass) {  // every chunk once per pass
    for (uint32_t i = 0; i < kObjects; ++i) t.starts.push_back({pass * 3600.0 + i, 0, i});
  }
  SimConfig c = L2Only(10, 10000, {4, 1});
  c.l2_events = {{0.9, 0, "restart"}, {1.9, 1, "restart"}};
  SimResult r = Simulate(t, c);
  EXPECT_LT(r.all.origin - kObjects, kObjects / 10);  // the first pass fills
  EXPECT_GT(r.l2_repaired, kObjects / 2);
}

// A salt generation gives every content a new key: deduplication holds
// within a generation only, and a key serves only that generation's images.
TEST(SimulatorTest, SaltGenerationsSplitWhatAChunkKeyServes) {
  Trace t;
  t.functions = {"a", "b"};
  t.images = {{"a", 2, {1, 2}}, {"b", 2, {1, 3}}};  // sharing content 1
  t.starts = {{0, 0, 0}, {10, 1, 1}, {3700, 0, 0}};
  SimConfig c = L2Only(5, 100, {4, 1});
  c.salt_period_hours = 1;
  c.count_sharing = true;
  SimResult r = Simulate(t, c);
  EXPECT_EQ(r.sharing.contents, 3u);
  EXPECT_EQ(r.sharing.keys, 5u);  // 1, 2, 3 in hour 0; 1, 2 again in hour 1
  EXPECT_EQ(r.sharing.max_images_per_key, 2u);
  EXPECT_EQ(r.sharing.key_images, 6u);
  EXPECT_EQ(r.all.origin, 5u);  // a new generation reads from the origin again
}

// With a salt per tenant, equal content of two tenants is two keys.
TEST(SimulatorTest, TenantSaltsKeepEqualContentApart) {
  Trace t;
  t.functions = {"a", "b"};
  t.tenants = {"acme", "beta"};
  t.function_tenant = {0, 1};
  t.images = {{"a", 2, {1, 2}}, {"b", 2, {1, 3}}};
  t.starts = {{0, 0, 0}, {10, 1, 1}};
  SimConfig c = L2Only(5, 100, {4, 1});
  c.count_sharing = true;
  EXPECT_EQ(Simulate(t, c).sharing.keys, 3u);  // content 1 once
  c.salt_per_tenant = true;
  SimResult r = Simulate(t, c);
  EXPECT_EQ(r.sharing.keys, 4u);
  EXPECT_EQ(r.sharing.max_images_per_key, 1u);
  EXPECT_EQ(r.all.origin, 4u);
}

// Time compression replays the same starts in less time: the same reads
// through the caches, in fewer hours.
TEST(SimulatorTest, TimeCompressionKeepsTheReadsAndShortensTheHours) {
  Trace t = IrmTrace(500, 0.8, 4 * 3600, 4);  // a start a second for 4 hours
  SimConfig c = L2Only(5, 200, {4, 1});
  SimResult normal = Simulate(t, c);
  c.time_scale = 0.25;
  SimResult compressed = Simulate(t, c);
  EXPECT_EQ(normal.hours.size(), 4u);
  EXPECT_EQ(compressed.hours.size(), 1u);
  EXPECT_EQ(compressed.all.l2, normal.all.l2);
  EXPECT_EQ(compressed.all.origin, normal.all.origin);
}

TEST(SimulatorTest, AFixedSeedGivesTheSameRun) {
  PaperTraceShape shape;
  shape.hours = 2;
  shape.functions = 500;
  shape.starts_per_second = 2;
  Trace t = GeneratePaperTrace(shape);
  SimConfig c;
  c.workers = 10;
  c.l2_nodes = 5;
  SimResult a = Simulate(t, c), b = Simulate(t, c);
  EXPECT_GT(a.accesses, 0u);
  EXPECT_EQ(a.all.l1, b.all.l1);
  EXPECT_EQ(a.all.l2, b.all.l2);
  EXPECT_EQ(a.all.origin, b.all.origin);
  EXPECT_EQ(a.start_fetch_ms.p99, b.start_fetch_ms.p99);
  c.seed = 2;  // other workers for the starts
  EXPECT_NE(Simulate(t, c).all.l1, a.all.l1);
}

TEST(SimulatorTest, SamplingEstimatesTheFullRun) {
  PaperTraceShape shape;
  shape.hours = 6;
  shape.functions = 2000;
  shape.starts_per_second = 5;
  Trace t = GeneratePaperTrace(shape);
  SimConfig c;
  c.workers = 20;
  c.l1_memory_bytes = 64ull << 20;
  c.l1_disk_bytes = 1ull << 30;
  c.l2_nodes = 5;
  c.l2_node_bytes = 1ull << 30;
  SimResult full = Simulate(t, c);
  c.sampling_rate = 0.1;
  SimResult sampled = Simulate(t, c);
  // Chunks are sampled, not reads: hot chunks make the share of reads vary.
  double reads = static_cast<double>(sampled.accesses) / static_cast<double>(full.accesses);
  EXPECT_GT(reads, 0.05);
  EXPECT_LT(reads, 0.2);
  auto share = [](const SimResult& r) {
    return static_cast<double>(r.all.l1) / static_cast<double>(r.all.total());
  };
  EXPECT_NEAR(share(sampled), share(full), 0.05) << share(full);
}

TEST(GeneratorTest, ABurstRampsToItsPeakAndHoldsIt) {
  Trace t = GenerateBurstTrace(PaperTraceShape(), {1000, 10, 5});
  ASSERT_EQ(t.images.size(), 1u);
  EXPECT_EQ(t.starts.size(), 1000u * 10 / 2 + 1000u * 5);
  std::vector<int> per_second(15);
  for (size_t i = 0; i < t.starts.size(); ++i) {
    if (i > 0) {
      ASSERT_GE(t.starts[i].time_s, t.starts[i - 1].time_s);
    }
    per_second.at(static_cast<size_t>(t.starts[i].time_s))++;
  }
  EXPECT_NEAR(per_second[0], 50, 2);     // the ramp's first second: 1000 x 0.5 / 10
  EXPECT_NEAR(per_second[9], 950, 2);    // its last
  EXPECT_NEAR(per_second[12], 1000, 1);  // held
}

// Each node's busiest second counts the stripes it sent within it.
TEST(SimulatorTest, EachL2NodeKnowsItsBusiestSecond) {
  Trace t;
  t.functions.push_back("f");
  t.images.push_back({"one", 1, {1}});
  for (double at : {0.0, 10.0, 10.2, 10.4, 10.6, 20.0}) t.starts.push_back({at, 0, 0});
  SimConfig c = L2Only(1, 100, {1, 0});
  SimResult r = Simulate(t, c);
  ASSERT_EQ(r.l2_peak_egress_per_second.size(), 1u);
  EXPECT_EQ(r.l2_peak_egress_per_second[0], 4 * kChunk);  // 10.x: four hits
  EXPECT_EQ(r.l2_egress_bytes[0], 5 * kChunk);
}

TEST(GeneratorTest, ImagesAndStartsHaveThePapersShape) {
  PaperTraceShape shape;
  shape.hours = 24;
  shape.functions = 3000;
  shape.starts_per_second = 2;
  Trace t = GeneratePaperTrace(shape);
  EXPECT_NEAR(static_cast<double>(t.starts.size()), 2 * 86400, 2 * 86400 * 0.03);
  double read = 0;
  for (uint32_t f = 0; f < 3000; ++f) {
    const Image& i = t.images[f];
    read += static_cast<double>(i.start_set.size()) / static_cast<double>(i.chunks);
  }
  EXPECT_NEAR(read / 3000, 0.064, 0.01);  // a start reads ~6.4% of its image
  // The day's cycle: the busiest hour sees more starts than the quietest.
  std::vector<int> per_hour(24);
  for (const Start& s : t.starts) per_hour[static_cast<size_t>(s.time_s / 3600)]++;
  EXPECT_GT(*std::max_element(per_hour.begin(), per_hour.end()),
            2 * *std::min_element(per_hour.begin(), per_hour.end()));
  EXPECT_TRUE(std::is_sorted(t.starts.begin(), t.starts.end(),
                             [](const Start& a, const Start& b) { return a.time_s < b.time_s; }));
  Trace again = GeneratePaperTrace(shape);
  EXPECT_EQ(again.starts.size(), t.starts.size());
  EXPECT_EQ(again.images.size(), t.images.size());
}

}  // namespace
}  // namespace lode::sim
