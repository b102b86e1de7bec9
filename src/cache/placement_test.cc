#include "cache/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace lode::cache {
namespace {

std::vector<std::string> Servers(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("10.0.0." + std::to_string(i) + ":11211");
  return out;
}

TEST(PlacementTest, DistinctServersSpreadEvenly) {
  std::vector<std::string> servers = Servers(10);
  std::vector<int> first(10);
  for (int c = 0; c < 5000; ++c) {
    std::vector<size_t> ranked = RankServers(servers, "chunk" + std::to_string(c), 5);
    ASSERT_EQ(ranked.size(), 5u);
    EXPECT_EQ(std::set<size_t>(ranked.begin(), ranked.end()).size(), 5u);
    first[ranked[0]]++;
  }
  for (int n : first) EXPECT_NEAR(n, 500, 120);  // about a tenth each
  EXPECT_EQ(RankServers(servers, "x", 50).size(), 10u);
}

TEST(PlacementTest, AddingAServerMovesOnlyWhatItGains) {
  std::vector<std::string> before = Servers(8), after = Servers(9);
  for (int c = 0; c < 1000; ++c) {
    std::string name = "chunk" + std::to_string(c);
    std::vector<size_t> old_rank = RankServers(before, name, 8);
    std::vector<size_t> new_rank = RankServers(after, name, 9);
    new_rank.erase(std::find(new_rank.begin(), new_rank.end(), 8u));
    EXPECT_EQ(old_rank, new_rank) << name;  // the others keep their order
  }
}

}  // namespace
}  // namespace lode::cache
