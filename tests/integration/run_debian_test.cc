// `lode run` and the agent on the real Debian image (bookworm + python3, the
// same image the flatten test checks). Oracles: the command's output and exit
// status, the agent's fetch counters against the image size, `lode
// flatten`'s bytes and mounted tree, e2fsck, and /proc/mounts.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/agent_process.h"
#include "testing/debian_image.h"
#include "testing/mount.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/tree_compare.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class RunDebianTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-run");
    env_ = "LODE_KEYS=" + ShellQuote(*dir_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store") + " ";
    std::string rootfs = CachedDebianRootfs();
    if (rootfs.empty()) return;
    PublishTestImage(env_, dir_->path(), BuildDebianImage(rootfs));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(fs::exists(*dir_ / "deb.ext4")) << "setup failed"; }

  CommandResult Lode(const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " " + args);
  }
  // lode run with a private agent over the cache `cache`; stdout only.
  CommandResult Run(const std::string& cache, const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " run deb --tenant acme --cache " +
                      ShellQuote(*dir_ / cache) + " " + args + " 2>" +
                      ShellQuote(*dir_ / "run.err"));
  }
  json Timings() {
    std::ifstream in(*dir_ / "timings.json");
    return json::parse(in, nullptr, false);
  }
  static int LodeRunMounts() {
    std::ifstream in("/proc/mounts");
    int n = 0;
    for (std::string line; std::getline(in, line);)
      n += line.find("lode-run-") != std::string::npos;
    return n;
  }

  static ScratchDir* dir_;
  static std::string env_;
};

ScratchDir* RunDebianTest::dir_ = nullptr;
std::string RunDebianTest::env_;

TEST_F(RunDebianTest, PythonStartsFetchingASmallFractionAndAWarmRunFetchesNothing) {
  // Tier counts without prefetch (profile_test covers it).
  std::string timings = "--prefetch off --timings-json " + ShellQuote(*dir_ / "timings.json");
  CommandResult cold = Run("cache-lazy", timings + " -- python3 -c 'print(42)'");
  ASSERT_EQ(cold.exit_code, 0) << cold.output;
  EXPECT_EQ(cold.output, "42\n");  // timings go to the file, not stdout
  json t = Timings();
  ASSERT_TRUE(t.is_object());
  double fraction = t["fetched_bytes"].get<double>() / t["image_bytes"].get<double>();
  // Measured: 2.2% of the bytes (40 of 562 chunks); the bound leaves room.
  EXPECT_LT(fraction, 0.10) << t.dump();
  EXPECT_GT(t["chunks_fetched"].get<int>(), 0);
  EXPECT_LT(t["chunks_fetched"].get<double>(), 0.2 * t["chunks_total"].get<double>());
  for (const char* phase : {"attach_seconds", "mount_seconds", "first_read_seconds",
                            "process_start_seconds", "exit_seconds", "total_seconds"}) {
    EXPECT_GT(t[phase].get<double>(), 0.0) << phase;
  }

  CommandResult warm = Run("cache-lazy", timings + " -- python3 -c 'print(42)'");
  ASSERT_EQ(warm.exit_code, 0) << warm.output;
  t = Timings();
  EXPECT_EQ(t["chunks_fetched"].get<int>(), 0) << t.dump();
  EXPECT_EQ(t["fetched_bytes"].get<int>(), 0);
  EXPECT_GT(t["l1_hits"].get<int>(), 0);
  EXPECT_EQ(LodeRunMounts(), 0);
}

TEST_F(RunDebianTest, RunsTheImageEntrypointAndPassesTheExitStatusOn) {
  CommandResult entry = Run("cache-entry", "");
  EXPECT_EQ(entry.exit_code, 0) << entry.output;
  EXPECT_NE(entry.output.find("\"hello\": \"lode\""), std::string::npos) << entry.output;
  CommandResult status = Run("cache-entry", "-- sh -c 'echo out; exit 3'");
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.output, "out\n");
  CommandResult rw =
      Run("cache-entry", "--rw -- sh -c 'echo written > /opt/app/out && cat /opt/app/out'");
  EXPECT_EQ(rw.exit_code, 0) << rw.output;
  EXPECT_EQ(rw.output, "written\n");
  CommandResult ro = Run("cache-entry", "-- sh -c 'echo x > /opt/app/out'");
  EXPECT_NE(ro.exit_code, 0);  // read-only root without --rw
  // Without crun: a PID namespace and chroot, same command, same result.
  CommandResult chroot = Run("cache-entry", "--runtime chroot -- sh -c 'echo $$; id -u; exit 4'");
  EXPECT_EQ(chroot.exit_code, 4);
  EXPECT_EQ(chroot.output, "1\n0\n");  // the command is its namespace's init
}

