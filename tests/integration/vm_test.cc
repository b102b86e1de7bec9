// `lode run --vm` on the real Debian image: a QEMU microVM (TCG where the
// host has no hardware virtualization) whose disk is the agent's block
// file. Oracles: the command's stdout, stderr and exit status, hashes of
// files read in the guest against the flattened image mounted on the host,
// the agent's fetch counters, the store's and L1's files, and what is left
// behind (QEMU processes, mounts, temporary directories).
//
// Every boot costs seconds under TCG: the suite pushes one image and each
// test boots once or twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/debian_image.h"
#include "testing/files.h"
#include "testing/layer_builder.h"
#include "testing/mount.h"
#include "testing/ports.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"
#include "testing/vm_runs.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Run in the guest: what the image's config applied, hashes of files, a
// few MiB of binary output, a line from stdin, stderr, and an exit status.
constexpr const char* kCheckScript = R"(import hashlib, os, sys
print(os.environ.get("LODE_GREETING"), os.getcwd(), "%d:%d" % (os.getuid(), os.getgid()))
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        print(path, hashlib.sha256(f.read()).hexdigest())
sys.stdout.flush()
sys.stdout.buffer.write(bytes(range(256)) * 16384)
sys.stdout.buffer.flush()
print("stdin:", sys.stdin.readline().strip())
print("to stderr", file=sys.stderr)
sys.exit(3)
)";

// Run in the guest with the network: the resolver it was given, a file
// fetched from the host (argv[1]), then one request served on port 8000.
constexpr const char* kNetworkScript = R"(import http.server, sys, urllib.request
print(open("/etc/resolv.conf").read().strip())
print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"from the guest"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("0.0.0.0", 8000), Answer)
print("listening", flush=True)
server.handle_request()
)";

const char* const kHashedFiles[] = {"/usr/bin/python3.11", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                    "/opt/app/main.py"};

class VmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-vm");
    env_ = VmSuiteEnv(dir_->path());
    std::string rootfs = CachedDebianRootfs();
    if (rootfs.empty()) return;
    ImageSpec spec = BuildDebianImage(rootfs);
    spec.layers.push_back(LayerBuilder()
                              .File("opt/app/check.py", kCheckScript)
                              .File("opt/app/net.py", kNetworkScript)
                              .Finish());
    spec.env.push_back("LODE_GREETING=hello-from-the-image");
    spec.working_dir = "/opt/app";
    spec.user = "nobody";
    PublishTestImage(env_, dir_->path(), spec);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(fs::exists(*dir_ / "deb.ext4")) << "setup failed"; }
  void TearDown() override { EXPECT_EQ(RunLeftovers(*dir_ / "tmp"), ""); }

  // `lode run --vm` with a private agent over the cache `cache`; stdout in
  // the result, stderr in err.txt, timings in timings.json.
  CommandResult RunVm(const std::string& cache, const std::string& args,
                      const std::string& stdin_text = "") {
    // In a subshell: RunCommand's own 2>&1 would win over ours.
    return RunCommand("(printf %s " + ShellQuote(stdin_text) + " | " + env_ + LodeBinary() +
                      " run deb --tenant acme --vm --cache " + ShellQuote(*dir_ / cache) +
                      " --timings-json " + ShellQuote(*dir_ / "timings.json") + " " + args + " 2>" +
                      ShellQuote(*dir_ / "err.txt") + ")");
  }
  std::string Stderr() { return ReadAll(*dir_ / "err.txt"); }
  json Timings() { return json::parse(ReadAll(*dir_ / "timings.json"), nullptr, false); }

  // Every file under `dir` with its size and modification time.
  static std::map<std::string, std::string> Listing(const std::string& dir) {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      out[e.path()] = std::to_string(e.file_size()) + "@" +
                      std::to_string(e.last_write_time().time_since_epoch().count());
    }
    return out;
  }

  static ScratchDir* dir_;
  static std::string env_;
};

ScratchDir* VmTest::dir_ = nullptr;
std::string VmTest::env_;

