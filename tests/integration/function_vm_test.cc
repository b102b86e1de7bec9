// Functions whose sandboxes are microVMs (`lode function create --vm`):
// the same shell bootstrap runtime and AWS's Node.js runtime interface
// client as in containers, in QEMU VMs (TCG here) served by `lode serve`.
// Oracles: the Invoke API's answers, what the runtime saw (environment,
// sandbox id, invocation count), what it could reach on the network, and
// the host's REPORT records.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/files.h"
#include "testing/function_host.h"
#include "testing/function_images.h"
#include "testing/ports.h"
#include "testing/process.h"
#include "testing/scratch_dir.h"

namespace lode::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json Json(const HttpAnswer& a) {
  json j = json::parse(a.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << a.status << " " << a.body;
  return j;
}

class FunctionVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir("lode-fnvm");
    env_ = "TMPDIR=" + ShellQuote(*dir_ / "tmp") + " LODE_KEYS=" + ShellQuote(*dir_ / "keys") +
           " LODE_STORE=dir://" + ShellQuote(*dir_ / "store") + " ";
    fs::create_directories(*dir_ / "tmp");
    std::string rootfs = CachedCurlRootfs(), node_rootfs = CachedNodeRootfs();
    if (rootfs.empty() || node_rootfs.empty()) return;
    WriteOciLayout(*dir_ / "oci", BootstrapFunctionImage(rootfs), TestCompression::kNone);
    WriteOciLayout(*dir_ / "node-oci", NodeFunctionImage(node_rootfs), TestCompression::kNone);
    Lode("key create acme");
    Lode("push " + ShellQuote(*dir_ / "oci") + " --tenant acme --tag boot");
    Lode("push " + ShellQuote(*dir_ / "node-oci") + " --tenant acme --tag node");
    Lode("function create vmhello --vm --image boot --tenant acme --timeout 30 --env GREETING=hi");
    Lode("function create vmoffline --vm --image boot --tenant acme --timeout 30 --network none");
    Lode("function create vmnode --vm --image node --tenant acme --timeout 30 --memory 256");
    Lode("function create vmsnap --vm --snapstart --image boot --tenant acme --timeout 30");
    Lode(
        "function create vmnodesnap --vm --snapstart --image node --tenant acme --timeout 30 "
        "--memory 256");
    Lode("function create vmtamper --vm --snapstart --image boot --tenant acme --timeout 30");
    Lode(
        "function create vmsnaperr --vm --snapstart --image boot --tenant acme --timeout 30 "
        "--env RESTORE_ERROR=1");
    // Under TCG a VM boots in seconds, not milliseconds: a long init timeout.
    host_ = new ServeProcess(dir_->path(), env_,
                             "--tenant acme --keep-warm 10m --init-timeout 120 --cache " +
                                 ShellQuote(*dir_ / "cache") + " --log-dir " +
                                 ShellQuote(*dir_ / "logs"));
    if (!host_->Start()) ADD_FAILURE() << "lode serve did not start: " << host_->log();
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_ != nullptr && host_->pid() > 0) << "setup failed"; }

  static CommandResult Lode(const std::string& args) {
    CommandResult r = RunCommand(env_ + LodeBinary() + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r;
  }
  static HttpAnswer Invoke(const std::string& function, const json& event) {
    return host_->Invoke(function, event.dump());
  }
  static json ReportOf(const std::string& request_id) {
    std::ifstream in(*dir_ / "logs/reports.jsonl");
    for (std::string line; std::getline(in, line);) {
      json r = json::parse(line, nullptr, false);
      if (r.is_object() && r["request_id"] == request_id) return r;
    }
    return json();
  }

  // `lode function publish NAME --json`.
  static json Publish(const std::string& name, const std::string& options = "") {
    // In a subshell: RunCommand's own 2>&1 would win over ours.
    CommandResult r = RunCommand("(" + env_ + LodeBinary() + " function publish " + name + " " +
                                 options + " --tenant acme --json --cache " +
                                 ShellQuote(*dir_ / ("cache-publish-" + name)) + " 2>" +
                                 ShellQuote(*dir_ / ("publish-" + name + ".txt")) + ")");
    EXPECT_EQ(r.exit_code, 0) << ReadAll(*dir_ / ("publish-" + name + ".txt"));
    return json::parse(r.output, nullptr, false);
  }

  static inline ScratchDir* dir_ = nullptr;
  static inline std::string env_;
  static inline ServeProcess* host_ = nullptr;
};

