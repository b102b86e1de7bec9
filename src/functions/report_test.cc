#include "functions/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing/scratch_dir.h"
#include "util/file.h"

namespace lode::functions {
namespace {

TEST(ReportTest, LinesAsLambdaWritesThem) {
  InvocationReport r;
  r.request_id = "abc";
  r.duration_ms = 1.234;
  r.memory_mib = 128;
  r.max_memory_used_bytes = (30u << 20) + 1;
  EXPECT_EQ(ReportLine(r),
            "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 "
            "MB\tMax Memory Used: 31 MB");
  r.start = StartKind::kCold;
  r.init_duration_ms = 250.5;
  r.outcome = "timeout";
  EXPECT_NE(ReportLine(r).find("\tInit Duration: 250.50 ms\tStatus: timeout"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(ReportJson(r));
  EXPECT_EQ(j["start"], "cold");
  EXPECT_EQ(j["billed_duration_ms"], 2);
  EXPECT_EQ(j["init_duration_ms"], 250.5);
  EXPECT_EQ(BilledMillis(0), 1u);
  EXPECT_EQ(BilledMillis(3.0), 3u);
}

TEST(ReportTest, ARestoreReportsWhatItLoadedOfEachPart) {
  InvocationReport r;
  r.request_id = "abc";
  r.start = StartKind::kRestore;
  r.init_duration_ms = 600;
  r.restore_loads = {
      {"memory", 512, 120, 100, 30 << 20}, {"state", 1, 1, 1, 9000}, {"disk", 200, 30, 0, 0}};
  EXPECT_NE(ReportLine(r).find("\tRestore Duration: 600.00 ms\tRestore Loaded: memory 120/512, "
                               "state 1/1, disk 30/200 chunks"),
            std::string::npos)
      << ReportLine(r);
  nlohmann::json j = nlohmann::json::parse(ReportJson(r));
  EXPECT_EQ(j["start"], "restore");
  EXPECT_EQ(j["restore_loads"]["memory"]["chunks_loaded"], 120);
  EXPECT_EQ(j["restore_loads"]["memory"]["chunks_stored"], 512);
  EXPECT_EQ(j["restore_loads"]["memory"]["fetched_bytes"], 30 << 20);
  EXPECT_EQ(j["restore_loads"]["disk"]["chunks_fetched"], 0);
}

TEST(ReportTest, FunctionLogKeepsATailAndBoundsItsFile) {
  testing::ScratchDir dir;
  std::string path = dir / "t/f.log";
  FunctionLog log(path);
  log.Append("before\n");
  log.BeginTail();
  log.Append("START\n");
  EXPECT_EQ(log.Tail(), "START\n");
  std::string line(1000, 'x');
  for (int i = 0; i < 10; ++i) log.Append(line);
  EXPECT_EQ(log.Tail().size(), FunctionLog::kTailBytes);
  EXPECT_EQ(ReadFileToString(path)->size(), 7 + 6 + 10 * 1000u);
  // Past kMaxLogBytes the file moves to .1 and a new one begins.
  std::string chunk(1 << 20, 'y');
  for (uint64_t i = 0; i <= FunctionLog::kMaxLogBytes >> 20; ++i) log.Append(chunk);
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_LE(std::filesystem::file_size(path), FunctionLog::kMaxLogBytes);
}

}  // namespace
}  // namespace lode::functions
