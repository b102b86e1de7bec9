// `lode snapshot create` and `lode run --vm --snapshot` on the real Debian
// image (TCG here): a Python service that imports many modules and builds
// state is snapshotted once for the suite; every test restores it. Oracles:
// the service's answers (a digest of its state printed before the
// snapshot, a counter of requests served, random bytes, the guest kernel's
// log read in the guest), the agent's fetch counters, the store's objects,
// and what is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "testing/debian_image.h"
#include "testing/files.h"
#include "testing/gc_expiry.h"
#include "testing/layer_builder.h"
#include "testing/ports.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/vm_runs.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Prints "ready DIGEST" once initialized (and has written DIGEST to a file
// on the root file system: the snapshot is taken with --rw), then answers a
// line per request: "log K L" (the kernel's VM-fork reseeds and lode's
// reseeds in the kernel log), "sum S" (touches all of the state), "warm
// CONTENT" (appends "+" to that file first), else "answer REQUEST DIGEST
// SERVED RANDOM".
constexpr const char* kService = R"(import asyncio, decimal, email.parser, hashlib, http.server
import json, os, sqlite3, subprocess, sys, xml.etree.ElementTree
state = {i: i * i for i in range(200000)}
digest = hashlib.sha256(repr(sorted(state.items())).encode()).hexdigest()[:16]
served = 0
with open("/opt/app/warm.txt", "w") as f:
    f.write(digest)
print("ready", digest, flush=True)
for line in sys.stdin:
    request = line.strip()
    served += 1
    if request == "log":
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        lines = out.splitlines()
        print("log", sum("crng reseeded due to virtual machine fork" in l for l in lines),
              sum("lode-init: restored from a snapshot" in l for l in lines), flush=True)
    elif request == "sum":
        print("sum", sum(state.values()), flush=True)
    elif request == "warm":
        with open("/opt/app/warm.txt", "a+") as f:
            f.write("+")
            f.seek(0)
            print("warm", f.read(), flush=True)
    else:
        print("answer", request, digest, served, os.urandom(16).hex(), flush=True)
)";

class SnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-snap");
    env_ = VmSuiteEnv(dir_->path());
    std::string rootfs = CachedDebianRootfs();
    if (rootfs.empty()) return;
    ImageSpec spec = BuildDebianImage(rootfs);
    spec.layers.push_back(LayerBuilder().File("opt/app/service.py", kService).Finish());
    spec.working_dir = "/opt/app";
    PublishTestImage(env_, dir_->path(), spec);
    image_objects_ = new std::set<std::string>(StoreObjects());
    CommandResult created =
        RunCommand("(" + env_ + LodeBinary() +
                   " snapshot create deb --tenant acme --rw --ready-marker ready --tag svc --json "
                   "--cache " +
                   ShellQuote(*dir_ / "cache-create") + " -- python3 service.py 2>" +
                   ShellQuote(*dir_ / "create-err.txt") + ")");
    created_ = new json(json::parse(created.output, nullptr, false));
    std::string err = ReadAll(*dir_ / "create-err.txt");
    size_t ready = err.find("ready ");
    if (ready != std::string::npos) digest_ = err.substr(ready + 6, 16);
  }
  static void TearDownTestSuite() {
    delete created_;
    delete image_objects_;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(created_->is_object() && created_->contains("ref"))
        << "snapshot create failed: " << ReadAll(*dir_ / "create-err.txt");
    ASSERT_EQ(digest_.size(), 16u) << ReadAll(*dir_ / "create-err.txt");
  }
  void TearDown() override { EXPECT_EQ(RunLeftovers(*dir_ / "tmp"), ""); }

  static std::string Lode(const std::string& args) { return env_ + LodeBinary() + " " + args; }

  // A restore of `snapshot` with a private agent over the cache `cache`;
  // stdout in the result, stderr in err-`cache`.txt, timings in
  // timings-`cache`.json.
  static std::string RestoreCommand(const std::string& cache, const std::string& requests,
                                    const std::string& extra = "",
                                    const std::string& snapshot = "svc") {
    return "printf %s " + ShellQuote(requests) + " | " +
           Lode("run --vm --snapshot " + snapshot + " --tenant acme --cache " +
                ShellQuote(*dir_ / cache) + " --timings-json " +
                ShellQuote(*dir_ / ("timings-" + cache + ".json")) + " " + extra) +
           " 2>" + ShellQuote(*dir_ / ("err-" + cache + ".txt"));
  }
  static CommandResult Restore(const std::string& cache, const std::string& requests,
                               const std::string& extra = "") {
    std::string command = RestoreCommand(cache, requests, extra);
    return RunCommand("(" + command + ")");
  }
  static std::string Err(const std::string& cache) {
    return ReadAll(*dir_ / ("err-" + cache + ".txt"));
  }
  static json Timings(const std::string& cache) {
    return json::parse(ReadAll(*dir_ / ("timings-" + cache + ".json")), nullptr, false);
  }

  // Object names under the store's chunk directories.
  static std::set<std::string> StoreObjects() {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(*dir_ / "store")) {
      if (e.is_regular_file() && e.path().parent_path().filename() == "chunks") {
        names.insert(e.path().filename());
      }
    }
    return names;
  }
  static json Inspect(const std::string& ref) {
    return json::parse(
        RunCommand(Lode("inspect " + ref + " --tenant acme --json --chunks 2>/dev/null")).output,
        nullptr, false);
  }

  static ScratchDir* dir_;
  static std::string env_;
  static std::string digest_;  // of the service's state, printed before the snapshot
  static json* created_;       // snapshot create --json
  static std::set<std::string>* image_objects_;
};

