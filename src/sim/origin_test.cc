#include "sim/origin.h"

#include <gtest/gtest.h>

namespace lode::sim {
namespace {

TEST(OriginTest, AFullWorkerWaitsForItsFirstFetchToEndOrGivesUpAtTheTimeout) {
  Origin o(2, {2, 100});
  EXPECT_EQ(o.Fetch(0, 0, 50), 0);
  EXPECT_EQ(o.Fetch(0, 0, 50), 0);
  EXPECT_EQ(o.Fetch(0, 10, 50), 40);            // the first ends at 50; this one at 100
  EXPECT_EQ(o.Fetch(0, 10, 500), 40);           // the second's slot: ends at 550
  EXPECT_EQ(o.Fetch(0, 20, 10), 80);            // 100's slot: ends at 110
  EXPECT_EQ(o.Fetch(0, 20, 10), 90);            // ends at 120
  EXPECT_EQ(o.Fetch(0, 20, 10), 100);           // exactly the timeout: ends at 130
  EXPECT_EQ(o.Fetch(0, 20, 10), std::nullopt);  // 110 ms away
  EXPECT_EQ(o.Fetch(1, 20, 10), 0);             // another worker's slots are its own
  EXPECT_EQ(o.counts().gets, 8u);
  EXPECT_EQ(o.counts().waited, 5u);
  EXPECT_EQ(o.counts().rejected, 1u);
  EXPECT_EQ(o.counts().peak_in_flight, 2u);
}

TEST(OriginTest, WithoutALimitNothingWaits) {
  Origin o(1, {0, 100});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(o.Fetch(0, 0, 1000), 0);
  EXPECT_EQ(o.counts().peak_in_flight, 100u);
  EXPECT_EQ(o.counts().waited, 0u);
}

TEST(OriginTest, CountsGetsPerMinuteAndTheBusiestSecond) {
  Origin o(1, {0, 0});
  for (double at : {0.0, 500.0, 999.0, 1000.0, 61000.0}) o.Fetch(0, at, 1);
  EXPECT_EQ(o.counts().peak_gets_per_second, 3u);
  EXPECT_EQ(o.counts().gets_per_minute, (std::vector<uint64_t>{4, 1}));
}

TEST(PeakPerSecondTest, CountsLateArrivalsInTheirOwnSecond) {
  PeakPerSecond p;
  p.Add(5000, 2);
  for (double at : {1500.0, 1200.0, 1999.0}) p.Add(at, 1);  // after second 5, in second 1
  EXPECT_EQ(p.peak(), 3u);
  p.Add(5100, 2);
  EXPECT_EQ(p.peak(), 4u);
  p.Add(1000.0 * 10000, 1);  // far later: the earlier seconds are final
  p.Add(0, 7);               // older than the window: its oldest second
  EXPECT_EQ(p.peak(), 7u);
}

}  // namespace
}  // namespace lode::sim
