// The command line behaves the same for every verb: options after the verb
// at any depth, --help everywhere, exit status 2 with one line for a
// command line lode cannot use, 1 with one line for a command that failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/files.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

using nlohmann::json;

CommandResult Lode(const std::string& args) {
  return RunCommand("env -u LODE_KEYS -u LODE_STORE " + LodeBinary() + " " + args + " 2>&1");
}

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST(CliTest, OptionsOfAParentAreAcceptedAfterTheVerb) {
  ScratchDir dir("lode-cli");
  std::string keys = ShellQuote(dir / "keys");
  EXPECT_EQ(Lode("key create t1 --keys " + keys).exit_code, 0);
  EXPECT_EQ(Lode("key --keys " + keys + " create t2").exit_code, 0);
  CommandResult list = Lode("key list --keys " + keys);
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output, "t1\nt2\n");
  EXPECT_EQ(Lode("key export-public t1 --keys " + keys).exit_code, 0);
}

TEST(CliTest, EveryVerbHasHelp) {
  for (const char* verb : {"",
                           "flatten",
                           "key",
                           "key create",
                           "key list",
                           "key rotate-salt",
                           "key export-public",
                           "push",
                           "export",
                           "inspect",
                           "tag",
                           "untag",
                           "ls",
                           "agent",
                           "fuse-holder",
                           "attach",
                           "detach",
                           "ps",
                           "stats",
                           "run",
                           "gc",
                           "gc status",
                           "gc rotate",
                           "gc migrate",
                           "gc expire",
                           "gc sweep",
                           "gc alarms",
                           "snapshot",
                           "snapshot create",
                           "function",
                           "function create",
                           "function update",
                           "function ls",
                           "function rm",
                           "function publish",
                           "serve",
                           "sim"}) {
    CommandResult r = Lode(std::string(verb) + " --help");
    EXPECT_EQ(r.exit_code, 0) << verb << ": " << r.output;
    EXPECT_NE(r.output.find("Usage:"), std::string::npos) << verb;
  }
}