TEST_F(RunDebianTest, ImageMountedThroughTheAgentEqualsTheFlattenedOne) {
  AgentProcess agent(*dir_ / "agent-tree", env_);
  fs::create_directories(*dir_ / "agent-tree");
  ASSERT_TRUE(agent.Start()) << agent.log();
  CommandResult a = Lode("attach deb --tenant acme " + agent.SocketArg());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  std::string block = a.output.substr(0, a.output.find('\n'));
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(block));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  {
    LoopMount through_agent(block, *dir_ / "mnt-agent");
    LoopMount flattened(*dir_ / "deb.ext4", *dir_ / "mnt-flat");
    ASSERT_TRUE(through_agent.ok()) << through_agent.error();
    ASSERT_TRUE(flattened.ok()) << flattened.error();
    std::vector<std::string> diffs = CompareTrees(*dir_ / "mnt-agent", *dir_ / "mnt-flat");
    EXPECT_TRUE(diffs.empty()) << diffs.front();
  }
  // The kernel lets go of a loop device's file after the unmount, not at
  // once: the agent refuses to detach a file still open.
  CommandResult detached;
  for (int i = 0; i < 50; ++i) {
    detached = Lode("detach " + fs::path(block).filename().string() + " " + agent.SocketArg());
    if (detached.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(detached.exit_code, 0) << detached.output;
}

// The command imports modules (reading files it never read before) after
// each replacement of the agent: its reads cross a crash and an upgrade.
TEST_F(RunDebianTest, RunSurvivesAnAgentCrashAndAnUpgrade) {
  fs::create_directories(*dir_ / "agent-kill");
  AgentProcess agent(*dir_ / "agent-kill", env_);
  ASSERT_TRUE(agent.Start()) << agent.log();
  std::string out = *dir_ / "survivor.out";
  std::string script =
      "import sys, time\n"
      "print('started', flush=True)\n"
      "time.sleep(2)\n"
      "import json, email.parser\n"
      "print('after crash', json.dumps([1]), flush=True)\n"
      "time.sleep(2)\n"
      "import http.client, xml.dom.minidom\n"
      "print('after upgrade', flush=True)\n"
      "sys.exit(7)\n";
  CommandResult run;
  std::thread runner([&] {
    run = RunCommand(env_ + LodeBinary() + " run deb --tenant acme " + agent.SocketArg() +
                     " -- python3 -c " + ShellQuote(script) + " > " + ShellQuote(out) + " 2>&1");
  });
  auto wait_for_output = [&](const std::string& text) {
    for (int i = 0; i < 3000; ++i) {
      if (RunCommand("grep -q " + ShellQuote(text) + " " + ShellQuote(out)).exit_code == 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(wait_for_output("started"));
  agent.Kill();
  EXPECT_TRUE(agent.Start()) << agent.log();
  EXPECT_TRUE(wait_for_output("after crash"));
  EXPECT_TRUE(agent.Upgrade()) << agent.log();
  runner.join();
  EXPECT_EQ(run.exit_code, 7) << RunCommand("cat " + ShellQuote(out)).output << agent.log();
  EXPECT_EQ(RunCommand("cat " + ShellQuote(out)).output,
            "started\nafter crash [1]\nafter upgrade\n");
  EXPECT_EQ(LodeRunMounts(), 0);
  EXPECT_EQ(RunCommand("losetup -a | grep -c " + ShellQuote(agent.mountpoint())).output, "0\n");
  // Detached on exit through the agent that was running by then.
  EXPECT_EQ(nlohmann::json::parse(Lode("ps --json " + agent.SocketArg()).output).size(), 0u);
}

}  // namespace
}  // namespace lode::testing
