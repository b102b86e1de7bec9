#include "sim/oracle_general.h"

#include <gtest/gtest.h>

#include <cstring>

#include "sim/generator.h"
#include "sim/simulator.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace lode::sim {
namespace {

struct Record {
  uint32_t time;
  uint64_t id;
  uint32_t size;
  int64_t next;
};

std::vector<Record> ReadRecords(const std::string& path) {
  std::string bytes = testing::ReadAll(path);
  EXPECT_EQ(bytes.size() % 24, 0u);
  std::vector<Record> out(bytes.size() / 24);
  for (size_t i = 0; i < out.size(); ++i) {
    const char* r = bytes.data() + i * 24;
    std::memcpy(&out[i].time, r, 4);
    std::memcpy(&out[i].id, r + 4, 8);
    std::memcpy(&out[i].size, r + 12, 4);
    std::memcpy(&out[i].next, r + 16, 8);
  }
  return out;
}

TEST(OracleGeneralTest, RecordsPointAtTheirObjectsNextRequest) {
  testing::ScratchDir dir("lode-sim-oracle");
  std::vector<Request> requests = {{0, 7, 100}, {1, 8, 100}, {2, 7, 100}, {5, 9, 50}, {6, 7, 100}};
  ASSERT_TRUE(WriteOracleGeneral(requests, dir / "t.bin").ok());
  std::vector<Record> r = ReadRecords(dir / "t.bin");
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].next, 2);
  EXPECT_EQ(r[1].next, -1);
  EXPECT_EQ(r[2].next, 4);
  EXPECT_EQ(r[3].next, -1);
  EXPECT_EQ(r[4].next, -1);
  EXPECT_EQ(r[3].time, 5u);
  EXPECT_EQ(r[3].id, 9u);
  EXPECT_EQ(r[3].size, 50u);
}

TEST(OracleGeneralTest, TheL2StreamIsEveryReadAnL1Missed) {
  PaperTraceShape shape;
  shape.hours = 2;
  shape.functions = 300;
  shape.starts_per_second = 1;
  SimConfig c;
  c.workers = 4;
  c.l2_nodes = 5;
  RequestStreams streams;
  SimResult r = Simulate(GeneratePaperTrace(shape), c, nullptr, &streams);
  EXPECT_EQ(streams.l2.size(), r.all.l2 + r.all.origin);
  EXPECT_GT(streams.l1_worker0.size(), 0u);
  EXPECT_LT(streams.l1_worker0.size(), r.accesses);  // one worker of four
}

}  // namespace
}  // namespace lode::sim
