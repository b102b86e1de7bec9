#include "agent/page_set.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lode::agent {
namespace {

constexpr uint64_t kPage = PageSet::kPageSize;
using Runs = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(PageSetTest, MarksEveryPageAReadOverlaps) {
  PageSet pages(1000 * kPage);
  EXPECT_EQ(pages.Runs(0, 1000 * kPage), Runs());
  pages.Mark(10 * kPage - 1, 2);  // the last byte of page 9, the first of 10
  pages.Mark(60 * kPage, 70 * kPage);
  pages.Mark(500 * kPage, 0);
  EXPECT_EQ(pages.Runs(0, 1000 * kPage), Runs({{9, 2}, {60, 70}}));
  EXPECT_EQ(pages.Runs(100 * kPage, 5 * kPage), Runs({{100, 5}}));
  EXPECT_EQ(pages.Runs(10 * kPage + 1, 1), Runs({{10, 1}}));
  EXPECT_EQ(pages.Runs(2000 * kPage, ~uint64_t{0}), Runs());
  EXPECT_EQ(pages.Runs(129 * kPage, ~uint64_t{0}), Runs({{129, 1}}));
}

TEST(PageSetTest, AShortLastPageCounts) {
  PageSet pages(3 * kPage + 5);
  pages.Mark(3 * kPage + 1, 4);
  EXPECT_EQ(pages.Runs(0, 4 * kPage), Runs({{3, 1}}));
}

TEST(PageSetTest, ConcurrentMarksAllLand) {
  PageSet pages(4096 * kPage);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pages, t] {
      for (uint64_t p = t; p < 4096; p += 4) pages.Mark(p * kPage, kPage);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(pages.Runs(0, 4096 * kPage), Runs({{0, 4096}}));
}

}  // namespace
}  // namespace lode::agent
