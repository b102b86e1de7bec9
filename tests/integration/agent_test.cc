// The worker agent on generated images. Setup: a key directory, a dir://
// store holding the rule-coverage image and an image of its base layer only
// (they share chunks), `lode flatten` outputs of both as oracles, and a
// `lode agent` child process per test. Block files are read through the
// kernel (cat, dd, pread, loop mounts), judged against the flattened bytes,
// e2fsck and the store's files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "agent/api.h"
#include "testing/agent_process.h"
#include "testing/layer_builder.h"
#include "testing/memcached_fleet.h"
#include "testing/mount.h"
#include "testing/process.h"
#include "testing/rules_image.h"
#include "testing/scratch_dir.h"
#include "testing/tree_compare.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kChunk = 512 << 10;

std::string ReadAt(const std::string& path, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(offset));
  ::close(fd);
  return got == static_cast<ssize_t>(n) ? out : "";
}

// sha256 of every file under `dir`, by relative path.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  CommandResult r = RunCommand("cd " + ShellQuote(dir) +
                               " && find . -type f -print0 | sort -z | xargs -0r sha256sum");
  std::istringstream in(r.output);
  for (std::string sum, path; in >> sum >> path;) out[path] = sum;
  return out;
}

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-agent");
    env_ = "LODE_KEYS=" + ShellQuote(*dir_ / "keys") +
           " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store") + " ";
    Lode("key create acme");
    Lode("key create globex");
    ImageSpec spec = BuildRulesImage({.wide_entries = 2000, .sparse_size = 64 << 20});
    WriteOciLayout(*dir_ / "rules", spec, TestCompression::kGzip);
    ImageSpec base_only = spec;
    base_only.layers.resize(1);
    WriteOciLayout(*dir_ / "base", base_only, TestCompression::kGzip);
    for (const char* image : {"rules", "base"}) {
      std::string oci = *dir_ / image;
      Lode("push " + ShellQuote(oci) + " --tenant acme --tag " + image);
      Lode("flatten " + ShellQuote(oci) + " -o " + ShellQuote(oci + ".ext4"));
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    for (const char* image : {"rules", "base"}) {
      ASSERT_TRUE(fs::exists(*dir_ / (std::string(image) + ".ext4"))) << "setup failed";
    }
    fs::remove_all(*dir_ / "agent");
    fs::create_directories(*dir_ / "agent");
    // These tests pin down the tiers: no prefetch (profile_test covers it).
    agent_ = std::make_unique<AgentProcess>(*dir_ / "agent", env_, "--prefetch off");
    ASSERT_TRUE(agent_->Start()) << agent_->log();
  }
  void TearDown() override {
    for (const json& a : Ps())
      Lode("detach " + a["id"].get<std::string>() + " " + agent_->SocketArg());
    agent_.reset();
  }

  static CommandResult Lode(const std::string& args) {
    CommandResult r = RunCommand(env_ + LodeBinary() + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r;
  }
  static CommandResult LodeMayFail(const std::string& args) {
    return RunCommand(env_ + LodeBinary() + " " + args);
  }
  std::string Attach(const std::string& tag, const std::string& flags = "") {
    CommandResult r = Lode("attach " + tag + " --tenant acme " + flags + " " + agent_->SocketArg());
    std::string path = r.output.substr(0, r.output.find('\n'));
    EXPECT_TRUE(fs::exists(path)) << r.output;
    return path;
  }
  json Ps() {
    CommandResult r = LodeMayFail("ps --json " + agent_->SocketArg());
    return r.exit_code == 0 ? json::parse(r.output) : json::array();
  }
  json Stats() { return json::parse(Lode("stats --json " + agent_->SocketArg()).output); }
  static json Tier(const json& stats, const std::string& name) {
    for (const json& t : stats["tiers"]) {
      if (t["tier"] == name) return t;
    }
    return json::object();
  }
  // Chunk indices of an image that are not all zeros (so not holes).
  static std::vector<uint64_t> DataChunks(const std::string& image) {
    std::vector<uint64_t> out;
    uint64_t size = fs::file_size(image);
    for (uint64_t i = 0; i * kChunk < size; ++i) {
      std::string bytes = ReadAt(image, i * kChunk, std::min(kChunk, size - i * kChunk));
      if (bytes.find_first_not_of('\0') != std::string::npos) out.push_back(i);
    }
    return out;
  }
  static size_t StoredChunks() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(*dir_ / "store/root-0/chunks"))
      n += e.is_regular_file();
    return n;
  }

  static ScratchDir* dir_;
  static std::string env_;
  std::unique_ptr<AgentProcess> agent_;
};

