#include "cache/residency.h"

#include <gtest/gtest.h>

#include <vector>

namespace lode::cache {
namespace {

TEST(ResidencyTest, EvictsLruKVictimsUntilANewKeyFits) {
  Residency<uint64_t> r(100, 2, 16);
  std::vector<std::pair<uint64_t, uint64_t>> evicted;
  auto note = [&](uint64_t key, uint64_t bytes) { evicted.emplace_back(key, bytes); };
  EXPECT_TRUE(r.Insert(1, 40, note));
  EXPECT_TRUE(r.Insert(2, 40, note));
  EXPECT_TRUE(r.Touch(1));  // 1 seen twice: 2 goes first
  EXPECT_FALSE(r.Touch(3));
  EXPECT_TRUE(r.Insert(3, 30, note));
  EXPECT_EQ(evicted, (std::vector<std::pair<uint64_t, uint64_t>>{{2, 40}}));
  EXPECT_EQ(r.bytes(), 70u);
  EXPECT_EQ(r.entries(), 2u);
  EXPECT_EQ(r.evictions(), 1u);
  EXPECT_TRUE(r.Contains(1) && r.Contains(3) && !r.Contains(2));
}

TEST(ResidencyTest, RefusesKeysLargerThanTheBudgetAndDuplicates) {
  Residency<std::string> r(100, 2, 16);
  auto none = [](const std::string&, uint64_t) { FAIL() << "nothing is evicted"; };
  EXPECT_FALSE(r.Insert("big", 101, none));
  EXPECT_TRUE(r.Insert("a", 100, none));
  EXPECT_FALSE(r.Insert("a", 100, none));
  EXPECT_EQ(r.bytes(), 100u);
  r.Erase("a");
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_FALSE(r.Contains("a"));
  r.Erase("never there");
}

TEST(ResidencyTest, KeepsEachKeysValueUntilItGoes) {
  Residency<std::string, int> r(100, 2, 16);
  auto none = [](const std::string&, uint64_t) {};
  ASSERT_TRUE(r.Insert("a", 60, 7, none));
  ASSERT_NE(r.Touch("a"), nullptr);
  EXPECT_EQ(*r.Touch("a"), 7);
  ASSERT_TRUE(r.Insert("b", 60, 8, none));  // evicts a
  EXPECT_EQ(r.Touch("a"), nullptr);
  EXPECT_EQ(*r.Touch("b"), 8);
}

}  // namespace
}  // namespace lode::cache
