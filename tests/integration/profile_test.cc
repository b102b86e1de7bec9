// Startup profiles and prefetch on the real Debian image (bookworm +
// python3).
//
// Test setup: the image is pushed once per test under a tag of its own (a
// new manifest, so no other test's profile applies). Every start is a `lode
// run` against a `lode agent` child with an empty cache directory of its own
// (an empty L1 and memory tier), so the only state carried between starts
// is what the store holds. Oracles: the command's output, the attachment's
// counters in `--timings-json`, the agent's stats and log, `lode inspect`,
// and the profile and manifest read back through the catalog library.
#include "catalog/profile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "catalog/catalog.h"
#include "testing/agent_process.h"
#include "testing/debian_image.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "util/sha256.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-profile");
    std::string rootfs = CachedDebianRootfs();
    if (rootfs.empty()) return;
    WriteOciLayout(*dir_ / "oci", BuildDebianImage(rootfs), TestCompression::kGzip);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(*dir_ / "oci/index.json")) << "setup failed";
    work_ = std::make_unique<ScratchDir>("lode-profile-case");
    env_ = "LODE_KEYS=" + ShellQuote(*work_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + *work_ / "store") + " ";
    ASSERT_EQ(Lode("key create acme").exit_code, 0);
    CommandResult push = Lode("push " + ShellQuote(*dir_ / "oci") + " --tenant acme --tag deb");
    ASSERT_EQ(push.exit_code, 0) << push.output;
  }

  CommandResult Lode(const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " " + args);
  }
  // One start on a fresh agent with an empty cache; returns its timings.
  json Start(const std::string& command, const std::string& agent_args = "",
             std::string* agent_log = nullptr) {
    std::string name = "agent-" + std::to_string(starts_++);
    fs::create_directories(*work_ / name);
    AgentProcess agent(*work_ / name, env_, agent_args);
    EXPECT_TRUE(agent.Start()) << agent.log();
    std::string timings = *work_ / (name + ".json");
    CommandResult r = Lode("run deb --tenant acme --runtime chroot " + agent.SocketArg() +
                           " --timings-json " + ShellQuote(timings) + " -- " + command);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    last_output_ = r.output;
    CommandResult stats = Lode("stats --json " + agent.SocketArg());
    last_stats_ = json::parse(stats.output, nullptr, false);
    agent.Stop();
    if (agent_log) *agent_log = agent.log();
    std::ifstream in(timings);
    return json::parse(in, nullptr, false);
  }
  json Inspect() {
    CommandResult r = Lode("inspect deb --tenant acme --json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return json::parse(r.output, nullptr, false);
  }
  // The profile object of the image in the dir:// store.
  std::string ProfilePath() {
    json j = Inspect();
    std::string ref = j["ref"];
    return *work_ /
           ("store/" + ref.substr(0, ref.find('/')) + "/profiles/" + ref.substr(ref.find('/') + 1));
  }

  static ScratchDir* dir_;
  std::unique_ptr<ScratchDir> work_;
  std::string env_;
  std::string last_output_;
  json last_stats_;
  int starts_ = 0;
};

ScratchDir* ProfileTest::dir_ = nullptr;

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const char kPrint[] = "python3 -c 'print(42)'";
const char kImport[] = "python3 -c 'import json, email.parser; print(42)'";

TEST_F(ProfileTest, RecordedOnTheFirstStartAndPrefetchedOnTheNext) {
  EXPECT_TRUE(Inspect()["profile_chunks"].is_null());
  json first = Start(kPrint);
  EXPECT_EQ(last_output_, "42\n");
  EXPECT_EQ(first["prefetch_chunks"], 0);  // no profile: nothing changes
  uint64_t demand = first["origin_fetches"];
  ASSERT_GT(demand, 10u);
  json profile = Inspect()["profile_chunks"];
  ASSERT_TRUE(profile.is_number()) << Inspect().dump();
  EXPECT_GE(profile.get<uint64_t>(), demand);

  json second = Start(kPrint);
  EXPECT_EQ(last_output_, "42\n");
  EXPECT_EQ(second["prefetch_chunks"], profile);
  // Prefetching runs beside the start at a lower priority: when the start
  // ends, up to one chunk per prefetch thread (16) may still be on its way.
  EXPECT_LE(second["prefetched"].get<uint64_t>(), profile.get<uint64_t>());
  EXPECT_GE(second["prefetched"].get<uint64_t>() + 16, profile.get<uint64_t>());
  EXPECT_EQ(second["prefetch_errors"], 0);
  // Demand reads now find their chunks prefetched, or join the prefetch.
  EXPECT_LE(second["origin_fetches"].get<uint64_t>(), demand / 4) << second.dump();
  // The same start again adds nothing: the profile is unchanged.
  std::string before = ReadFileBytes(ProfilePath());
  Start(kPrint);
  EXPECT_EQ(ReadFileBytes(ProfilePath()), before);

  // Another start reads more: the profile is the union.
  Start(kImport);
  EXPECT_GT(Inspect()["profile_chunks"].get<uint64_t>(), profile.get<uint64_t>());

  json off = Start(kPrint, "--prefetch off");
  EXPECT_EQ(off["prefetch_chunks"], 0);
}