ScratchDir* AgentTest::dir_ = nullptr;
std::string AgentTest::env_;

TEST_F(AgentTest, BlockFileEqualsFlattenPassesFsckAndMountsTheSameTree) {
  std::string block = Attach("rules");
  std::string flat = *dir_ / "rules.ext4";
  EXPECT_EQ(RunCommand("cmp " + ShellQuote(block) + " " + ShellQuote(flat)).exit_code, 0);
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(block));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  ScratchDir mnt("lode-agent-mnt");
  {
    LoopMount through_agent(block, mnt / "agent");
    LoopMount flattened(flat, mnt / "flat");
    ASSERT_TRUE(through_agent.ok()) << through_agent.error();
    ASSERT_TRUE(flattened.ok()) << flattened.error();
    std::vector<std::string> diffs = CompareTrees(mnt / "agent", mnt / "flat");
    EXPECT_TRUE(diffs.empty()) << diffs.front();
  }
  json ps = Ps();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_FALSE(ps[0]["writable"].get<bool>());
  // Holes are never fetched: fetches are at most the non-zero chunks.
  EXPECT_LE(ps[0]["chunks_fetched"].get<size_t>(), DataChunks(flat).size());
  Lode("detach " + ps[0]["id"].get<std::string>() + " " + agent_->SocketArg());
  EXPECT_TRUE(Ps().empty());
  EXPECT_FALSE(fs::exists(block));
}

TEST_F(AgentTest, TwoImagesWithACommonBaseFetchEachSharedChunkOnce) {
  std::string rules = Attach("rules");
  std::string base = Attach("base");
  EXPECT_EQ(
      RunCommand("cat " + ShellQuote(rules) + " " + ShellQuote(base) + " >/dev/null").exit_code, 0);
  json stats = Stats();
  // The store holds exactly the union of both images' chunks: each was
  // fetched once, shared ones included.
  EXPECT_EQ(Tier(stats, "origin")["hits"].get<size_t>(), StoredChunks());
  uint64_t reused = 0;
  for (const json& a : stats["attachments"])
    reused += a["memory_hits"].get<uint64_t>() + a["l1_hits"].get<uint64_t>();
  EXPECT_GT(reused, 0u);
}

