#include "sim/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/files.h"

namespace lode::sim {
namespace {

TEST(SimConfigTest, ReadsEveryPartAndKeepsDefaultsElsewhere) {
  Result<SimSetup> s = ParseSimConfig(R"({
    "seed": 9,
    "trace": {"hours": 48, "functions": 100},
    "workers": 50, "placement": "affinity", "affinity_spread": 3,
    "sandboxes": {"slots": 10, "keep_alive_s": 600},
    "start_parallelism": 4, "admission": {"limit": 8, "timeout_ms": 500},
    "l1": {"memory_bytes": "1GiB", "disk_bytes": 1000},
    "l2": {"nodes": 8, "node_bytes": "2GiB", "code": "4+2",
           "events": [{"at_hours": 30, "node": 7, "change": "restart"},
                      {"at_hours": 40, "node": "all", "change": "restart", "every_hours": 0.5}]},
    "latency": {"origin": {"median_ms": 30, "tail_ms": 200, "tail_quantile": 0.999}},
    "sampling_rate": 0.01, "warmup_hours": 24})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->trace.seed, 9u);  // the run's seed, the trace having none of its own
  EXPECT_EQ(s->trace.hours, 48);
  EXPECT_EQ(s->trace.functions, 100u);
  EXPECT_EQ(s->trace.bases, PaperTraceShape().bases);
  EXPECT_EQ(s->fleet.workers, 50);
  EXPECT_EQ(s->fleet.placement, "affinity");
  EXPECT_EQ(s->fleet.sandboxes.slots, 10);
  EXPECT_EQ(s->fleet.sandboxes.keep_alive_s, 600);
  EXPECT_EQ(s->fleet.sandboxes.invocation_s, SandboxConfig().invocation_s);
  EXPECT_EQ(s->fleet.start_parallelism, 4);
  EXPECT_EQ(s->fleet.admission.limit, 8);
  EXPECT_EQ(s->fleet.admission.timeout_ms, 500);
  EXPECT_EQ(s->fleet.l1_memory_bytes, 1ull << 30);
  EXPECT_EQ(s->fleet.l1_disk_bytes, 1000u);
  EXPECT_EQ(s->fleet.l2_code.k, 4);
  EXPECT_EQ(s->fleet.l2_code.m, 2);
  ASSERT_EQ(s->fleet.l2_events.size(), 9u);  // one, then one per node
  EXPECT_EQ(s->fleet.l2_events[0].change, "restart");
  EXPECT_EQ(s->fleet.l2_events[8].node, 7);
  EXPECT_EQ(s->fleet.l2_events[8].at_hours, 43.5);
  EXPECT_EQ(s->fleet.origin.median_ms, 30);
  EXPECT_EQ(s->fleet.l1_disk.median_ms, SimConfig().l1_disk.median_ms);
}

TEST(SimConfigTest, MistakesNameTheirKey) {
  struct Case {
    const char* config;
    const char* says;
  } cases[] = {
      {"[1]", "must be an object"},
      {"{", "not JSON"},
      {R"({"worker": 3})", "unknown key worker"},
      {R"({"l2": {"nodes": 3, "code": "4+1"}})", "at least k + m nodes"},
      {R"({"l2": {"code": "four"}})", "l2.code"},
      {R"({"l1": {"memory_bytes": "lots"}})", "l1.memory_bytes must be a size"},
      {R"({"l2": {"events": [{"node": 99, "change": "down"}]}})", "l2.events[0].node"},
      {R"({"l2": {"events": [{"node": 1, "change": "melt"}]}})", "l2.events[0].change"},
      {R"({"latency": {"origin": {"median_ms": 50, "tail_ms": 10}}})", "latency.origin"},
      {R"({"trace": {"generator": "lambda"}})", "trace.generator"},
      {R"({"trace": {"generator": "azure"}})", "azure_days"},
      {R"({"trace": {"azure_days": ["d1.csv"]}})", "azure_days"},
      {R"({"trace": {"hours": -1}})", "trace:"},
      {R"({"sampling_rate": 2})", "sampling_rate"},
      {R"({"placement": "nearest"})", "placement"},
      {R"({"sandboxes": {"invocation_s": 0}})", "sandboxes needs"},
      {R"({"sandboxes": {"slots": -1}})", "sandboxes.slots"},
      {R"({"start_parallelism": 0})", "start_parallelism"},
      {R"({"trace": {"bases": 3, "base_images": "x.jsonl"}})", "bases or base_images"},
      {R"({"admission": {"timeout_ms": -1}})", "admission.timeout_ms"},
      {R"({"l2": {"events": [{"node": "some", "change": "down"}]}})", "node number or"},
      {R"({"l2": {"events": [{"node": 1, "change": "restart", "every_hours": 1}]}})",
       "every_hours"},
      {R"({"workers": -2})", "workers must be a non-negative integer"},
  };
  for (const Case& c : cases) {
    Result<SimSetup> s = ParseSimConfig(c.config);
    ASSERT_FALSE(s.ok()) << c.config;
    EXPECT_NE(s.status().message().find(c.says), std::string::npos)
        << c.config << ": " << s.status().message();
  }
}

// Every configuration the repository ships parses, and states claims
// (the directory also holds recorded images, *.jsonl).
TEST(SimConfigTest, TheShippedConfigurationsParse) {
  int seen = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(LODE_TEST_SOURCE_DIR) + "/configs/sim")) {
    if (entry.path().extension() != ".json") continue;
    Result<SimSetup> s = ParseSimConfig(testing::ReadAll(entry.path().string()));
    EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.status().ToString();
    if (s.ok()) {
      EXPECT_FALSE(s->claims.empty()) << entry.path();
    }
    ++seen;
  }
  EXPECT_GE(seen, 4);
}

}  // namespace
}  // namespace lode::sim
