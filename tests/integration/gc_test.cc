// `lode gc` end to end with the lode binary on a dir:// store: a whole
// rotate/migrate/expire/sweep cycle with the alarm path, a migration killed
// with SIGKILL and rerun, an agent that follows a migration while attached,
// leftovers of crashed uploads, and bad input. Oracles: `lode flatten`'s
// bytes, the store's files, JSON output and exit status.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "testing/agent_process.h"
#include "testing/gc_expiry.h"
#include "testing/layer_builder.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = "LODE_KEYS=" + ShellQuote(dir_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + dir_.path() + "/store") + " ";
    ASSERT_EQ(Lode("key create acme").exit_code, 0);
  }

  // An image of `files` random 4 MiB files, pushed as tag `tag` and
  // flattened to NAME.ext4; returns the pushed reference.
  std::string PushRandomImage(const std::string& name, int files) {
    std::mt19937 rng(11);
    LayerBuilder layer;
    layer.Dir("data");
    for (int i = 0; i < files; ++i) {
      std::string content(4 << 20, '\0');
      for (size_t k = 0; k < content.size(); k += 4) {
        uint32_t r = static_cast<uint32_t>(rng());
        std::memcpy(&content[k], &r, 4);
      }
      layer.File("data/f" + std::to_string(i), content);
    }
    ImageSpec spec;
    spec.layers = {layer.Finish()};
    return PushImage(name, spec);
  }

  std::string PushRulesImage(const std::string& name) {
    return PushImage(name, BuildRulesImage({.wide_entries = 500, .sparse_size = 16 << 20}));
  }

  std::string PushImage(const std::string& name, const ImageSpec& spec) {
    WriteOciLayout(dir_ / name, spec, TestCompression::kNone);
    EXPECT_EQ(Lode("flatten " + ShellQuote(dir_ / name) + " -o " + Ext4(name)).exit_code, 0);
    json pushed = Json("push " + ShellQuote(dir_ / name) + " --tenant acme --tag " + name);
    return pushed.value("ref", "");
  }

  std::string Ext4(const std::string& name) { return ShellQuote(dir_ / (name + ".ext4")); }

  CommandResult Lode(const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " " + args);
  }
  json Json(const std::string& args) {
    CommandResult r = Lode(args + " --json");
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r.exit_code == 0 ? json::parse(r.output) : json::object();
  }
  json Root(const std::string& id) {
    for (const json& r : Json("gc status")) {
      if (r["root"] == id) return r;
    }
    return json::object();
  }

  // Exports REF and compares it with NAME.ext4.
  bool ExportsAs(const std::string& ref, const std::string& name) {
    CommandResult e = Lode("export " + ref + " --tenant acme -o " + ShellQuote(dir_ / "out.ext4"));
    EXPECT_EQ(e.exit_code, 0) << e.output;
    return e.exit_code == 0 &&
           RunCommand("cmp " + ShellQuote(dir_ / "out.ext4") + " " + Ext4(name)).exit_code == 0;
  }

  // Starts `agent` (under dir_/agent) and attaches "app": the block file, or
  // "" on failure.
  std::string StartAndAttachApp(AgentProcess& agent) {
    fs::create_directories(dir_ / "agent");
    if (!agent.Start()) return "";
    CommandResult attached = Lode("attach app --tenant acme " + agent.SocketArg());
    EXPECT_EQ(attached.exit_code, 0) << attached.output;
    return attached.exit_code == 0 ? attached.output.substr(0, attached.output.find('\n')) : "";
  }
  // Reads the whole block file past the page cache and compares it.
  bool BlockIsApp(const std::string& block) {
    return RunCommand("dd if=" + ShellQuote(block) + " iflag=direct bs=1M status=none | cmp - " +
                      Ext4("app"))
               .exit_code == 0;
  }

  size_t Files(const std::string& dir, bool temporary) {
    size_t n = 0;
    if (!fs::exists(dir_ / dir)) return 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / dir)) {
      bool tmp = e.path().filename().string().find(".tmp.") != std::string::npos;
      n += e.is_regular_file() && tmp == temporary;
    }
    return n;
  }

  ScratchDir dir_{"lode-gc"};
  std::string env_;
};

