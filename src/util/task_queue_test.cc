#include "util/task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace lode {
namespace {

TEST(TaskQueueTest, RunsEveryTaskOnItsThreads) {
  std::atomic<int> sum = 0;
  TaskQueue queue(3, 4);
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(queue
                    .Submit([&sum, i] {
                      sum += i;
                      return Status::Ok();
                    })
                    .ok());
  }
  EXPECT_TRUE(queue.Finish().ok());
  EXPECT_EQ(sum.load(), 5050);
}

TEST(TaskQueueTest, NeverHoldsMoreThanMaxPending) {
  std::atomic<int> running = 0, peak = 0;
  TaskQueue queue(2, 2);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(queue
                    .Submit([&] {
                      int now = ++running;
                      int seen = peak.load();
                      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
                      }
                      std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      --running;
                      return Status::Ok();
                    })
                    .ok());
  }
  EXPECT_TRUE(queue.Finish().ok());
  EXPECT_LE(peak.load(), 2);
}

TEST(TaskQueueTest, FirstErrorStopsFurtherWorkAndIsReported) {
  std::atomic<int> ran = 0;
  TaskQueue queue(1, 1);
  ASSERT_TRUE(queue.Submit([] { return Status::IOError("disk full"); }).ok());
  // The queue holds one task, so the failing one has run by the time a
  // second Submit finds room: it is refused with that error.
  Status second = queue.Submit([&] {
    ++ran;
    return Status::Ok();
  });
  EXPECT_EQ(second.message(), "disk full");
  EXPECT_EQ(queue.Finish().message(), "disk full");
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace lode