TEST_F(AgentTest, RegionsSayWhatAnAttachmentLoadedOfEachRange) {
  std::string block = Attach("rules");
  json ps = Ps();
  ASSERT_EQ(ps.size(), 1u);
  std::vector<uint64_t> data = DataChunks(*dir_ / "rules.ext4");
  ASSERT_GE(data.size(), 3u);
  uint64_t read = data.back(), untouched = data.front();
  // One page of one chunk, past the page cache and its readahead.
  ASSERT_EQ(RunCommand("dd if=" + ShellQuote(block) +
                       " of=/dev/null bs=4096 count=1 iflag=direct "
                       "skip=" +
                       std::to_string(read * kChunk / 4096))
                .exit_code,
            0);
  uint64_t size = fs::file_size(block);
  auto range = [](const char* name, uint64_t offset, uint64_t bytes) {
    return json{{"name", name}, {"offset", offset}, {"bytes", bytes}};
  };
  Result<json> reply = agent::CallAgent(
      agent_->socket(),
      {{"op", "regions"},
       {"id", ps[0]["id"]},
       {"regions", json::array({range("read", read * kChunk, kChunk),
                                range("untouched", untouched * kChunk, kChunk),
                                range("all", 0, size), range("beyond", size, kChunk)})}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  const json& r = (*reply)["regions"];
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0]["name"], "read");
  EXPECT_EQ(r[0]["chunks_stored"], 1);
  EXPECT_EQ(r[0]["chunks_read"], 1);
  EXPECT_EQ(r[0]["chunks_loaded"], 1);
  EXPECT_EQ(r[0]["chunks_prefetched"], 0);  // the agent runs with --prefetch off
  EXPECT_EQ(r[0]["chunks_fetched"], 1);     // from the origin: the agent's cache was empty
  EXPECT_GT(r[0]["fetched_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(r[1]["chunks_stored"], 1);
  EXPECT_EQ(r[1]["chunks_loaded"], 0);
  EXPECT_EQ(r[2]["chunks_stored"],
            ps[0]["chunks"].get<uint64_t>() - ps[0]["holes"].get<uint64_t>());
  EXPECT_GE(r[2]["chunks_loaded"].get<uint64_t>(), 1u);
  EXPECT_EQ(r[3]["chunks_stored"], 0);
  // Read again: the chunk now comes from the agent's memory, not fetched twice.
  ASSERT_EQ(RunCommand("dd if=" + ShellQuote(block) +
                       " of=/dev/null bs=4096 count=1 iflag=direct "
                       "skip=" +
                       std::to_string(read * kChunk / 4096 + 1))
                .exit_code,
            0);
  EXPECT_EQ(Stats()["attachments"][0]["chunks_fetched"], 1);
  Result<json> unknown = agent::CallAgent(agent_->socket(), {{"op", "regions"}, {"id", "nope"}});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
}

TEST_F(AgentTest, OverlayWritesReadBackSurviveRemountAndLeaveChunksAlone) {
  std::string block = Attach("rules", "--rw");
  ASSERT_EQ(RunCommand("cat " + ShellQuote(block) + " >/dev/null").exit_code, 0);
  auto store_before = Snapshot(*dir_ / "store");
  auto l1_before = Snapshot(agent_->cache() + "/chunks");
  ASSERT_FALSE(l1_before.empty());
  ScratchDir mnt("lode-agent-rw");
  std::string big(3 << 20, 'x');
  {
    LoopMount rw(block, mnt / "m", /*writable=*/true);
    ASSERT_TRUE(rw.ok()) << rw.error();
    std::string m = mnt / "m";
    std::ofstream(m + "/new-file") << "written through the overlay\n";
    std::ofstream(m + "/big") << big;
    std::ofstream(m + "/data/overwritten", std::ios::trunc) << "replaced";
    CommandResult ops = RunCommand(
        "cd " + ShellQuote(m) +
        " && ls data | head -3 && truncate -s 10 big && rm -rf deep && "
        "python3 -c \"import os; f=os.open('new-file', os.O_RDWR); os.fsync(f)\" && sync");
    EXPECT_EQ(ops.exit_code, 0) << ops.output;
  }
  {
    LoopMount again(block, mnt / "m", /*writable=*/true);
    ASSERT_TRUE(again.ok()) << again.error();
    std::string m = mnt / "m";
    std::ifstream in(m + "/new-file");
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "written through the overlay");
    EXPECT_EQ(fs::file_size(m + "/big"), 10u);
    EXPECT_FALSE(fs::exists(m + "/deep"));
    std::ifstream o(m + "/data/overwritten");
    std::string replaced((std::istreambuf_iterator<char>(o)), {});
    EXPECT_EQ(replaced, "replaced");
  }
  CommandResult fsck = RunCommand("e2fsck -fn " + ShellQuote(block));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  EXPECT_EQ(Snapshot(*dir_ / "store"), store_before);
  auto l1_after = Snapshot(agent_->cache() + "/chunks");
  for (const auto& [path, sum] : l1_before) EXPECT_EQ(l1_after[path], sum) << path;
  json ps = Ps();
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_GT(ps[0]["overlay_pages"].get<uint64_t>(), 0u);
  std::string id = ps[0]["id"];
  Lode("detach " + id + " " + agent_->SocketArg());
  EXPECT_FALSE(fs::exists(agent_->cache() + "/overlays/" + id));
}

TEST_F(AgentTest, DetachKeepsTheOverlayOnlyWhenAskedAndRefusesWhileMounted) {
  std::string block = Attach("rules", "--rw");
  std::string id = fs::path(block).filename();
  ScratchDir mnt("lode-agent-keep");
  {
    LoopMount rw(block, mnt / "m", /*writable=*/true);
    ASSERT_TRUE(rw.ok()) << rw.error();
    CommandResult busy = LodeMayFail("detach " + id + " " + agent_->SocketArg());
    EXPECT_NE(busy.exit_code, 0);
    EXPECT_NE(busy.output.find("in use"), std::string::npos) << busy.output;
    std::ofstream(mnt / "m/kept") << "x";
  }
  CommandResult kept = Lode("detach " + id + " --keep " + agent_->SocketArg());
  EXPECT_NE(kept.output.find("overlay kept"), std::string::npos) << kept.output;
  EXPECT_TRUE(fs::exists(agent_->cache() + "/overlays/" + id));
  EXPECT_TRUE(fs::exists(agent_->cache() + "/overlays/" + id + ".pages"));
}

TEST_F(AgentTest, UnavailableStoreFailsReadsQuicklyAndTheyWorkOnceItIsBack) {
  std::string block = Attach("rules");
  std::string flat = *dir_ / "rules.ext4";
  std::vector<uint64_t> chunks = DataChunks(flat);
  ASSERT_GE(chunks.size(), 2u);
  uint64_t offset = chunks.back() * kChunk;
  fs::rename(*dir_ / "store", *dir_ / "store-away");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadAt(block, offset, 4096), "");  // EIO
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(Ps().empty());  // the agent is still up
  fs::rename(*dir_ / "store-away", *dir_ / "store");
  EXPECT_EQ(ReadAt(block, offset, 4096), ReadAt(flat, offset, 4096));
  EXPECT_GT(Stats()["attachments"][0]["read_errors"].get<uint64_t>(), 0u);
}

