// Agent restarts under load: fio reads and writes through a mounted block
// file (the loop driver and ext4 on top, as in a sandbox) while the agent is
// SIGKILLed and restarted, or upgraded. Judged by fio's own verification
// (crc32c headers in every 4 KiB block), its error counts and latencies,
// and e2fsck.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "sandbox/mount.h"
#include "testing/agent_process.h"
#include "testing/layer_builder.h"
#include "testing/ports.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kRestarts = 20;

class HandoverTest : public ::testing::Test {
 protected:
  // An image holding /data/fio: 32 MiB that fio wrote with a verification
  // header in every 4 KiB block.
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-handover");
    env_ = "LODE_KEYS=" + ShellQuote(*dir_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store") + " ";
    Lode("key create acme");
    std::string data = *dir_ / "fio.data";
    ASSERT_EQ(RunCommand("fio --name=w --filename=" + ShellQuote(data) + " " + kReadJob +
                         " --rw=write --do_verify=0 >/dev/null")
                  .exit_code,
              0);
    std::ifstream in(data, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(content.size(), 32u << 20);
    ImageSpec spec;
    spec.layers.push_back(LayerBuilder().Dir("data").File("data/fio", content).Finish());
    WriteOciLayout(*dir_ / "oci", spec, TestCompression::kGzip);
    Lode("push " + ShellQuote(*dir_ / "oci") + " --tenant acme --tag fio");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static CommandResult Lode(const std::string& args) {
    CommandResult r = RunCommand(env_ + LodeBinary() + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r;
  }

  std::unique_ptr<AgentProcess> StartAgent(const std::string& name, const std::string& flags) {
    fs::create_directories(*dir_ / name);
    auto agent = std::make_unique<AgentProcess>(*dir_ / name, env_, "--prefetch off " + flags);
    EXPECT_TRUE(agent->Start()) << agent->log();
    return agent;
  }

  std::string Attach(AgentProcess& agent, const std::string& flags = "") {
    CommandResult r = Lode("attach fio --tenant acme " + flags + " " + agent.SocketArg());
    return r.output.substr(0, r.output.find('\n'));
  }

  // SIGKILLs and restarts the agent kRestarts times while `busy` holds;
  // returns the longest restart (kill to answering again).
  static Clock::duration CrashRepeatedly(AgentProcess& agent, int pause_ms) {
    Clock::duration longest{};
    for (int i = 0; i < kRestarts; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      Clock::time_point t0 = Clock::now();
      agent.Kill();
      EXPECT_TRUE(agent.Start()) << agent.log();
      longest = std::max(longest, Clock::now() - t0);
    }
    return longest;
  }

  // fio's JSON report: every job error-free; returns the longest latency
  // of any I/O in nanoseconds.
  static uint64_t CheckFioReport(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 4000);
    size_t start = r.output.find('{');
    json report =
        json::parse(r.output.substr(start == std::string::npos ? 0 : start), nullptr, false);
    EXPECT_TRUE(report.is_object()) << r.output.substr(0, 4000);
    if (!report.is_object()) return 0;
    uint64_t longest = 0, ios = 0;
    for (const json& job : report["jobs"]) {
      EXPECT_EQ(job["error"].get<int>(), 0) << job.dump();
      for (const char* dir : {"read", "write"}) {
        ios += job[dir]["total_ios"].get<uint64_t>();
        longest = std::max(longest, job[dir]["lat_ns"]["max"].get<uint64_t>());
      }
    }
    EXPECT_GT(ios, 0u);
    return longest;
  }

  // Every block of /data/fio carries fio's crc32c header.
  static constexpr const char* kReadJob =
      "--bs=4k --size=32M --verify=crc32c --verify_state_save=0 --ioengine=psync";

  // fio options of a job verifying /data/fio under `mnt` with O_DIRECT
  // reads for `seconds`.
  static std::string VerifyJob(const std::string& mnt, int seconds) {
    return " --filename=" + ShellQuote(mnt + "/data/fio") + " " + kReadJob +
           " --verify_only=1 --direct=1 --time_based --runtime=" + std::to_string(seconds);
  }

  static ScratchDir* dir_;
  static std::string env_;
};

ScratchDir* HandoverTest::dir_ = nullptr;
std::string HandoverTest::env_;

TEST_F(HandoverTest, VerifiedReadsCrossTwentyAgentCrashes) {
  std::unique_ptr<AgentProcess> agent = StartAgent("reads", "");
  std::string block = Attach(*agent);
  Result<std::unique_ptr<sandbox::Mount>> mount =
      sandbox::Mount::Ext4(block, *dir_ / "reads-mnt", false);
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  CommandResult fio;
  std::thread load([&] {
    std::string job = VerifyJob(*dir_ / "reads-mnt", 12);
    fio = RunCommand("fio --output-format=json --name=random --rw=randread --numjobs=2" + job +
                     " --name=sequential --rw=read --numjobs=2" + job + " 2>&1");
  });
  Clock::duration restart = CrashRepeatedly(*agent, 150);
  load.join();
  uint64_t longest_ns = CheckFioReport(fio);
  uint64_t bound_ns = std::chrono::nanoseconds(restart).count() + 1'000'000'000;
  std::printf("longest restart %.3f s, longest read %.3f s\n",
              std::chrono::duration<double>(restart).count(), longest_ns / 1e9);
  EXPECT_LE(longest_ns, bound_ns) << "a read waited longer than a restart plus 1 s";
  EXPECT_TRUE((*mount)->Unmount().ok());
}

TEST_F(HandoverTest, FsyncedWritesSurviveTwentyAgentCrashes) {
  std::unique_ptr<AgentProcess> agent = StartAgent("writes", "");
  std::string block = Attach(*agent, "--rw");
  std::string mnt = *dir_ / "writes-mnt";
  Result<std::unique_ptr<sandbox::Mount>> mount = sandbox::Mount::Ext4(block, mnt, true);
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  // Two writers, each of its own new file, fsyncing after every write.
  std::string jobs;
  for (const char* name : {"w1", "w2"}) {
    jobs += std::string(" --name=") + name + " --filename=" + ShellQuote(mnt + "/data/" + name) +
            " --rw=randwrite --bs=4k --size=6M --verify=crc32c --verify_state_save=0" +
            " --randseed=42 --ioengine=psync";
  }
  CommandResult fio;
  std::thread load([&] {
    fio = RunCommand("fio --output-format=json --fsync=1 --do_verify=0" + jobs + " 2>&1");
  });
  CrashRepeatedly(*agent, 100);
  load.join();
  CheckFioReport(fio);
  // Once more with nothing cached above the agent: unmount, crash, remount.
  ASSERT_TRUE((*mount)->Unmount().ok());
  agent->Kill();
  ASSERT_TRUE(agent->Start()) << agent->log();
  mount = sandbox::Mount::Ext4(block, mnt, true);
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  CheckFioReport(RunCommand("fio --output-format=json --verify_only=1" + jobs + " 2>&1"));
  ASSERT_TRUE((*mount)->Unmount().ok());
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(block) + " 2>&1");
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

TEST_F(HandoverTest, UpgradeUnderLoadFailsNoRead) {
  std::unique_ptr<AgentProcess> agent = StartAgent("upgrade", "");
  std::string block = Attach(*agent);
  Result<std::unique_ptr<sandbox::Mount>> mount =
      sandbox::Mount::Ext4(block, *dir_ / "upgrade-mnt", false);
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  CommandResult fio;
  std::thread load([&] {
    fio = RunCommand("fio --output-format=json --name=random --rw=randread --numjobs=4" +
                     VerifyJob(*dir_ / "upgrade-mnt", 6) + " 2>&1");
  });
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_TRUE(agent->Upgrade()) << agent->log();
  }
  load.join();
  CheckFioReport(fio);
  EXPECT_TRUE((*mount)->Unmount().ok());
}

TEST_F(HandoverTest, WithNoAgentReadsFailAfterTheBoundAndALaterAgentTakesOver) {
  std::unique_ptr<AgentProcess> agent = StartAgent("orphan", "--orphan-timeout-ms 1500");
  std::string block = Attach(*agent);
  std::string read = "dd if=" + ShellQuote(block) + " of=/dev/null bs=1M count=8 status=none";
  std::string drop = "dd if=" + ShellQuote(block) + " iflag=nocache count=0 status=none";
  std::string before = RunCommand("sha256sum < " + ShellQuote(block)).output;
  RunCommand(drop);
  Clock::time_point t0 = Clock::now();
  agent->Kill();
  CommandResult failed = RunCommand(read + " 2>&1");
  double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(failed.exit_code, 0) << failed.output;
  EXPECT_NE(failed.output.find("Input/output error"), std::string::npos) << failed.output;
  EXPECT_GE(waited, 1.0);
  EXPECT_LE(waited, 3.0);
  ASSERT_TRUE(agent->Start()) << agent->log();
  RunCommand(drop);
  EXPECT_EQ(RunCommand(read).exit_code, 0);
  EXPECT_EQ(RunCommand("sha256sum < " + ShellQuote(block)).output, before);
}

// A real Prometheus scrapes the agent; the values it stored match `lode
// stats`, and the handover counter counts a takeover.
TEST_F(HandoverTest, PrometheusScrapesTheAgent) {
  int metrics_port = FreeLoopbackPorts(1);
  std::string target = "127.0.0.1:" + std::to_string(metrics_port);
  std::unique_ptr<AgentProcess> agent = StartAgent("metrics", "--metrics-listen " + target);
  std::string block = Attach(*agent);
  ASSERT_EQ(RunCommand("cat " + ShellQuote(block) + " >/dev/null").exit_code, 0);
  CommandResult lint =
      RunCommand("curl -sf http://" + target + "/metrics | promtool check metrics 2>&1");
  EXPECT_EQ(lint.exit_code, 0) << lint.output;

  std::string prom_dir = *dir_ / "prometheus";
  fs::create_directories(prom_dir);
  {
    std::ofstream config(prom_dir + "/prometheus.yml");
    config << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lode\n"
           << "    static_configs:\n      - targets: ['" << target << "']\n";
  }
  int web_port = FreeLoopbackPorts(1);
  std::string web = "127.0.0.1:" + std::to_string(web_port);
  CommandResult started = RunCommand(
      "prometheus --config.file=" + ShellQuote(prom_dir + "/prometheus.yml") +
      " --storage.tsdb.path=" + ShellQuote(prom_dir + "/data") + " --web.listen-address=" + web +
      " >" + ShellQuote(prom_dir + "/log") + " 2>&1 & echo $!");
  pid_t prometheus = std::stoi(started.output);
  // The newest value of `query` Prometheus holds, once it has one.
  auto query = [&](const std::string& expr) -> std::optional<double> {
    for (int i = 0; i < 300; ++i) {
      CommandResult r = RunCommand("curl -sf http://" + web + "/api/v1/query --data-urlencode " +
                                   ShellQuote("query=" + expr));
      json j = json::parse(r.output, nullptr, false);
      if (j.is_object() && j["status"] == "success" && !j["data"]["result"].empty()) {
        return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::nullopt;
  };
  json stats = json::parse(Lode("stats --json " + agent->SocketArg()).output);
  const json& attachment = stats["attachments"][0];
  std::string id = attachment["id"];
  std::optional<double> read_bytes =
      query("lode_attachment_read_bytes_total{attachment=\"" + id + "\"}");
  ASSERT_TRUE(read_bytes.has_value()) << RunCommand("cat " + ShellQuote(prom_dir + "/log")).output;
  EXPECT_EQ(*read_bytes, attachment["bytes_read"].get<double>());
  std::optional<double> fetched =
      query("lode_attachment_chunks_fetched_total{attachment=\"" + id + "\"}");
  EXPECT_EQ(fetched, attachment["chunks_fetched"].get<double>());
  EXPECT_GT(query("lode_tier_fetch_duration_seconds_count{tier=\"origin\"}").value_or(0), 0);
  EXPECT_EQ(query("lode_agent_handovers_total"), 0.0);
  agent->Kill();
  ASSERT_TRUE(agent->Start()) << agent->log();
  EXPECT_EQ(query("lode_agent_handovers_total == 1"), 1.0);
  ::kill(prometheus, SIGTERM);
  RunCommand("while kill -0 " + std::to_string(prometheus) + " 2>/dev/null; do sleep 0.05; done");
}

}  // namespace
}  // namespace lode::testing