ScratchDir* SnapshotTest::dir_ = nullptr;
std::string SnapshotTest::env_;
std::string SnapshotTest::digest_;
json* SnapshotTest::created_ = nullptr;
std::set<std::string>* SnapshotTest::image_objects_ = nullptr;

// The lines of `text`.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The last word of an answer: its random bytes.
std::string RandomOf(const std::string& answer) { return answer.substr(answer.rfind(' ') + 1); }

// 0 + 1 + 4 + ... + 199999^2: the state's sum, computed here.
constexpr long long kStateSum = 199999LL * 200000 * 399999 / 6;

TEST_F(SnapshotTest, RestoredServiceAnswersWithItsStateSoonerThanABootLoadingLittle) {
  CommandResult r = Restore("cache-first", "one\nsum\ntwo\nwarm\n");
  ASSERT_EQ(r.exit_code, 0) << Err("cache-first");
  std::vector<std::string> lines = Lines(r.output);
  ASSERT_EQ(lines.size(), 4u) << r.output;
  // The state built before the snapshot, and the counter going on from it.
  EXPECT_TRUE(StartsWith(lines[0], "answer one " + digest_ + " 1 ")) << lines[0];
  EXPECT_EQ(lines[1], "sum " + std::to_string(kStateSum));
  EXPECT_TRUE(StartsWith(lines[2], "answer two " + digest_ + " 3 ")) << lines[2];
  // The file written before the snapshot (--rw: in guest memory), and
  // writable after the restore.
  EXPECT_EQ(lines[3], "warm " + digest_ + "+");

  json t = Timings("cache-first");
  ASSERT_TRUE(t.is_object()) << Err("cache-first");
  double ready = (*created_)["ready_seconds"];
  double restore = t["total_seconds"];
  std::printf("boot + init until ready: %.2f s; restore until the third answer: %.2f s\n", ready,
              restore);
  EXPECT_LT(restore, ready) << t.dump();
  uint64_t fetched = t["chunks_fetched"], total = t["chunks_total"];
  uint64_t stored = total - t["chunks_holes"].get<uint64_t>();
  std::printf("restore fetched %llu of %llu chunks (%llu stored), %.1f MiB\n",
              static_cast<unsigned long long>(fetched), static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(stored), t["fetched_bytes"].get<double>() / 1048576);
  EXPECT_GT(fetched, 0u);
  EXPECT_LT(fetched * 2, stored) << "a restore should load a small part of the snapshot";
  // Per part: some of the guest's memory, all of its device state.
  const json& regions = t["regions"];
  uint64_t by_part = 0;
  for (const char* part : {"memory", "state", "disk"}) {
    const json& p = regions[part];
    ASSERT_TRUE(p.is_object()) << t.dump();
    EXPECT_LE(p["chunks_loaded"].get<uint64_t>(), p["chunks_stored"].get<uint64_t>()) << part;
    by_part += p["chunks_stored"].get<uint64_t>();
    std::printf("%s: loaded %llu of %llu stored chunks\n", part,
                static_cast<unsigned long long>(p["chunks_loaded"].get<uint64_t>()),
                static_cast<unsigned long long>(p["chunks_stored"].get<uint64_t>()));
  }
  EXPECT_EQ(by_part, stored);  // the parts cover the file
  EXPECT_GT(regions["memory"]["chunks_loaded"].get<uint64_t>(), 0u);
  // Only the chunks of the pages the guest touches: not the 2-4 MiB the
  // host reads around a fault in memory QEMU advised to be huge pages
  // (86% of the chunks, against ~63%, when it did).
  EXPECT_LT(regions["memory"]["chunks_loaded"].get<uint64_t>() * 4,
            regions["memory"]["chunks_stored"].get<uint64_t>() * 3);
  EXPECT_EQ(regions["state"]["chunks_loaded"], regions["state"]["chunks_stored"]);
  // What QEMU read before the guest ran is part of it.
  const json& before = t["regions_before_resume"];
  ASSERT_TRUE(before.is_object()) << t.dump();
  EXPECT_LE(before["memory"]["chunks_loaded"].get<uint64_t>(),
            regions["memory"]["chunks_loaded"].get<uint64_t>());
  EXPECT_EQ(before["state"]["chunks_loaded"], before["state"]["chunks_stored"]);  // copied for QEMU
  std::printf("before the guest resumed: memory %llu, disk %llu chunks\n",
              static_cast<unsigned long long>(before["memory"]["chunks_loaded"].get<uint64_t>()),
              static_cast<unsigned long long>(before["disk"]["chunks_loaded"].get<uint64_t>()));
  // The guest reads little of its disk: what it needed is in its page cache.
  EXPECT_LT(regions["disk"]["chunks_loaded"].get<uint64_t>() * 10,
            regions["disk"]["chunks_stored"].get<uint64_t>());
}