TEST_F(AgentTest, CorruptChunksInTheStoreOrL1AreNeverServed) {
  std::string flat = *dir_ / "rules.ext4";
  std::string block = Attach("rules");
  ASSERT_EQ(RunCommand("cat " + ShellQuote(block) + " >/dev/null").exit_code, 0);
  // A fresh agent (empty memory) over a corrupted L1 refetches from the store.
  agent_->Stop();
  size_t corrupted = 0;
  for (const auto& e : fs::directory_iterator(agent_->cache() + "/chunks")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(7);
    f.put('\x5a');
    ++corrupted;
  }
  ASSERT_GT(corrupted, 0u);
  ASSERT_TRUE(agent_->Start()) << agent_->log();
  block = Attach("rules");
  EXPECT_EQ(RunCommand("cmp " + ShellQuote(block) + " " + ShellQuote(flat)).exit_code, 0);
  EXPECT_GT(Tier(Stats(), "l1")["errors"].get<uint64_t>(), 0u);

  // Corrupt every stored chunk: a chunk not yet in memory or L1 fails (EIO).
  agent_->Stop();
  fs::remove_all(agent_->cache());
  ASSERT_TRUE(agent_->Start()) << agent_->log();
  block = Attach("rules");
  fs::copy(*dir_ / "store", *dir_ / "store-good", fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(*dir_ / "store/root-0/chunks")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    char c = static_cast<char>(f.get());
    f.seekp(3);
    f.put(static_cast<char>(c ^ 1));
  }
  uint64_t offset = DataChunks(flat).back() * kChunk;
  EXPECT_EQ(ReadAt(block, offset, 4096), "");
  fs::remove_all(*dir_ / "store");
  fs::rename(*dir_ / "store-good", *dir_ / "store");
  EXPECT_EQ(Tier(Stats(), "l1")["bytes"].get<uint64_t>(), 0u);  // nothing bad was cached
  EXPECT_EQ(ReadAt(block, offset, 4096), ReadAt(flat, offset, 4096));
}

// A 5-server memcached L2 (4+1): a second agent with an empty L1 reads
// everything from L2, even with one server killed.
TEST_F(AgentTest, L2FleetServesChunksAnotherAgentFetchedEvenWithANodeDown) {
  MemcachedFleet fleet(5);
  ASSERT_TRUE(fleet.ok());
  std::string l2 = "--l2 " + fleet.Url() + " --l2-code 4+1 --prefetch off";
  agent_ = std::make_unique<AgentProcess>(*dir_ / "agent/l2-first", env_, l2);
  fs::create_directories(*dir_ / "agent/l2-first");
  ASSERT_TRUE(agent_->Start()) << agent_->log();
  std::string block = Attach("rules");
  ASSERT_EQ(RunCommand("cat " + ShellQuote(block) + " >/dev/null").exit_code, 0);
  uint64_t chunks = Tier(Stats(), "origin")["hits"];
  ASSERT_GT(chunks, 0u);
  EXPECT_EQ(Tier(Stats(), "l2")["code"], "4+1");
  // Fills run in the background: wait until every stripe is stored.
  for (int i = 0; i < 300 && Tier(Stats(), "l2")["stripes_stored"].get<uint64_t>() < 5 * chunks;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Tier(Stats(), "l2")["stripes_stored"].get<uint64_t>(), 5 * chunks);
  for (int round = 0; round < 2; ++round) {
    if (round == 1) fleet.Kill(2);
    std::string dir = *dir_ / ("agent/l2-" + std::to_string(round));
    fs::create_directories(dir);
    agent_ = std::make_unique<AgentProcess>(dir, env_, l2);
    ASSERT_TRUE(agent_->Start()) << agent_->log();
    block = Attach("rules");
    EXPECT_EQ(
        RunCommand("cmp " + ShellQuote(block) + " " + ShellQuote(*dir_ / "rules.ext4")).exit_code,
        0);
    json stats = Stats();
    EXPECT_EQ(Tier(stats, "origin")["hits"].get<uint64_t>(), 0u) << "round " << round;
    EXPECT_EQ(Tier(stats, "l2")["hits"].get<uint64_t>(), chunks) << "round " << round;
    EXPECT_EQ(stats["attachments"][0]["chunks_fetched"].get<uint64_t>(), chunks);
    Lode("detach " + fs::path(block).filename().string() + " " + agent_->SocketArg());
  }
}

