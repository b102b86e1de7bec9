#include "sim/azure.h"

#include <gtest/gtest.h>

#include <map>

#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace lode::sim {
namespace {

// A day file in the Azure Functions 2019 schema: per function, its
// invocations by minute.
std::string Day(const std::map<std::string, std::map<int, int>>& functions) {
  std::string text = "HashOwner,HashApp,HashFunction,Trigger";
  for (int m = 1; m <= 1440; ++m) {
    text += ',';
    text += std::to_string(m);
  }
  text += "\n";
  for (const auto& [name, counts] : functions) {
    text += "owner,app," + name + ",http";
    for (int m = 0; m < 1440; ++m) {
      auto it = counts.find(m);
      text += ',';
      text += std::to_string(it == counts.end() ? 0 : it->second);
    }
    text += "\n";
  }
  return text;
}

std::map<std::string, int> StartsPerFunction(const Trace& t) {
  std::map<std::string, int> out;
  for (const Start& s : t.starts) out[t.functions[s.function]]++;
  return out;
}

TEST(AzureTraceTest, InvocationsBecomeStartsThroughKeepAlive) {
  testing::ScratchDir dir("lode-sim-azure");
  std::map<int, int> every_minute, every_twenty, burst, late;
  for (int m = 0; m < 30; ++m) every_minute[m] = 2;
  for (int m = 0; m < 60; m += 20) every_twenty[m] = 1;
  burst[5] = 180;  // 180 one-second invocations in a minute: 3 sandboxes
  late[1439] = 1;
  testing::WriteAll(
      dir / "d1.csv",
      Day({{"steady", every_minute}, {"sparse", every_twenty}, {"burst", burst}, {"late", late}}));
  std::map<int, int> next_morning;
  next_morning[3] = 1;  // 4 minutes after the last one: still warm
  testing::WriteAll(dir / "d2.csv", Day({{"late", next_morning}}));
  AzureShape azure;
  azure.days = {dir / "d1.csv", dir / "d2.csv"};
  azure.keep_alive_minutes = 10;
  PaperTraceShape images;
  images.functions = 1;  // replaced by the files' count
  Result<Trace> t = AzureTrace(azure, images);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->functions.size(), 4u);
  EXPECT_EQ(t->images.size(), 4u);
  ASSERT_EQ(t->tenants, std::vector<std::string>{"owner"});  // HashOwner
  EXPECT_EQ(TenantOf(*t, 3), "owner");
  std::map<std::string, int> starts = StartsPerFunction(*t);
  EXPECT_EQ(starts["owner/app/steady"], 1);
  EXPECT_EQ(starts["owner/app/sparse"], 3);  // 20 minutes idle is past keep-alive
  EXPECT_EQ(starts["owner/app/burst"], 3);
  EXPECT_EQ(starts["owner/app/late"], 1);  // kept warm across midnight
  EXPECT_TRUE(std::is_sorted(t->starts.begin(), t->starts.end(),
                             [](const Start& a, const Start& b) { return a.time_s < b.time_s; }));
  for (const Start& s : t->starts) EXPECT_EQ(s.image, s.function);

  azure.keep_alive_minutes = 30;
  EXPECT_EQ(StartsPerFunction(*AzureTrace(azure, images))["owner/app/sparse"], 1);
}

TEST(AzureTraceTest, MalformedFilesNameTheirLine) {
  testing::ScratchDir dir("lode-sim-azure");
  testing::WriteAll(dir / "bad.csv", "a,b,c\n");
  AzureShape azure;
  azure.days = {dir / "bad.csv"};
  EXPECT_NE(AzureTrace(azure, {}).status().message().find("bad.csv:1:"), std::string::npos);
  std::string day = Day({{"f", {{1, 1}}}});
  day.insert(day.rfind(",0"), ",x");
  testing::WriteAll(dir / "bad.csv", day);
  EXPECT_NE(AzureTrace(azure, {}).status().message().find("bad.csv:2:"), std::string::npos);
  azure.days = {dir / "missing.csv"};
  EXPECT_EQ(AzureTrace(azure, {}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lode::sim