TEST_F(VmTest, RunsPythonLazilyWithTheImagesConfigAndPassesEverythingThrough) {
  std::string files;
  for (const char* f : kHashedFiles) files += std::string(" ") + f;
  CommandResult cold = RunVm("cache", "--prefetch off -- python3 check.py" + files, "line one\n");
  EXPECT_EQ(cold.exit_code, 3) << Stderr();
  std::string expected = "hello-from-the-image /opt/app 65534:65534\n";
  {
    LoopMount flattened(*dir_ / "deb.ext4", *dir_ / "mnt");
    ASSERT_TRUE(flattened.ok()) << flattened.error();
    for (const char* f : kHashedFiles) {
      expected +=
          std::string(f) + " " + Sha256Hex(ReadAll(*dir_ / ("mnt" + std::string(f)))) + "\n";
    }
  }
  std::string binary;
  for (int i = 0; i < 16384; ++i) {
    for (int b = 0; b < 256; ++b) binary.push_back(static_cast<char>(b));
  }
  expected += binary + "stdin: line one\n";
  EXPECT_EQ(cold.output.size(), expected.size());
  EXPECT_TRUE(cold.output == expected) << "stdout differs from what the guest wrote";
  EXPECT_NE(Stderr().find("to stderr\n"), std::string::npos) << Stderr();

  json t = Timings();
  ASSERT_TRUE(t.is_object()) << Stderr();
  EXPECT_EQ(t["exit_code"], 3);
  EXPECT_EQ(t["runtime"].get<std::string>().rfind("vm-", 0), 0u);
  double fraction = t["fetched_bytes"].get<double>() / t["image_bytes"].get<double>();
  std::printf("cold VM start: %d of %d chunks fetched, %.1f%% of the image's bytes\n",
              t["chunks_fetched"].get<int>(), t["chunks_total"].get<int>(), 100 * fraction);
  EXPECT_GT(t["chunks_fetched"].get<int>(), 0);
  EXPECT_LT(fraction, 0.15) << t.dump();
  for (const char* phase :
       {"vmm_seconds", "boot_seconds", "process_start_seconds", "exit_seconds", "total_seconds"}) {
    EXPECT_GT(t[phase].get<double>(), 0.0) << phase;
  }

  // The same start again reads everything from L1.
  CommandResult warm = RunVm("cache", "--prefetch off -- python3 check.py" + files, "x\n");
  EXPECT_EQ(warm.exit_code, 3) << Stderr();
  EXPECT_EQ(Timings()["chunks_fetched"], 0) << Timings().dump();
}

TEST_F(VmTest, WritableRootKeepsWritesInTheGuest) {
  // Says whether an earlier run's write survived, writes, reads back.
  std::string write =
      "--rw -- python3 -c \"import os; p = '/var/tmp/lode-rw'; print(os.path.exists(p)); "
      "open(p, 'w').write('written'); print(open(p).read())\"";
  CommandResult first = RunVm("cache-rw", write);
  EXPECT_EQ(first.exit_code, 0) << Stderr();
  EXPECT_EQ(first.output, "False\nwritten\n");
  // The same run again reads only what the first fetched (and recorded in
  // the image's profile): the store and L1 must come out as they were.
  std::map<std::string, std::string> store = Listing(*dir_ / "store");
  std::map<std::string, std::string> l1 = Listing(*dir_ / "cache-rw/chunks");
  CommandResult again = RunVm("cache-rw", write);
  EXPECT_EQ(again.exit_code, 0) << Stderr();
  EXPECT_EQ(again.output, "False\nwritten\n") << "the first run's write survived it";
  EXPECT_TRUE(Listing(*dir_ / "store") == store) << "the store changed";
  EXPECT_TRUE(Listing(*dir_ / "cache-rw/chunks") == l1) << "L1 changed";
  // Without --rw the root is read-only.
  CommandResult ro = RunVm("cache-rw", "-- python3 -c \"open('/var/tmp/x', 'w')\"");
  EXPECT_EQ(ro.exit_code, 1);
  EXPECT_NE(Stderr().find("Read-only file system"), std::string::npos) << Stderr();
}