TEST_F(GcTest, CycleMovesTagsAndAReadAfterExpiryBlocksTheSweep) {
  std::string old_ref = PushRulesImage("app");
  ASSERT_EQ(old_ref.rfind("root-0/", 0), 0u) << old_ref;
  EXPECT_EQ(Root("root-0")["state"], "active");
  EXPECT_EQ(Root("root-0")["tags"], 2);  // app, and the chain tag push writes
  size_t chunks = Root("root-0")["chunks"].get<size_t>();

  EXPECT_EQ(Json("gc rotate")["root"], "root-1");
  EXPECT_EQ(Root("root-0")["state"], "retired");
  EXPECT_EQ(Json("gc expire")["still_tagged"], json::array({"root-0"}));  // not migrated yet

  json migrated = Json("gc migrate");
  EXPECT_EQ(migrated["tags_moved"], 2);  // two tags, one image
  EXPECT_EQ(migrated["manifests_copied"], 1);
  EXPECT_EQ(migrated["chunks_copied"].get<size_t>(), chunks);  // re-sealed under root-1's salt
  EXPECT_EQ(Json("gc migrate")["tags_moved"], 0);              // idempotent
  EXPECT_EQ(Root("root-1")["chunks"].get<size_t>(), chunks);
  EXPECT_NE(Lode("ls --tenant acme").output.find("app\troot-1/"), std::string::npos);

  ASSERT_EQ(ExpireWhenOldEnough([&] { return Json("gc expire"); }, "root-0"), "");
  // A read of the expired root is served, and raises an alarm.
  EXPECT_TRUE(ExportsAs(old_ref, "app"));
  json alarms = Json("gc alarms");
  ASSERT_FALSE(alarms.empty());
  EXPECT_EQ(alarms[0]["root"], "root-0");
  EXPECT_EQ(alarms[0]["object"].get<std::string>().rfind("root-0/", 0), 0u);
  EXPECT_GE(Root("root-0")["alarms"].get<int>(), 1);

  json young = Json("gc sweep --older-than 1h");
  ASSERT_EQ(young["kept"].size(), 1u);
  EXPECT_NE(young["kept"][0].get<std::string>().find("expired"), std::string::npos) << young;
  json kept = Json("gc sweep --older-than 0s");
  EXPECT_TRUE(kept["deleted"].empty());
  ASSERT_EQ(kept["kept"].size(), 1u);
  EXPECT_NE(kept["kept"][0].get<std::string>().find("alarms"), std::string::npos) << kept;
  EXPECT_EQ(Root("root-0")["chunks"].get<size_t>(), chunks);

  EXPECT_EQ(Json("gc alarms --clear root-0")["cleared"].get<int>(), alarms.size());
  json swept = Json("gc sweep --older-than 0s");
  EXPECT_EQ(swept["deleted"], json::array({"root-0"}));
  EXPECT_FALSE(fs::exists(dir_ / "store/root-0"));
  EXPECT_EQ(Root("root-0")["state"], "deleted");
  EXPECT_TRUE(ExportsAs("app", "app"));
  CommandResult gone = Lode("export " + old_ref + " --tenant acme -o " + ShellQuote(dir_ / "x"));
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_EQ(std::count(gone.output.begin(), gone.output.end(), '\n'), 1) << gone.output;
}