TEST_F(SnapshotTest, ConcurrentRestoresBothWorkAndReseedApart) {
  RunCommand("(" + RestoreCommand("cache-a", "x\nlog\nwarm\n") + " >" +
             ShellQuote(*dir_ / "out-a") + " & " + RestoreCommand("cache-b", "x\nlog\nwarm\n") +
             " >" + ShellQuote(*dir_ / "out-b") + " & wait)");
  std::vector<std::string> a = Lines(ReadAll(*dir_ / "out-a"));
  std::vector<std::string> b = Lines(ReadAll(*dir_ / "out-b"));
  ASSERT_EQ(a.size(), 3u) << Err("cache-a");
  ASSERT_EQ(b.size(), 3u) << Err("cache-b");
  // The same state and counter, different random bytes.
  EXPECT_TRUE(StartsWith(a[0], "answer x " + digest_ + " 1 ")) << a[0];
  EXPECT_TRUE(StartsWith(b[0], "answer x " + digest_ + " 1 ")) << b[0];
  EXPECT_NE(RandomOf(a[0]), RandomOf(b[0])) << "two clones produced the same random bytes";
  // Each guest's kernel log has the kernel's own reseed for the new VM
  // generation ID once, and lode's reseed with host entropy once; lode
  // reported both.
  EXPECT_EQ(a[1], "log 1 1");
  EXPECT_EQ(b[1], "log 1 1");
  // Each clone writes its own copy of the file (not each other's, not the
  // snapshot's, which the earlier restore wrote too).
  EXPECT_EQ(a[2], "warm " + digest_ + "+");
  EXPECT_EQ(b[2], "warm " + digest_ + "+");
  for (const char* cache : {"cache-a", "cache-b"}) {
    std::string reseed = Timings(cache).value("reseed", "");
    EXPECT_NE(reseed.find("crng reseeded due to virtual machine fork"), std::string::npos)
        << reseed;
    EXPECT_NE(reseed.find("kernel RNG reseeded with fresh entropy"), std::string::npos) << reseed;
  }
}

TEST_F(SnapshotTest, SecondRestorePrefetchesTheRecordedWorkingSet) {
  // The first restore of the suite recorded a profile (saved at detach).
  ASSERT_EQ(Restore("cache-profile-1", "p\n").exit_code, 0) << Err("cache-profile-1");
  CommandResult r = Restore("cache-profile-2", "p\n");
  ASSERT_EQ(r.exit_code, 0) << Err("cache-profile-2");
  json t = Timings("cache-profile-2");
  EXPECT_GT(t["prefetch_chunks"].get<int>(), 0) << t.dump();
  EXPECT_GT(t["prefetched"].get<int>(), 0) << t.dump();
  CommandResult off = Restore("cache-profile-3", "p\n", "--prefetch off");
  ASSERT_EQ(off.exit_code, 0) << Err("cache-profile-3");
  EXPECT_EQ(Timings("cache-profile-3")["prefetch_chunks"], 0);
}