// A start's profile becomes a start set for lode sim: `lode inspect
// --sim-image` prints the image as a line of images.jsonl, and a
// generated trace builds its functions on it.
TEST_F(ProfileTest, AStartsProfileIsAStartSetForTheSimulator) {
  CommandResult none = Lode("inspect deb --tenant acme --sim-image");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.output.find("no readable startup profile"), std::string::npos) << none.output;
  Start(kPrint);
  CommandResult line = Lode("inspect deb --tenant acme --sim-image");
  ASSERT_EQ(line.exit_code, 0) << line.output;
  json image = json::parse(line.output, nullptr, false);
  ASSERT_TRUE(image.is_object()) << line.output;
  json inspected = Inspect();
  EXPECT_EQ(image["name"], "deb");
  EXPECT_EQ(image["chunks"].get<uint64_t>(),
            inspected["chunks"].get<uint64_t>() - inspected["holes"].get<uint64_t>());
  // The profile's chunks less its holes, each a distinct id.
  std::set<uint64_t> ids(image["start_set"].begin(), image["start_set"].end());
  EXPECT_EQ(ids.size(), image["start_set"].size());
  EXPECT_GT(ids.size(), 10u);
  EXPECT_LE(ids.size(), inspected["profile_chunks"].get<uint64_t>());

  std::ofstream(*work_ / "images.jsonl") << line.output;
  std::ofstream(*work_ / "sim.json") << R"({"trace": {"hours": 1, "starts_per_second": 1,
      "functions": 50, "base_images": "images.jsonl"}, "workers": 5,
      "l2": {"nodes": 5, "node_bytes": "1GiB"}})";
  CommandResult sim = Lode("sim " + ShellQuote(*work_ / "sim.json") + " --json");
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  json result = json::parse(sim.output, nullptr, false);
  EXPECT_GT(result["tiers"]["l1"].get<double>(), 0.5) << sim.output;  // 50 functions on 1 base
  EXPECT_EQ(result["config"]["trace"]["base_images"], "images.jsonl");
}

TEST_F(ProfileTest, ProfilesAreSealedAndATamperedOneIsIgnored) {
  Start(kPrint);
  std::string path = ProfilePath();
  std::string sealed = ReadFileBytes(path);
  ASSERT_FALSE(sealed.empty());
  EXPECT_EQ(sealed.find("LODEPRF1"), std::string::npos);  // nothing readable without the key

  // Only the tenant's key opens it.
  auto store = store::OpenStore("dir://" + *work_ / "store");
  auto keys = keys::OpenLocalKeyService(*work_ / "keys");
  ASSERT_TRUE(store.ok() && keys.ok());
  ASSERT_TRUE((*keys)->CreateTenant("other").ok());
  store::ImageRef ref = *catalog::ResolveRef(**store, "acme", "deb");
  manifest::Manifest m = *catalog::OpenManifest(**store, ref, **keys, "acme");
  auto mine = catalog::GetProfile(**store, ref, m.chunks.size(), **keys, "acme");
  ASSERT_TRUE(mine.ok() && *mine) << mine.status().ToString();
  auto theirs = catalog::GetProfile(**store, ref, m.chunks.size(), **keys, "other");
  EXPECT_EQ(theirs.status().code(), StatusCode::kCorruption);

  // A flipped byte: the start works without prefetch, the agent says why,
  // and the recording replaces the bad profile.
  sealed[sealed.size() / 2] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << sealed;
  std::string log;
  json t = Start(kPrint, "", &log);
  EXPECT_EQ(last_output_, "42\n");
  EXPECT_EQ(t["prefetch_chunks"], 0);
  EXPECT_NE(log.find("no prefetch"), std::string::npos) << log;
  EXPECT_NE(log.find("replacing an unreadable profile"), std::string::npos) << log;
  EXPECT_TRUE(Inspect()["profile_chunks"].is_number());
}

TEST_F(ProfileTest, PrefetchStaysWithinAdmissionAndSurvivesMissingChunks) {
  auto store = store::OpenStore("dir://" + *work_ / "store");
  auto keys = keys::OpenLocalKeyService(*work_ / "keys");
  ASSERT_TRUE(store.ok() && keys.ok());
  store::ImageRef ref = *catalog::ResolveRef(**store, "acme", "deb");
  manifest::Manifest m = *catalog::OpenManifest(**store, ref, **keys, "acme");
  auto profile = [&] {
    auto p = catalog::GetProfile(**store, ref, m.chunks.size(), **keys, "acme");
    return p.ok() && *p ? (*p)->chunks : std::vector<uint32_t>();
  };
  Start(kPrint);
  std::vector<uint32_t> print_chunks = profile();
  Start(kImport);
  std::vector<uint32_t> all_chunks = profile();

  // Take away the chunks only the import reads: the prefetch fails on
  // them, the start does not need them.
  std::set<std::string> print_names;
  for (uint32_t c : print_chunks) print_names.insert(ToHex(m.chunks[c].name));
  std::set<std::string> moved;
  std::string chunks_dir = *work_ / ("store/" + ref.root + "/chunks");
  for (uint32_t c : all_chunks) {
    std::string name = ToHex(m.chunks[c].name);
    if (print_names.count(name) || moved.count(name)) continue;
    fs::rename(chunks_dir + "/" + name, *work_ / name);
    moved.insert(name);
  }
  ASSERT_FALSE(moved.empty());
  json t = Start(kPrint, "--max-origin-fetches 2 --prefetch-threads 8");
  for (const std::string& name : moved) fs::rename(*work_ / name, chunks_dir + "/" + name);
  EXPECT_EQ(last_output_, "42\n");
  EXPECT_GE(t["prefetch_errors"].get<uint64_t>(), moved.size()) << t.dump();
  uint64_t peak = 0;
  for (const json& tier : last_stats_["tiers"]) {
    if (tier["tier"] == "origin") peak = tier["admission"]["peak_in_flight"];
  }
  EXPECT_GE(peak, 1u);
  EXPECT_LE(peak, 2u);
}

}  // namespace
}  // namespace lode::testing