TEST_F(FunctionVmTest, TheBootstrapRuntimeAnswersFromAWarmMicroVm) {
  json event = {{"greeting", "hello"}, {"n", 42}};
  HttpAnswer first = Invoke("vmhello", event);
  ASSERT_EQ(first.status, 200) << first.body << host_->log();
  json a = Json(first);
  EXPECT_EQ(a["event"], event);
  EXPECT_EQ(a["request_id"], first.Header("x-amzn-requestid"));
  json cold = ReportOf(first.Header("x-amzn-requestid"));
  EXPECT_EQ(cold["start"], "cold");
  EXPECT_GT(cold["max_memory_used_mb"].get<int>(), 0);
  HttpAnswer second = Invoke("vmhello", {{"n", 43}});
  json b = Json(second);
  EXPECT_EQ(b["sandbox"], a["sandbox"]) << "the warm VM served the second invocation";
  EXPECT_EQ(b["count"].get<int>(), a["count"].get<int>() + 1);
  EXPECT_EQ(ReportOf(second.Header("x-amzn-requestid"))["start"], "warm");

  json env = Json(Invoke("vmhello", {{"action", "env"}}));
  EXPECT_EQ(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(env["AWS_LAMBDA_FUNCTION_NAME"], "vmhello");
  EXPECT_EQ(env["GREETING"], "hi");
  EXPECT_NE(env["PATH"].get<std::string>().find("/usr/bin"), std::string::npos);  // the image's

  HttpAnswer failed = Invoke("vmhello", {{"action", "error"}});
  EXPECT_EQ(failed.Header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(Json(failed)["errorType"], "Handler.Failed");
  EXPECT_EQ(Json(Invoke("vmhello", {{"action", "echo"}}))["sandbox"], a["sandbox"]);
}

// AWS's own runtime interface client, unchanged, in a microVM.
TEST_F(FunctionVmTest, NodeRuntimeInterfaceClientRunsUnchanged) {
  HttpAnswer first = Invoke("vmnode", {{"x", 1}});
  ASSERT_EQ(first.status, 200) << first.body << host_->log();
  json a = Json(first);
  EXPECT_EQ(a["event"], json({{"x", 1}}));
  EXPECT_EQ(a["request_id"], first.Header("x-amzn-requestid"));
  EXPECT_EQ(a["function_arn"], "arn:aws:lambda:us-east-1:acme:function:vmnode");
  json b = Json(Invoke("vmnode", {{"x", 2}}));
  EXPECT_EQ(b["sandbox"], a["sandbox"]);
  EXPECT_EQ(b["count"], 2);
  HttpAnswer thrown = Invoke("vmnode", {{"action", "error"}});
  EXPECT_EQ(thrown.Header("x-amz-function-error"), "Unhandled");
  EXPECT_EQ(Json(thrown)["errorMessage"], "the handler failed on purpose");
}

// Outbound network through the sandbox's namespace; the address a guest
// uses for its host is that namespace, where nothing listens (no other
// sandbox's API, nothing of the host's); --network none has no way out.
TEST_F(FunctionVmTest, OutboundNetworkUnlessNoneAndNothingOfTheHost) {
  CommandResult ip =
      RunCommand("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1");
  std::string host_ip = ip.output.substr(0, ip.output.find('\n'));
  ASSERT_FALSE(host_ip.empty());
  int port = FreeLoopbackPorts();
  ScratchDir web("lode-web");
  WriteAll(web / "hello.txt", "from the host");
  pid_t server =
      StartCommand("exec python3 -m http.server " + std::to_string(port) +
                   " --bind 0.0.0.0 --directory " + ShellQuote(web.path()) + " >/dev/null 2>&1");
  for (int i = 0; i < 100 && !LoopbackAccepts(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string url = "http://" + host_ip + ":" + std::to_string(port) + "/hello.txt";
  json fetched = Json(Invoke("vmhello", {{"action", "fetch"}, {"url", url}}));
  EXPECT_EQ(fetched["body"], "from the host") << fetched;
  json gateway =
      Json(Invoke("vmhello", {{"action", "fetch"},
                              {"url", "http://10.0.2.2:" + std::to_string(port) + "/hello.txt"}}));
  EXPECT_TRUE(gateway.contains("failed")) << gateway;
  json api = Json(Invoke("vmhello", {{"action", "fetch"}, {"url", "http://10.0.2.2:9001/"}}));
  EXPECT_TRUE(api.contains("failed")) << api;
  json offline = Json(Invoke("vmoffline", {{"action", "fetch"}, {"url", url}}));
  EXPECT_TRUE(offline.contains("failed")) << offline;
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
}

// SnapStart: publish runs the runtime's init and its before-snapshot hook
// once; every cold start restores the snapshot and runs the after-restore
// hook; concurrent restores are clones with random state of their own.
TEST_F(FunctionVmTest, SnapStartRestoresThroughTheRuntimesHooks) {
  json published = Publish("vmsnap");
  ASSERT_TRUE(published.is_object()) << ReadAll(*dir_ / "publish-vmsnap.txt");
  EXPECT_EQ(published["runtime_hooks"], true) << published;
  EXPECT_GT(published["snapshot_bytes"].get<uint64_t>(), 0u);
  json listed = json::parse(Lode("function ls --tenant acme --json").output, nullptr, false);
  bool shown = false;
  for (const json& f : listed) {
    if (f.value("name", "") != "vmsnap") continue;
    shown = f["snapshot"]["ref"] == published["snapshot"] &&
            f["snapshot"]["bytes"] == published["snapshot_bytes"];
  }
  EXPECT_TRUE(shown) << listed.dump();

  std::future<HttpAnswer> a = std::async(std::launch::async, [] {
    return Invoke("vmsnap", {{"n", 1}});
  });
  std::future<HttpAnswer> b = std::async(std::launch::async, [] {
    return Invoke("vmsnap", {{"n", 2}});
  });
  HttpAnswer first = a.get(), second = b.get();
  ASSERT_EQ(first.status, 200) << first.body << host_->log();
  ASSERT_EQ(second.status, 200) << second.body;
  json ja = Json(first), jb = Json(second);
  for (const json& j : {ja, jb}) {
    EXPECT_EQ(j["before_snapshot"], 1) << j;  // ran once, at publish
    EXPECT_EQ(j["restores"], 1) << j;         // ran once, in this restore
    EXPECT_EQ(j["count"], 1) << j;
  }
  EXPECT_EQ(ja["sandbox"], jb["sandbox"]);  // one snapshot: what init made is shared
  EXPECT_NE(ja["random"], jb["random"]);    // but each clone was reseeded
  json report = ReportOf(first.Header("x-amzn-requestid"));
  EXPECT_EQ(report["start"], "restore") << report;
  EXPECT_GT(report["restore_duration_ms"].get<double>(), 0) << report;
  const json& memory = report["restore_loads"]["memory"];
  EXPECT_GT(memory["chunks_loaded"].get<uint64_t>(), 0u) << report;
  EXPECT_LT(memory["chunks_loaded"].get<uint64_t>(), memory["chunks_stored"].get<uint64_t>());
  EXPECT_NE(ReadAll(*dir_ / "logs/acme/vmsnap.log").find("\tRestore Loaded: memory "),
            std::string::npos);
  json env = Json(Invoke("vmsnap", {{"action", "env"}}));  // a warm one
  EXPECT_EQ(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "snap-start");
  json warm = Json(Invoke("vmsnap", {{"n", 3}}));
  EXPECT_EQ(warm["restores"], 1);
  EXPECT_GE(warm["count"].get<int>(), 2);

  // A host whose QEMU differs cannot restore the snapshot: it boots the
  // function instead, says so in the function's log and counts it.
  fs::create_directories(*dir_ / "other-qemu");
  WriteAll(*dir_ / "other-qemu/qemu-system-x86_64",
           "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'QEMU emulator version 99.0.0'; exit 0; }\n"
           "exec /usr/bin/qemu-system-x86_64 \"$@\"\n");
  fs::permissions(*dir_ / "other-qemu/qemu-system-x86_64", fs::perms::owner_all);
  fs::create_directories(*dir_ / "other-host");
  int metrics = FreeLoopbackPorts();
  {
    ServeProcess other(
        *dir_ / "other-host", "PATH=" + ShellQuote(*dir_ / "other-qemu") + ":$PATH " + env_,
        "--tenant acme --init-timeout 120 --cache " + ShellQuote(*dir_ / "cache-other") +
            " --log-dir " + ShellQuote(*dir_ / "other-logs") +
            " --metrics-listen 127.0.0.1:" + std::to_string(metrics));
    ASSERT_TRUE(other.Start()) << other.log();
    HttpAnswer booted = other.Invoke("vmsnap", json({{"n", 5}}).dump());
    ASSERT_EQ(booted.status, 200) << booted.body << other.log();
    EXPECT_EQ(Json(booted)["restores"], 0);  // booted: no restore happened
    EXPECT_NE(ReadAll(*dir_ / "other-logs/acme/vmsnap.log")
                  .find("SnapStart: the snapshot was taken on another VM"),
              std::string::npos);
    std::string text = HttpGet("http://127.0.0.1:" + std::to_string(metrics) + "/metrics").body;
    EXPECT_NE(text.find("lode_function_snapstart_fallbacks_total{function=\"acme/vmsnap\"} 1"),
              std::string::npos)
        << text;
  }

  // An update drops the snapshot: the next cold start boots.
  Lode("function update vmsnap --tenant acme --env CHANGED=1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the host's function cache
  HttpAnswer booted = Invoke("vmsnap", {{"n", 4}});
  ASSERT_EQ(booted.status, 200) << booted.body;
  EXPECT_EQ(ReportOf(booted.Header("x-amzn-requestid"))["start"], "cold");
  EXPECT_EQ(Json(booted)["restores"], 0);
}

// An after-restore hook that fails (restore/error) fails that start, and
// the invocation says why.
TEST_F(FunctionVmTest, ARestoreErrorFailsTheInvocation) {
  json published = Publish("vmsnaperr");
  ASSERT_TRUE(published.is_object()) << ReadAll(*dir_ / "publish-vmsnaperr.txt");
  HttpAnswer failed = Invoke("vmsnaperr", {{"n", 1}});
  EXPECT_EQ(failed.Header("x-amz-function-error"), "Unhandled") << failed.body;
  EXPECT_EQ(Json(failed)["errorType"], "Restore.Failed");
  json report = ReportOf(failed.Header("x-amzn-requestid"));
  EXPECT_EQ(report["start"], "restore");
  EXPECT_EQ(report["outcome"], "init_error");
}

// A runtime without hooks (AWS's Node.js client asks for its first event
// at once): the snapshot holds that request, and a restore answers it
// with the event. Published with a sample event, the pages a restore and
// its first invocation read are stored together: a restore loads a
// fraction of the memory chunks (without packing, about half of them:
// pages scattered over guest memory).
TEST_F(FunctionVmTest, ARuntimeWithoutHooksIsSnapshottedInItsFirstNext) {
  json published = Publish("vmnodesnap", "--sample-event '{\"sample\": true}'");
  ASSERT_TRUE(published.is_object()) << ReadAll(*dir_ / "publish-vmnodesnap.txt");
  EXPECT_EQ(published["runtime_hooks"], false) << published;
  EXPECT_GT(published["packed_bytes"].get<uint64_t>(), 0u) << published;
  HttpAnswer first = Invoke("vmnodesnap", {{"x", 1}});
  ASSERT_EQ(first.status, 200) << first.body << host_->log();
  json a = Json(first);
  EXPECT_EQ(a["event"], json({{"x", 1}}));
  EXPECT_EQ(a["request_id"], first.Header("x-amzn-requestid"));
  EXPECT_EQ(a["count"], 1) << "the sample event ran in a restore, not in the snapshot";
  json report = ReportOf(first.Header("x-amzn-requestid"));
  EXPECT_EQ(report["start"], "restore");
  const json& memory = report["restore_loads"]["memory"];
  EXPECT_LE(memory["chunks_loaded"].get<uint64_t>() * 4, memory["chunks_stored"].get<uint64_t>())
      << report;

  // Exported, the snapshot reads as the agent serves it: each packed page
  // in its place in guest memory (where the chunks hold zeros).
  std::string ref = published["snapshot"];
  json description =
      json::parse(Lode("inspect " + ref + " --tenant acme --json").output)["run_config"];
  const json& map = description["page_map"];
  ASSERT_FALSE(map.empty()) << description.dump().substr(0, 400);
  fs::path exported = *dir_ / "vmnodesnap.export";
  Lode("export " + ref + " --tenant acme -o " + ShellQuote(exported));
  std::ifstream in(exported, std::ios::binary);
  auto page = [&in](uint64_t index) {
    std::string bytes(4096, '\0');
    in.seekg(static_cast<std::streamoff>(index * 4096));
    in.read(bytes.data(), 4096);
    return bytes;
  };
  int nonzero = 0;
  for (const json& run : map) {
    std::string moved = page(run[0].get<uint64_t>()), stored = page(run[1].get<uint64_t>());
    EXPECT_EQ(moved, stored) << run;
    nonzero += moved != std::string(4096, '\0');
  }
  EXPECT_GT(nonzero, 0);
  in.close();
  fs::remove(exported);
  EXPECT_EQ(Json(Invoke("vmnodesnap", {{"x", 2}}))["count"], a["count"].get<int>() + 1);
}

// Damaged snapshot memory fails the start with its error: the host does
// not boot around it (only a snapshot it cannot run is booted around).
TEST_F(FunctionVmTest, ATamperedSnapshotFailsTheStartAndIsNotBootedAround) {
  json published = Publish("vmtamper");
  ASSERT_TRUE(published.is_object()) << ReadAll(*dir_ / "publish-vmtamper.txt");
  json snapshot = json::parse(
      Lode("inspect " + published["snapshot"].get<std::string>() + " --tenant acme --json --chunks")
          .output,
      nullptr, false);
  ASSERT_TRUE(snapshot.is_object());
  // Guest memory: in place, and the pages a restore reads, packed.
  const json& layout = snapshot["run_config"]["layout"];
  uint64_t chunk_size = snapshot["chunk_size"].get<uint64_t>();
  uint64_t packed_end =
      layout.value("packed_offset", uint64_t{0}) + layout.value("packed_bytes", uint64_t{0});
  ASSERT_GT(packed_end, 0u) << "publish stores the pages a restore reads together";
  uint64_t memory_chunks = (packed_end + chunk_size - 1) / chunk_size;
  fs::path chunks = fs::path(*dir_ / "store") / snapshot["root"].get<std::string>() / "chunks";
  std::map<fs::path, std::string> originals;
  for (uint64_t i = 0; i < memory_chunks; ++i) {
    std::string name = snapshot["chunk_names"][i];
    if (!name.empty() && fs::exists(chunks / name))
      originals[chunks / name] = ReadAll(chunks / name);
  }
  ASSERT_FALSE(originals.empty());
  for (const auto& [object, bytes] : originals) {
    std::string damaged = bytes;
    damaged[damaged.size() / 2] ^= 1;
    WriteAll(object, damaged);
  }
  // A host of its own: nothing of the snapshot in its caches.
  fs::create_directories(*dir_ / "tamper-host");
  HttpAnswer failed;
  {
    ServeProcess fresh(*dir_ / "tamper-host", env_,
                       "--tenant acme --init-timeout 120 --cache " +
                           ShellQuote(*dir_ / "cache-tamper") + " --log-dir " +
                           ShellQuote(*dir_ / "tamper-logs"));
    ASSERT_TRUE(fresh.Start()) << fresh.log();
    failed = fresh.Invoke("vmtamper", json({{"n", 1}}).dump());
  }
  for (const auto& [object, bytes] : originals) WriteAll(object, bytes);
  EXPECT_TRUE(failed.status != 200 || !failed.Header("x-amz-function-error").empty())
      << failed.body;
  EXPECT_NE(failed.body.find("reading the snapshot's memory failed"), std::string::npos)
      << failed.status << " " << failed.body;
  EXPECT_EQ(ReadAll(*dir_ / "tamper-logs/acme/vmtamper.log").find("booting instead"),
            std::string::npos);
}

}  // namespace
}  // namespace lode::testing