TEST_F(SnapshotTest, TamperedMemoryChunksStopTheRestoreBeforeTheGuestRuns) {
  // The memory chunks a restore reads on demand (its L1 holds them),
  // flipped in the store: a restore with a fresh cache must fetch them and
  // fail verification before the guest runs on any of them.
  ASSERT_EQ(Restore("cache-tamper-probe", "t\n", "--prefetch off").exit_code, 0)
      << Err("cache-tamper-probe");
  json snapshot = Inspect((*created_)["ref"]);
  ASSERT_TRUE(snapshot.is_object());
  uint64_t memory_chunks = snapshot["run_config"]["layout"]["memory_bytes"].get<uint64_t>() /
                           snapshot["chunk_size"].get<uint64_t>();
  fs::path chunks = fs::path(*dir_ / "store") / snapshot["root"].get<std::string>() / "chunks";
  std::map<fs::path, std::string> originals;
  for (uint64_t i = 0; i < memory_chunks; ++i) {
    std::string name = snapshot["chunk_names"][i];
    if (!name.empty() && !image_objects_->count(name) &&
        fs::exists(fs::path(*dir_ / "cache-tamper-probe/chunks") / name)) {
      originals[chunks / name] = ReadAll(chunks / name);
    }
  }
  ASSERT_FALSE(originals.empty());
  for (const auto& [object, bytes] : originals) {
    std::string damaged = bytes;
    damaged[damaged.size() / 2] ^= 1;
    WriteAll(object, damaged);
  }
  CommandResult r = Restore("cache-tampered", "t\n", "--prefetch off");
  for (const auto& [object, bytes] : originals) WriteAll(object, bytes);
  std::printf("%zu memory chunks tampered: %s", originals.size(), Err("cache-tampered").c_str());
  EXPECT_EQ(r.exit_code, 1) << Err("cache-tampered");
  EXPECT_EQ(r.output, "") << "the guest ran on damaged memory";
  EXPECT_NE(Err("cache-tampered").find("reading the snapshot's memory failed"), std::string::npos)
      << Err("cache-tampered");
}

TEST_F(SnapshotTest, StoreOutageDuringALazyRestoreEndsTheVmWithAnError) {
  // The store's chunks go away once QEMU runs: the attach and the device
  // state were read, the memory was not.
  fs::copy(*dir_ / "store", *dir_ / "store-doomed", fs::copy_options::recursive);
  // The doomed store's variable comes after env_'s, so it wins.
  pid_t pid =
      StartCommand("printf 'before\\nsum\\n' | " + env_ +
                   " LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store-doomed") + " " +
                   LodeBinary() + " run --vm --snapshot svc --tenant acme --prefetch off --cache " +
                   ShellQuote(*dir_ / "cache-doomed") + " >" + ShellQuote(*dir_ / "out-doomed") +
                   " 2>" + ShellQuote(*dir_ / "err-doomed.txt"));
  AwaitQemuUnder(dir_->path());
  for (const auto& e : fs::directory_iterator(*dir_ / "store-doomed")) {
    fs::remove_all(e.path() / "chunks");
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(ReadAll(*dir_ / "out-doomed"), "") << "the guest answered without its memory";
  EXPECT_EQ(WEXITSTATUS(status), 1) << ReadAll(*dir_ / "err-doomed.txt");
  EXPECT_NE(ReadAll(*dir_ / "err-doomed.txt").find("the VM was stopped: reading the"),
            std::string::npos)
      << ReadAll(*dir_ / "err-doomed.txt");
}

TEST_F(SnapshotTest, AnotherDeviceSetIsRefusedWithOneLine) {
  CommandResult cpus = Restore("cache-devices", "", "--vm-cpus 2");
  EXPECT_EQ(cpus.exit_code, 1);
  EXPECT_NE(Err("cache-devices")
                .find("the snapshot's VM has 1 vCPUs: a restore cannot change its memory, vCPUs "
                      "or network"),
            std::string::npos)
      << Err("cache-devices");
  CommandResult network = Restore("cache-devices", "", "--network none");
  EXPECT_EQ(network.exit_code, 1);
  EXPECT_NE(Err("cache-devices").find("the snapshot's VM has a network"), std::string::npos)
      << Err("cache-devices");
  // Another QEMU (its version is part of the device signature).
  fs::create_directories(*dir_ / "other-qemu");
  WriteAll(*dir_ / "other-qemu/qemu-system-x86_64",
           "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'QEMU emulator version 99.0.0'; exit 0; }\n"
           "exec /usr/bin/qemu-system-x86_64 \"$@\"\n");
  fs::permissions(*dir_ / "other-qemu/qemu-system-x86_64", fs::perms::owner_all);
  CommandResult qemu = RunCommand("(export PATH=" + ShellQuote(*dir_ / "other-qemu") + ":$PATH; " +
                                  RestoreCommand("cache-devices", "") + ")");
  EXPECT_EQ(qemu.exit_code, 1);
  std::string err = Err("cache-devices");
  EXPECT_NE(err.find("the snapshot was taken on another VM ('7."), std::string::npos) << err;
  EXPECT_NE(err.find("where this one has '99.0.0'"), std::string::npos) << err;
}

