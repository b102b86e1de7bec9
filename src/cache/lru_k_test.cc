#include "cache/lru_k.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace lode::cache {
namespace {

TEST(LruKTest, KeysSeenOnceGoBeforeKeysSeenTwiceLeastRecentFirst) {
  LruK p(2, 16);
  p.Access("hot");
  p.Access("a");
  p.Access("hot");
  p.Access("b");
  EXPECT_EQ(p.Victim(), "a");
  p.Evict("a");
  EXPECT_EQ(p.Victim(), "b");
  p.Evict("b");
  EXPECT_EQ(p.Victim(), "hot");
  EXPECT_EQ(p.resident_count(), 1u);
}

TEST(LruKTest, AmongTwiceSeenKeysTheOldestSecondLastAccessGoesFirst) {
  LruK p(2, 16);
  for (const char* k : {"x", "y", "x", "y", "y"}) p.Access(k);
  // x: accesses 1, 3; y: 4, 5 (its 2nd-most-recent access, 4, is newer).
  EXPECT_EQ(p.Victim(), "x");
}

TEST(LruKTest, HistoryOfEvictedKeysIsKeptButBounded) {
  LruK p(2, 2);
  p.Access("a");
  p.Evict("a");
  p.Access("b");
  p.Access("a");  // second access, remembered across the eviction
  EXPECT_EQ(p.Victim(), "b");
  for (const char* k : {"c", "d", "e"}) {
    p.Access(k);
    p.Evict(k);
  }
  EXPECT_EQ(p.history_count(), 2u);
}

TEST(LruKTest, KOfOneIsLru) {
  LruK p(1, 16);
  for (const char* k : {"a", "b", "a", "c"}) p.Access(k);
  EXPECT_EQ(p.Victim(), "b");
}

// The definition, computed the slow way: each key's access times; the victim
// is the resident key with the oldest K-th most recent access (0 when seen
// fewer than K times), then the oldest last access.
struct ReferenceLruK {
  int k;
  std::map<uint64_t, std::vector<uint64_t>> times;
  std::set<uint64_t> resident;
  uint64_t clock = 0;

  void Access(uint64_t key) {
    times[key].push_back(++clock);
    resident.insert(key);
  }
  uint64_t Victim() const {
    std::pair<std::pair<uint64_t, uint64_t>, uint64_t> best{{~0ull, ~0ull}, 0};
    for (uint64_t key : resident) {
      const std::vector<uint64_t>& t = times.at(key);
      uint64_t kth = t.size() >= static_cast<size_t>(k) ? t[t.size() - static_cast<size_t>(k)] : 0;
      best = std::min(best, {{kth, t.back()}, key});
    }
    return best.second;
  }
};

TEST(LruKTest, VictimsMatchTheDefinitionOnRandomAccesses) {
  for (int k = 1; k <= 3; ++k) {
    std::mt19937_64 rng(static_cast<uint64_t>(k));
    BasicLruK<uint64_t, int> policy(k, 1000);  // history long enough to match the reference
    ReferenceLruK reference{k, {}, {}, 0};
    for (int step = 0; step < 5000; ++step) {
      uint64_t key = std::uniform_int_distribution<uint64_t>(0, 60)(rng);
      if (policy.resident(key)) {
        ASSERT_NE(policy.TouchResident(key), nullptr);
      } else {
        if (policy.resident_count() >= 20) {
          ASSERT_EQ(*policy.Victim(), reference.Victim()) << "K " << k << " step " << step;
          auto victim = policy.EvictVictim();
          ASSERT_EQ(victim->second, static_cast<int>(victim->first) * 10);
          reference.resident.erase(victim->first);
        }
        policy.Access(key, static_cast<int>(key) * 10);
      }
      reference.Access(key);
    }
  }
}

// A cache of `capacity` chunks with the policy; returns the hit rate of the
// hot keys over a workload.
struct Workload {
  std::vector<std::string> accesses;
  std::vector<bool> hot;
};

double HotHitRate(int k, size_t capacity, const Workload& w) {
  LruK policy(k, capacity * 4);
  size_t hits = 0, hot_accesses = 0;
  for (size_t i = 0; i < w.accesses.size(); ++i) {
    const std::string& key = w.accesses[i];
    bool hit = policy.resident(key);
    if (!hit) {
      while (policy.resident_count() >= capacity) policy.Evict(*policy.Victim());
    }
    policy.Access(key);
    if (w.hot[i]) {
      ++hot_accesses;
      hits += hit;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(hot_accesses);
}

// The reason for LRU-K: functions read a hot working set again and again
// while a cron-like function scans many chunks exactly once. At the same
// size, LRU lets the scan push the hot set out; LRU-K keeps it.
TEST(LruKTest, HotSetSurvivesOneTimeScansBetterThanLru) {
  std::mt19937 rng(7);
  Workload w;
  std::vector<std::string> hot;
  for (int i = 0; i < 40; ++i) hot.push_back("hot-" + std::to_string(i));
  int cold = 0;
  for (int round = 0; round < 200; ++round) {
    std::shuffle(hot.begin(), hot.end(), rng);
    for (const std::string& key : hot) {
      w.accesses.push_back(key);
      w.hot.push_back(true);
    }
    // Every other round a scan of 80 chunks never read again.
    for (int i = 0; round % 2 == 0 && i < 80; ++i) {
      w.accesses.push_back("cold-" + std::to_string(cold++));
      w.hot.push_back(false);
    }
  }
  double lru = HotHitRate(1, 64, w);
  double lru2 = HotHitRate(2, 64, w);
  EXPECT_GT(lru2, 0.95);
  EXPECT_GT(lru2, lru + 0.2) << "LRU " << lru << ", LRU-2 " << lru2;
}

}  // namespace
}  // namespace lode::cache