// The guest reaches the host (QEMU's user-mode NAT: the host is the
// gateway, 10.0.2.2) and a guest port published with -p answers on the
// host; with --network none the guest has loopback only.
TEST_F(VmTest, NetworkReachesTheHostAndPublishesAGuestPort) {
  int ports = FreeLoopbackPorts(2);
  ScratchDir web("lode-web");
  WriteAll(web / "hello.txt", "from the host");
  pid_t server =
      StartCommand("exec python3 -m http.server " + std::to_string(ports) +
                   " --bind 127.0.0.1 --directory " + ShellQuote(web.path()) + " >/dev/null 2>&1");
  for (int i = 0; i < 100 && !LoopbackAccepts(ports); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string url = "http://10.0.2.2:" + std::to_string(ports) + "/hello.txt";
  pid_t vm =
      StartCommand(env_ + "exec " + LodeBinary() + " run deb --tenant acme --vm --cache " +
                   ShellQuote(*dir_ / "cache-net") + " -p 127.0.0.1:" + std::to_string(ports + 1) +
                   ":8000 -- python3 net.py " + url + " </dev/null >" +
                   ShellQuote(*dir_ / "net.txt") + " 2>" + ShellQuote(*dir_ / "err.txt"));
  for (int i = 0; i < 1200 && ReadAll(*dir_ / "net.txt").find("listening") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CommandResult published = RunCommand(
      "python3 -c \"import urllib.request; print(urllib.request.urlopen("
      "'http://127.0.0.1:" +
      std::to_string(ports + 1) + "/', timeout=30).read().decode(), end='')\"");
  int status = 0;
  ::waitpid(vm, &status, 0);
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << Stderr();
  EXPECT_EQ(ReadAll(*dir_ / "net.txt"), "nameserver 10.0.2.3\nfrom the host\nlistening\n")
      << Stderr();
  EXPECT_EQ(published.output, "from the guest");

  std::string probe =
      "import socket, urllib.request\n"
      "s = socket.create_server(('127.0.0.1', 0)); c = socket.create_connection(s.getsockname())\n"
      "print('loopback up')\n"
      "try:\n"
      "    urllib.request.urlopen('" +
      url +
      "', timeout=10)\n"
      "except OSError as e:\n"
      "    print('no network:', e)\n";
  CommandResult none = RunVm("cache-net", "--network none -- python3 -c " + ShellQuote(probe));
  EXPECT_EQ(none.exit_code, 0) << Stderr();
  EXPECT_NE(none.output.find("loopback up\nno network:"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("unreachable"), std::string::npos) << none.output;
  // Publishing needs a network and a VM.
  EXPECT_NE(RunVm("cache-net", "--network none -p 8080:80 -- true").exit_code, 0);
  EXPECT_NE(Stderr().find("not with --network none"), std::string::npos) << Stderr();
}

TEST_F(VmTest, MissingCommandIsOneLineAndExit127) {
  CommandResult r = RunVm("cache-missing", "-- /no/such/command");
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.output, "");
  std::string err = Stderr();
  // The accelerator notice (TCG here) may come first; then exactly one line.
  if (err.rfind("lode run: ", 0) == 0 && err.find("using TCG") != std::string::npos) {
    err = err.substr(err.find('\n') + 1);
  }
  EXPECT_EQ(err, "lode: /no/such/command: No such file or directory\n");
}

// Before anything is attached: one line, exit 1, for a missing QEMU, a
// file that is no kernel, and KVM asked for where it cannot run a guest.
TEST_F(VmTest, MissingPartsFailFastWithOneLine) {
  auto one_line = [](const CommandResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  };
  std::string run = LodeBinary() + " run deb --tenant acme --vm ";
  one_line(RunCommand("PATH=/nonexistent " + env_ + run + "-- true"),
           "qemu-system-x86_64 not found");
  one_line(RunCommand(env_ + run + "--kernel /etc/hostname -- true"),
           "/etc/hostname is not a Linux kernel image");
  CommandResult kvm = RunCommand(env_ + run + "--accel kvm -- true");
  if (kvm.exit_code != 0) one_line(kvm, "--accel kvm: ");  // no usable KVM here (PVM, none)
}

TEST_F(VmTest, StoreFailingDuringBootStopsTheVmWithAnError) {
  // Attach reads the manifest; the boot then finds the chunks gone.
  fs::copy(*dir_ / "store", *dir_ / "store-doomed", fs::copy_options::recursive);
  std::string doomed = "LODE_STORE=" + ShellQuote("dir://" + dir_->path() + "/store-doomed");
  pid_t pid = StartCommand(env_ + doomed + " " + LodeBinary() +
                           " run deb --tenant acme --vm --prefetch off --cache " +
                           ShellQuote(*dir_ / "cache-doomed") +
                           " -- true </dev/null >/dev/null 2>" + ShellQuote(*dir_ / "err.txt"));
  // Once QEMU runs the agent has attached; remove the chunks under it.
  AwaitQemuUnder(dir_->path());
  std::vector<fs::path> chunk_dirs;
  for (const auto& e : fs::recursive_directory_iterator(*dir_ / "store-doomed")) {
    if (e.is_directory() && e.path().filename() == "chunks") chunk_dirs.push_back(e.path());
  }
  for (const fs::path& d : chunk_dirs) fs::remove_all(d);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 1) << Stderr();
  EXPECT_NE(Stderr().find("the VM was stopped: reading the image failed"), std::string::npos)
      << Stderr();
}

TEST_F(VmTest, SigtermStopsTheVmAndCleansUp) {
  pid_t pid = StartCommand(
      env_ + "exec " + LodeBinary() + " run deb --tenant acme --vm --cache " +
      ShellQuote(*dir_ / "cache-term") +
      " -- python3 -c \"import time; print('ready', flush=True); time.sleep(600)\" </dev/null >" +
      ShellQuote(*dir_ / "out.txt") + " 2>/dev/null");
  for (int i = 0; i < 600 && ReadAll(*dir_ / "out.txt") != "ready\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ReadAll(*dir_ / "out.txt"), "ready\n");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
}

}  // namespace
}  // namespace lode::testing
