#include "sim/policies.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace lode::sim {
namespace {

constexpr uint32_t kRequestBytes = 512 << 10;

std::vector<Request> Stream(const std::vector<uint64_t>& keys) {
  std::vector<Request> out;
  for (size_t i = 0; i < keys.size(); ++i)
    out.push_back({static_cast<uint32_t>(i), keys[i], kRequestBytes});
  return out;
}

double Misses(const std::string& policy, const std::vector<Request>& r, size_t capacity) {
  Result<double> ratio = MissRatio(policy, r, NextRequestIndices(r), capacity);
  EXPECT_TRUE(ratio.ok()) << policy;
  return ratio.ok() ? *ratio : -1;
}

TEST(PoliciesTest, AWorkingSetThatFitsMissesOnlyOnce) {
  std::vector<uint64_t> keys;
  for (int round = 0; round < 50; ++round) {
    for (uint64_t k = 0; k < 10; ++k) keys.push_back(k);
  }
  for (const std::string& p : PolicyNames())
    EXPECT_DOUBLE_EQ(Misses(p, Stream(keys), 10), 0.02) << p;
}

TEST(PoliciesTest, BeladyIsTheBoundOnZipfTraffic) {
  std::mt19937_64 rng(5);
  std::vector<double> weights;
  for (int i = 0; i < 2000; ++i) weights.push_back(std::pow(i + 1.0, -0.9));
  std::discrete_distribution<uint64_t> pick(weights.begin(), weights.end());
  std::vector<uint64_t> keys;
  for (int i = 0; i < 50000; ++i) keys.push_back(pick(rng));
  std::vector<Request> r = Stream(keys);
  double belady = Misses("belady", r, 200), lru = Misses("lru", r, 200);
  for (const std::string& p : PolicyNames()) {
    double m = Misses(p, r, 200);
    EXPECT_LE(belady, m) << p;
    EXPECT_LT(m, lru + 0.03) << p;  // none much worse than LRU here
  }
  EXPECT_LT(belady, lru - 0.1);
}

TEST(PoliciesTest, ALoopOneLargerThanTheCacheDefeatsLruButNotBelady) {
  std::vector<uint64_t> keys;
  for (int round = 0; round < 100; ++round) {
    for (uint64_t k = 0; k < 11; ++k) keys.push_back(k);
  }
  EXPECT_DOUBLE_EQ(Misses("lru", Stream(keys), 10), 1.0);
  EXPECT_LT(Misses("belady", Stream(keys), 10), 0.15);
}

// A hot set read again and again, and one-off scans twice its size: the
// scan-resistant policies keep the hot set, LRU does not.
TEST(PoliciesTest, ScanResistantPoliciesKeepTheHotSet) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> keys;
  uint64_t cold = 1000;
  for (int round = 0; round < 300; ++round) {
    for (int i = 0; i < 40; ++i) keys.push_back(rng() % 40);
    if (round % 3 == 0) {
      for (int i = 0; i < 80; ++i) keys.push_back(cold++);
    }
  }
  std::vector<Request> r = Stream(keys);
  double lru = Misses("lru", r, 60);
  for (const char* p : {"lru-2", "2q", "arc", "s3-fifo", "sieve"}) {
    EXPECT_LT(Misses(p, r, 60), lru - 0.03) << p << " against LRU " << lru;
  }
}

TEST(PoliciesTest, UnknownNamesAndNoRoomAreErrors) {
  std::vector<int64_t> next;
  EXPECT_FALSE(MakePolicy("fifo", 10, kRequestBytes, next).ok());
  EXPECT_FALSE(MakePolicy("lru", 0, kRequestBytes, next).ok());
  std::vector<Request> r = Stream({1, 2, 1});
  EXPECT_EQ(*MissRatio("lru", r, NextRequestIndices(r), 0), 1.0);
}

TEST(RequestsTest, NextIndicesAndTheWorkingSet) {
  // Key 1 every 10 s, key 2 once.
  std::vector<Request> r = {
      {0, 1, kRequestBytes}, {5, 2, kRequestBytes}, {10, 1, kRequestBytes}, {20, 1, kRequestBytes}};
  EXPECT_EQ(NextRequestIndices(r), (std::vector<int64_t>{2, -1, 3, -1}));
  // A 100 s window: key 1 held 0-20 (20 s), key 2 5-20 (15 s), over 20 s.
  EXPECT_DOUBLE_EQ(WorkingSetBytes(r, 100), 35.0 / 20 * kRequestBytes);
  // A 4 s window: key 1 4 + 4 s, key 2 4 s.
  EXPECT_DOUBLE_EQ(WorkingSetBytes(r, 4), 12.0 / 20 * kRequestBytes);
}

}  // namespace
}  // namespace lode::sim
