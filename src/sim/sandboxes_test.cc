#include "sim/sandboxes.h"

#include <gtest/gtest.h>

#include "sim/simulator.h"

namespace lode::sim {
namespace {

// `functions` functions on one image each (one chunk), invoked at `times`
// in turn: event i invokes function i % functions.
Trace Invocations(uint32_t functions, const std::vector<double>& times) {
  Trace t;
  for (uint32_t f = 0; f < functions; ++f) {
    t.functions.push_back("fn-" + std::to_string(f));
    t.images.push_back({"img-" + std::to_string(f), 1, {f + 1}});
  }
  for (size_t i = 0; i < times.size(); ++i) {
    uint32_t f = static_cast<uint32_t>(i % functions);
    t.starts.push_back({times[i], f, f});
  }
  return t;
}

SimConfig Fleet(int workers, int slots, double keep_alive_s) {
  SimConfig c;
  c.workers = workers;
  c.l2_nodes = 5;
  c.sandboxes = {slots, keep_alive_s, 1};
  return c;
}

TEST(SandboxesTest, AnIdleSandboxServesTheNextInvocationWithinItsKeepAlive) {
  Trace t = Invocations(1, {0, 30, 60, 200, 230});
  SimResult kept = Simulate(t, Fleet(4, 0, 60));
  // 0 starts; 30 and 60 reuse it; busy until 61, it goes at 121; 200
  // starts again; 230 reuses.
  EXPECT_EQ(kept.invocations, 5u);
  EXPECT_EQ(kept.starts, 2u);
  EXPECT_EQ(kept.warm, 3u);
  EXPECT_EQ(kept.accesses, 2u);  // only cold starts read chunks
  SimResult short_lived = Simulate(t, Fleet(4, 0, 10));
  EXPECT_EQ(short_lived.starts, 5u);
  EXPECT_EQ(short_lived.warm, 0u);
}

TEST(SandboxesTest, ABusySandboxIsNotReusedAndConcurrentInvocationsStartMore) {
  // Three invocations of one function within its 1 s invocation time.
  SimResult r = Simulate(Invocations(1, {0, 0.3, 0.6, 5}), Fleet(4, 0, 60));
  EXPECT_EQ(r.starts, 3u);
  EXPECT_EQ(r.warm, 1u);
  EXPECT_EQ(r.peak_sandboxes, 3u);
}

TEST(SandboxesTest, StartsWithNoFreeSlotAnywhereAreRefused) {
  // 2 workers x 1 slot; 3 functions at once; the first sandbox's slot is
  // free again once its keep-alive is over.
  SimResult r = Simulate(Invocations(3, {0, 0.1, 0.2, 100}), Fleet(2, 1, 10));
  EXPECT_EQ(r.starts, 3u);  // 0, 0.1, and 100 (event 3 is function 0 again)
  EXPECT_EQ(r.refused, 1u);
}

TEST(SandboxesTest, AffinitySpillsOverToAnotherWorkerWhenItsWorkersAreFull) {
  SimConfig c = Fleet(8, 1, 60);
  c.placement = "affinity";
  c.affinity_spread = 1;
  // One function, three concurrent invocations: its one worker takes the
  // first, the other two spill.
  SimResult r = Simulate(Invocations(1, {0, 0.1, 0.2}), c);
  EXPECT_EQ(r.starts, 3u);
  EXPECT_EQ(r.spilled, 2u);
  EXPECT_EQ(r.refused, 0u);
}

TEST(SandboxesTest, WithoutSlotsOrKeepAliveEveryEventIsAColdStart) {
  SimResult r = Simulate(Invocations(1, {0, 0.1, 5}), Fleet(2, 0, 0));
  EXPECT_EQ(r.starts, 3u);
  EXPECT_EQ(r.warm, 0u);
  EXPECT_EQ(r.peak_sandboxes, 0u);  // not modeled
}

}  // namespace
}  // namespace lode::sim