TEST(CliTest, UsageErrorsExitTwoWithOneLineAndAHint) {
  for (const std::string& args :
       std::vector<std::string>{"",
                                "nosuchverb",
                                "push",
                                "push image --tenant t --nosuchflag",
                                "key",
                                "key create",
                                "gc sweep",
                                "agent --prefetch-threads 999",
                                "run app --runtime nosuch",
                                "run app --vm --accel nosuch",
                                "run app",
                                "flatten a b c",
                                "run --vm --tenant t",
                                "run --snapshot s --tenant t",
                                "run app --vm --snapshot s --tenant t",
                                "run --vm --snapshot s --tenant t -- true",
                                "run --vm --snapshot s --tenant t --rw",
                                "snapshot",
                                "snapshot create app --tenant t",
                                "function",
                                "function create f",
                                "function create f --tenant t",
                                "function create f --image i --tenant t --memory 64",
                                "function create f --image i --tenant t --network host",
                                "function ls",
                                "serve",
                                "serve --tenant t --max-concurrency 0",
                                "sim",
                                "function publish f --tenant t --sample-event {"}) {
    CommandResult r = Lode(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(Lines(r.output), 1u) << args << ": " << r.output;
    EXPECT_NE(r.output.find("--help"), std::string::npos) << args << ": " << r.output;
  }
  CommandResult nested = Lode("key create");
  EXPECT_NE(nested.output.find("lode key create --help"), std::string::npos) << nested.output;
}

TEST(CliTest, FailedCommandsExitOneWithOneLine) {
  ScratchDir dir("lode-cli");
  std::string stores =
      " --keys " + ShellQuote(dir / "keys") + " --store " + ShellQuote("dir://" + dir / "store");
  Lode("key create t" + stores);
  for (const std::string& args : std::vector<std::string>{
           "push /nonexistent --tenant t --keys " + ShellQuote(dir / "keys") + " --store " +
               ShellQuote("dir://" + dir / "store"),
           "key export-public nobody --keys " + ShellQuote(dir / "keys"),
           "ps --socket " + ShellQuote(dir / "no.sock"),
           "function create f --image nosuchtag --tenant t" + stores,
           "function update nosuch --tenant t --memory 256" + stores,
           "function rm nosuch --tenant t --store " + ShellQuote("dir://" + dir / "store"),
           "function create f --image file:/nonexistent --tenant t" + stores,
           "serve --tenant t --listen nonsense --socket " + ShellQuote(dir / "no.sock"),
           "sim /nonexistent.json"}) {
    CommandResult r = Lode(args);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.output;
    EXPECT_EQ(Lines(r.output), 1u) << args << ": " << r.output;
  }
}

// The shipped smoke configuration runs in seconds and gives the same bytes
// each time; a configuration with a mistake names it on one line.
TEST(CliTest, SimIsDeterministicAndNamesConfigMistakes) {
  ScratchDir dir("lode-cli");
  std::string config = ShellQuote(std::string(LODE_TEST_SOURCE_DIR) + "/configs/sim/smoke.json");
  CommandResult first = Lode("sim " + config + " --check -o " + ShellQuote(dir / "a.json") +
                             " --report " + ShellQuote(dir / "report.html"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("served after 2 h of warm-up: L1 "), std::string::npos)
      << first.output;
  ASSERT_EQ(Lode("sim " + config + " -o " + ShellQuote(dir / "b.json")).exit_code, 0);
  std::string a = ReadAll(dir / "a.json");
  EXPECT_EQ(a, ReadAll(dir / "b.json"));
  EXPECT_NE(a.find("\"l2_hit_ratio\""), std::string::npos);
  EXPECT_NE(first.output.find("pass  4+1 stripes keep serving"), std::string::npos) << first.output;
  // The report: the claims table and the figures drawn by gnuplot.
  std::string report = ReadAll(dir / "report.html");
  EXPECT_NE(report.find("4+1 stripes keep serving through a dead node</td>"), std::string::npos);
  EXPECT_NE(report.find("class='pass'"), std::string::npos);
  size_t figures = 0;
  for (size_t at = report.find("<svg"); at != std::string::npos; at = report.find("<svg", at + 1)) {
    ++figures;
  }
  // Tier shares, L2 hit ratio, origin GETs per minute, L2 egress, latency CDFs.
  EXPECT_EQ(figures, 5u);
  // A claim that cannot hold fails --check.
  json impossible =
      json::parse(ReadAll(std::string(LODE_TEST_SOURCE_DIR) + "/configs/sim/smoke.json"));
  impossible["claims"][0]["at_least"] = 1.5;
  WriteAll(dir / "impossible.json", impossible.dump());
  CommandResult failed = Lode("sim " + ShellQuote(dir / "impossible.json") + " --check");
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.output.find("1 of 1 claims failed"), std::string::npos) << failed.output;

  // The trace it replayed, written out and replayed from its files (a
  // path relative to the configuration), serves the same reads.
  ASSERT_EQ(Lode("sim " + config + " --write-trace " + ShellQuote(dir / "trace")).exit_code, 0);
  json smoke = json::parse(ReadAll(std::string(LODE_TEST_SOURCE_DIR) + "/configs/sim/smoke.json"));
  smoke["trace"] = {{"path", "trace"}};
  WriteAll(dir / "replay.json", smoke.dump());
  CommandResult replay = Lode("sim " + ShellQuote(dir / "replay.json") + " --json");
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  json replayed = json::parse(replay.output), original = json::parse(a);
  EXPECT_EQ(replayed["tiers"], original["tiers"]);
  EXPECT_EQ(replayed["hours"], original["hours"]);

  WriteAll(dir / "typo.json", R"({"workers": 4, "l1": {"memroy_bytes": "1GiB"}})");
  CommandResult typo = Lode("sim " + ShellQuote(dir / "typo.json"));
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_EQ(Lines(typo.output), 1u) << typo.output;
  EXPECT_NE(typo.output.find("unknown key l1.memroy_bytes"), std::string::npos) << typo.output;
}

}  // namespace
}  // namespace lode::testing