TEST_F(GcTest, KilledMigrationsResumeAndTheLastRunCompletes) {
  std::string old_ref = PushRandomImage("big", 12);
  size_t chunks = Files("store/root-0/chunks", false);
  ASSERT_GT(chunks, 40u);
  Lode("gc rotate");
  // Kill -9 the migration each time a few more chunks are in the new root.
  for (size_t kill_at : {3u, 20u, 35u}) {
    CommandResult killed = RunCommand(
        env_ + LodeBinary() + " gc migrate --threads 1 & pid=$!; for i in $(seq 4000); do [ $(ls " +
        ShellQuote(dir_ / "store/root-1/chunks") + " 2>/dev/null | grep -vc '[.]tmp[.]') -ge " +
        std::to_string(kill_at) + " ] && break; sleep 0.002; done; kill -9 $pid; wait $pid; echo " +
        "killed $?");
    EXPECT_NE(killed.output.find("killed 137"), std::string::npos) << killed.output;
    EXPECT_NE(Lode("ls --tenant acme").output.find("big\troot-0/"), std::string::npos);
    EXPECT_TRUE(ExportsAs("big", "big"));  // still where it was, still whole
  }
  json rerun = Json("gc migrate");
  EXPECT_EQ(rerun["tags_moved"], 2);                       // big and its chain tag
  EXPECT_GE(rerun["chunks_existing"].get<size_t>(), 35u);  // what the killed runs stored
  EXPECT_EQ(rerun["chunks_existing"].get<size_t>() + rerun["chunks_copied"].get<size_t>(), chunks);
  EXPECT_EQ(Files("store/root-1/chunks", false), chunks);
  EXPECT_NE(Lode("ls --tenant acme").output.find("big\troot-1/"), std::string::npos);
  EXPECT_TRUE(ExportsAs("big", "big"));
  ASSERT_EQ(ExpireWhenOldEnough([&] { return Json("gc expire"); }, "root-0"), "");
}

TEST_F(GcTest, AnAttachedImageFollowsItsMigrationAndOutlivesTheOldRoot) {
  PushRulesImage("app");
  AgentProcess agent(dir_ / "agent", env_, "--follow-interval 1");
  std::string block = StartAndAttachApp(agent);
  ASSERT_FALSE(block.empty()) << agent.log();
  EXPECT_TRUE(BlockIsApp(block));
  Lode("gc rotate");
  Lode("gc migrate");
  std::string ref;
  for (int i = 0; i < 50 && ref.rfind("root-1/", 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    json ps = Json("ps " + agent.SocketArg());
    ref = ps.empty() ? "" : ps[0]["ref"].get<std::string>();
  }
  EXPECT_EQ(ref.rfind("root-1/", 0), 0u) << agent.log();
  ASSERT_EQ(ExpireWhenOldEnough([&] { return Json("gc expire"); }, "root-0"), "");
  // Reads now come from the copy: the expired root is never read.
  EXPECT_TRUE(BlockIsApp(block));
  EXPECT_TRUE(Json("gc alarms").empty());
  EXPECT_EQ(Json("gc sweep --older-than 0s")["deleted"], json::array({"root-0"}));
  EXPECT_TRUE(BlockIsApp(block));
  json stats = Json("stats " + agent.SocketArg());
  EXPECT_EQ(stats["attachments"][0]["read_errors"], 0) << stats;
}

// An agent that never looked (a long --follow-interval) and never read
// during the cycle: its first read after the sweep misses the chunk, finds
// the migration and reads the copy; the reader sees no error.
TEST_F(GcTest, AnAttachmentThatSleptThroughTheCycleFindsItsImageOnTheNextRead) {
  PushRulesImage("app");
  AgentProcess agent(dir_ / "agent", env_, "--follow-interval 3600");
  std::string block = StartAndAttachApp(agent);
  ASSERT_FALSE(block.empty()) << agent.log();
  Lode("gc rotate");
  Lode("gc migrate");
  ASSERT_EQ(ExpireWhenOldEnough([&] { return Json("gc expire"); }, "root-0"), "");
  EXPECT_EQ(Json("gc sweep --older-than 0s")["deleted"], json::array({"root-0"}));
  EXPECT_TRUE(BlockIsApp(block)) << agent.log();
  json ps = Json("ps " + agent.SocketArg());
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0]["ref"].get<std::string>().rfind("root-1/", 0), 0u) << ps;
  EXPECT_EQ(ps[0]["read_errors"], 0) << ps;
  EXPECT_NE(agent.log().find("migrated from root-0/"), std::string::npos) << agent.log();
}