TEST_F(AgentTest, SigtermDetachesAndUnmounts) {
  Attach("rules", "--rw");
  agent_->Stop();
  std::ifstream mounts("/proc/mounts");
  std::string all((std::istreambuf_iterator<char>(mounts)), {});
  EXPECT_EQ(all.find(agent_->mountpoint()), std::string::npos);
  EXPECT_TRUE(fs::is_empty(agent_->cache() + "/overlays"));
  EXPECT_NE(agent_->log().find("stopping on SIGTERM"), std::string::npos) << agent_->log();
}

TEST_F(AgentTest, KilledAgentIsTakenOverWithItsAttachmentsAndCache) {
  std::string block = Attach("rules");
  ASSERT_EQ(RunCommand("cat " + ShellQuote(block) + " >/dev/null").exit_code, 0);
  uint64_t entries = Stats()["l1"]["entries"];
  agent_->Kill();
  ASSERT_TRUE(agent_->Start()) << agent_->log();
  // The same block file, served by the successor from the L1 it inherited.
  json stats = Stats();
  EXPECT_EQ(stats["l1"]["entries"].get<uint64_t>(), entries);
  ASSERT_EQ(stats["attachments"].size(), 1u);
  // Out of the page cache, so the reads below reach the successor.
  RunCommand("dd if=" + ShellQuote(block) + " iflag=nocache count=0 status=none");
  EXPECT_EQ(
      RunCommand("cmp " + ShellQuote(block) + " " + ShellQuote(*dir_ / "rules.ext4")).exit_code, 0);
  stats = Stats();
  EXPECT_EQ(Tier(stats, "origin")["hits"].get<uint64_t>(), 0u);
  EXPECT_GT(Tier(stats, "l1")["hits"].get<uint64_t>(), 0u);
  std::string second = Attach("base");
  EXPECT_EQ(
      RunCommand("cmp " + ShellQuote(second) + " " + ShellQuote(*dir_ / "base.ext4")).exit_code, 0);
}

TEST_F(AgentTest, EightReadersOverTwoAttachmentsSeeTheRightBytes) {
  std::string files[2] = {Attach("rules"), Attach("base")};
  std::string flats[2] = {*dir_ / "rules.ext4", *dir_ / "base.ext4"};
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      const std::string& file = files[t % 2];
      const std::string& flat = flats[t % 2];
      uint64_t size = fs::file_size(flat);
      for (int i = 0; i < 150; ++i) {
        size_t n = 1 + rng() % (1 << 20);
        uint64_t offset = rng() % (size - n);
        if (ReadAt(file, offset, n) != ReadAt(flat, offset, n)) ++mismatches;
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(AgentTest, BadRequestsGetOneLine) {
  auto one_line = [](const CommandResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  };
  one_line(LodeMayFail("attach nosuchtag --tenant acme " + agent_->SocketArg()), "no image tagged");
  std::string ref = Ps().empty() ? "" : "";
  CommandResult push = Lode("push " + ShellQuote(*dir_ / "base") + " --tenant acme --json");
  ref = json::parse(push.output)["ref"];
  one_line(LodeMayFail("attach " + ref + " --tenant globex " + agent_->SocketArg()), "manifest");
  one_line(LodeMayFail("detach 999-9 " + agent_->SocketArg()), "no attachment");
  one_line(LodeMayFail("ps --socket " + ShellQuote(*dir_ / "nothing.sock")), "no agent");
  one_line(LodeMayFail("attach " + ref + " --tenant 'Bad Name' " + agent_->SocketArg()), "tenant");
}

// A client that sends its request a byte a second holds the socket for at
// most the 5 s a request may take in all, not for as long as it drips.
TEST_F(AgentTest, ASlowClientCannotStallTheSocket) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", agent_->socket().c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::thread drip([fd] {
    for (int i = 0; i < 12; ++i) {
      if (::send(fd, "{", 1, MSG_NOSIGNAL) != 1) return;  // the agent gave up on it
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto start = std::chrono::steady_clock::now();
  Lode("ps " + agent_->SocketArg());
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  drip.join();
  ::close(fd);
  EXPECT_LT(waited, 8.0) << "lode ps waited for the dripping client";
}

}  // namespace
}  // namespace lode::testing