// A restored VM has a working network at once: new connections work;
// one open when the snapshot was taken does not survive it (QEMU's NAT
// keeps no connection across a snapshot) and fails cleanly.
TEST_F(SnapshotTest, RestoresHaveANetworkButNotTheConnectionsOfTheSnapshot) {
  int port = FreeLoopbackPorts();
  pid_t echo =
      StartCommand("exec python3 -c " +
                   ShellQuote("import socketserver\n"
                              "class Echo(socketserver.StreamRequestHandler):\n"
                              "    def handle(self):\n"
                              "        for line in self.rfile:\n"
                              "            self.wfile.write(b'echo ' + line)\n"
                              "socketserver.ThreadingTCPServer.allow_reuse_address = True\n"
                              "socketserver.ThreadingTCPServer(('127.0.0.1', " +
                              std::to_string(port) + "), Echo).serve_forever()\n") +
                   " >/dev/null 2>&1");
  for (int i = 0; i < 100 && !LoopbackAccepts(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string client =
      "import socket, sys\n"
      "def talk(s, what):\n"
      "    s.sendall(what.encode() + b'\\n')\n"
      "    return s.makefile().readline().strip()\n"
      "def connect():\n"
      "    return socket.create_connection(('10.0.2.2', " +
      std::to_string(port) +
      "), timeout=20)\n"
      "held = connect()\n"
      "print('ready', talk(held, 'before'), flush=True)\n"
      "sys.stdin.readline()\n"
      "try:\n"
      "    print('held:', talk(held, 'after') or 'closed', flush=True)\n"
      "except OSError as e:\n"
      "    print('held: failed', type(e).__name__, flush=True)\n"
      "print('new:', talk(connect(), 'after'), flush=True)\n";
  CommandResult created = RunCommand(
      Lode("snapshot create deb --tenant acme --ready-marker ready --tag held --cache " +
           ShellQuote(*dir_ / "cache-held") + " -- python3 -c " + ShellQuote(client) + " 2>&1"));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_NE(created.output.find("ready echo before"), std::string::npos) << created.output;
  CommandResult restored = RunCommand("(" + RestoreCommand("cache-held", "go\n", "", "held") + ")");
  ::kill(echo, SIGTERM);
  ::waitpid(echo, nullptr, 0);
  EXPECT_EQ(restored.exit_code, 0) << Err("cache-held");
  std::vector<std::string> lines = Lines(restored.output);
  ASSERT_EQ(lines.size(), 2u) << restored.output << Err("cache-held");
  EXPECT_TRUE(lines[0] == "held: closed" || StartsWith(lines[0], "held: failed")) << lines[0];
  EXPECT_EQ(lines[1], "new: echo after");
}

TEST_F(SnapshotTest, SnapshotsAndImagesAreNotMistakenForEachOther) {
  CommandResult container = RunCommand(Lode("run svc --tenant acme -- true"));
  EXPECT_EQ(container.exit_code, 1);
  EXPECT_NE(container.output.find("svc is a snapshot: restore it with lode run --vm --snapshot"),
            std::string::npos)
      << container.output;
  CommandResult not_snapshot = RunCommand("(" +
                                          Lode("run --vm --snapshot deb --tenant acme --cache " +
                                               ShellQuote(*dir_ / "cache-mistaken")) +
                                          " </dev/null)");
  EXPECT_EQ(not_snapshot.exit_code, 1);
  EXPECT_NE(not_snapshot.output.find("deb is an image, not a snapshot"), std::string::npos)
      << not_snapshot.output;
  CommandResult of_snapshot =
      RunCommand(Lode("snapshot create svc --tenant acme --ready-after 1 -- true"));
  EXPECT_EQ(of_snapshot.exit_code, 1);
  EXPECT_NE(of_snapshot.output.find("svc is a snapshot: snapshots are taken of images"),
            std::string::npos)
      << of_snapshot.output;
  CommandResult neither = RunCommand(Lode("snapshot create deb --tenant acme -- true"));
  EXPECT_EQ(neither.exit_code, 2) << neither.output;
}

TEST_F(SnapshotTest, CommandEndingBeforeItIsReadyPushesNothing) {
  std::set<std::string> before = StoreObjects();
  CommandResult r = RunCommand(Lode(
      "snapshot create deb --tenant acme --ready-marker never -- python3 -c \"print('bye')\""));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("lode: unavailable: the command exited (status 0) before it was ready"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(StoreObjects() == before) << "a failed snapshot stored chunks";
}

TEST_F(SnapshotTest, InterruptedCreateEndsTheVmAndPushesNothing) {
  std::set<std::string> before = StoreObjects();
  pid_t pid = StartCommand(env_ + "exec " + LodeBinary() +
                           " snapshot create deb --tenant acme --ready-marker never --cache " +
                           ShellQuote(*dir_ / "cache-interrupted") + " -- sleep 600 2>" +
                           ShellQuote(*dir_ / "err-interrupted.txt"));
  EXPECT_TRUE(AwaitQemuUnder(dir_->path()));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string err = ReadAll(*dir_ / "err-interrupted.txt");
  EXPECT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << err;
  EXPECT_NE(err.find("stopped by SIGINT before the command was ready: nothing pushed"),
            std::string::npos)
      << err;
  EXPECT_FALSE(QemuRunsUnder(dir_->path()));
  EXPECT_TRUE(StoreObjects() == before) << "an interrupted snapshot stored chunks";
}

// SIGKILL leaves lode no time to clean up: its QEMU and private agent must
// still end with it rather than run on with nobody relaying for them.
TEST_F(SnapshotTest, AKilledRestoreTakesItsVmAndAgentAlong) {
  int stdin_pipe[2];  // kept open: the restored service waits for input
  ASSERT_EQ(::pipe2(stdin_pipe, O_CLOEXEC), 0);
  pid_t pid = StartCommand(env_ + "exec " + LodeBinary() +
                               " run --vm --snapshot svc --tenant acme --cache " +
                               ShellQuote(*dir_ / "cache-killed") + " >/dev/null 2>/dev/null",
                           stdin_pipe[0]);
  ::close(stdin_pipe[0]);
  EXPECT_TRUE(AwaitQemuUnder(dir_->path()));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  std::string left = RunLeftovers(*dir_ / "tmp");
  for (int i = 0; i < 100 && left.find("processes:") != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = RunLeftovers(*dir_ / "tmp");
  }
  ::close(stdin_pipe[1]);
  EXPECT_EQ(left.find("processes:"), std::string::npos) << left;
  EXPECT_EQ(left.find("mount:"), std::string::npos) << left;
  if (left.find("processes:") != std::string::npos) {
    RunCommand("pkill -KILL -f " + ShellQuote(*dir_ / "tmp"));
  }
  // Only the run directory stays: nothing was left to remove it.
  for (const auto& e : fs::directory_iterator(*dir_ / "tmp")) fs::remove_all(e.path());
}

TEST_F(SnapshotTest, GcMigratesAndExpiresSnapshotsLikeImages) {
  // Last in the suite: the store's roots change.
  std::string old_root = (*created_)["ref"].get<std::string>().substr(0, 6);
  ASSERT_EQ(RunCommand(Lode("gc rotate")).exit_code, 0);
  CommandResult migrated = RunCommand(Lode("gc migrate"));
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  auto expire = [&] {
    CommandResult r = RunCommand(Lode("gc expire --json"));
    return r.exit_code == 0 ? json::parse(r.output) : json(r.output);
  };
  ASSERT_EQ(ExpireWhenOldEnough(expire, old_root), "");
  CommandResult swept = RunCommand(Lode("gc sweep --older-than 0s --json"));
  ASSERT_EQ(swept.exit_code, 0) << swept.output;
  EXPECT_NE(swept.output.find(old_root), std::string::npos) << swept.output;
  EXPECT_FALSE(fs::exists(fs::path(*dir_ / "store") / old_root / "chunks"));
  CommandResult r = Restore("cache-after-gc", "g\n");
  ASSERT_EQ(r.exit_code, 0) << Err("cache-after-gc");
  EXPECT_TRUE(StartsWith(r.output, "answer g " + digest_ + " 1 ")) << r.output;
}

}  // namespace
}  // namespace lode::testing