// A damaged image (a chunk fails verification) is not copied and keeps its
// root; the others move, and migrate reports the damage with exit status 1.
TEST_F(GcTest, ADamagedImageStaysBehindAndTheOthersMove) {
  PushRandomImage("big", 2);
  std::vector<fs::path> big_chunks;
  for (const auto& e : fs::directory_iterator(dir_ / "store/root-0/chunks"))
    big_chunks.push_back(e.path());
  PushRulesImage("app");
  fs::path damaged = big_chunks.front();
  RunCommand("printf 'X' | dd of=" + ShellQuote(damaged) +
             " bs=1 seek=100 conv=notrunc status=none");
  ASSERT_TRUE(ExportsAs("app", "app"));  // shares nothing with "big"
  Lode("gc rotate");
  CommandResult migrated = Lode("gc migrate");
  EXPECT_EQ(migrated.exit_code, 1) << migrated.output;
  EXPECT_NE(migrated.output.find("moved 2 tags"), std::string::npos)
      << migrated.output;  // app's two
  EXPECT_NE(migrated.output.find("not migrated: acme/big"), std::string::npos) << migrated.output;
  std::string tags = Lode("ls --tenant acme").output;
  EXPECT_NE(tags.find("app\troot-1/"), std::string::npos) << tags;
  EXPECT_NE(tags.find("big\troot-0/"), std::string::npos) << tags;
  EXPECT_TRUE(ExportsAs("app", "app"));
  EXPECT_EQ(Json("gc expire")["still_tagged"], json::array({"root-0"}));  // at any age
}

TEST_F(GcTest, SweepRemovesLeftoversOfCrashedUploadsOnceOld) {
  PushRulesImage("app");
  std::string chunks = dir_ / "store/root-0/chunks";
  std::string old_tmp = chunks + "/" + std::string(64, 'a') + ".tmp.Ab12Cd";
  std::string new_tmp = chunks + "/" + std::string(64, 'b') + ".tmp.Ef34Gh";
  RunCommand("echo x > " + ShellQuote(old_tmp) + " && touch -d '2 hours ago' " +
             ShellQuote(old_tmp) + " && echo y > " + ShellQuote(new_tmp));
  EXPECT_EQ(Json("gc sweep --older-than 0s")["abandoned_puts_removed"], 1);
  EXPECT_FALSE(fs::exists(old_tmp));
  EXPECT_TRUE(fs::exists(new_tmp));  // may be a live upload
  EXPECT_EQ(Json("gc sweep --older-than 0s --abandoned-after 0s")["abandoned_puts_removed"], 1);
  EXPECT_EQ(Files("store", true), 0u);
  EXPECT_TRUE(ExportsAs("app", "app"));
}

TEST_F(GcTest, SeveralRootsCanBeActive) {
  PushRulesImage("app");
  EXPECT_EQ(Json("gc rotate --keep-active")["root"], "root-1");
  EXPECT_EQ(Root("root-0")["state"], "active");
  EXPECT_EQ(Root("root-1")["state"], "active");
  std::string image = ShellQuote(dir_ / "app");
  json newest = Json("push " + image + " --tenant acme --tag newest");
  EXPECT_EQ(newest["ref"].get<std::string>().rfind("root-1/", 0), 0u);  // the newest by default
  json chosen = Json("push " + image + " --tenant acme --tag chosen --root root-0");
  EXPECT_EQ(chosen["ref"].get<std::string>().rfind("root-0/", 0), 0u);
  EXPECT_EQ(chosen["chunks_new"], 0);                  // same root, same salt: deduplicated
  EXPECT_TRUE(Json("gc migrate")["tags_moved"] == 0);  // nothing is retired
  EXPECT_TRUE(ExportsAs("newest", "app"));
  EXPECT_TRUE(ExportsAs("chosen", "app"));
}

TEST_F(GcTest, BadRequestsFailWithOneLine) {
  PushRulesImage("app");
  auto one_line = [&](const std::string& args, const std::string& needle) {
    CommandResult r = Lode(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << args << ": " << r.output;
  };
  one_line("gc sweep --older-than soon", "bad duration");
  one_line("gc alarms --clear ../x", "bad root");
  one_line("gc alarms --root ../x", "bad root");
  Lode("gc rotate");
  one_line("push " + ShellQuote(dir_ / "app") + " --tenant acme --root root-0", "not active");
  one_line("push " + ShellQuote(dir_ / "app") + " --tenant acme --root root-9", "no record");
  one_line("untag nope --tenant acme", "no image tagged");
  one_line("gc migrate --root root-0", "not active");
}

}  // namespace
}  // namespace lode::testing
